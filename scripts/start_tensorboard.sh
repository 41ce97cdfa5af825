#!/usr/bin/env bash
# TensorBoard over every run in save/ (or LOGDIR), on 127.0.0.1:6006 unless HOST / PORT say otherwise:
#   scripts/start_tensorboard.sh                 # http://127.0.0.1:6006
#   HOST=0.0.0.0 PORT=7000 scripts/start_tensorboard.sh save/
source "$(dirname "$0")/_venv.sh"
LOGDIR="${1:-save}"
mkdir -p "$LOGDIR"
echo "TensorBoard on http://${HOST:-127.0.0.1}:${PORT:-6006} for $LOGDIR" >&2
exec tensorboard --logdir "$LOGDIR" --host "${HOST:-127.0.0.1}" --port "${PORT:-6006}"
