# Sourced by the other scripts: create .venv with Python 3.11 if missing, then install deepqa into it.
# Usage: source scripts/_venv.sh; set DEEPQA_EXTRAS=test first to install the test extras too.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ ! -x .venv/bin/python ]; then
    PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo "deepqa needs Python 3.11; set PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    echo "creating .venv with $("$PYTHON" --version)" >&2
    "$PYTHON" -m venv .venv
fi
EXTRAS="${DEEPQA_EXTRAS:-}"
echo "installing deepqa${EXTRAS:+[$EXTRAS]} and its dependencies into .venv (the first time takes a few minutes)" >&2
# pip warns once per package about index folders that some machines configure and lack; those lines are noise.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}" 2>&1 \
    | { grep -v "^WARNING: Location '.*' is ignored" || true; } >&2
export PATH="$ROOT/.venv/bin:$PATH"
