#!/usr/bin/env bash
# Run the whole test suite: creates .venv if missing, installs deepqa with its test extras, runs pytest.
# Arguments pass through to pytest, e.g. `scripts/test.sh tests/unit -x`.
DEEPQA_EXTRAS=test source "$(dirname "$0")/_venv.sh"
exec python -m pytest "$@"
