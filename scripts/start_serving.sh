#!/usr/bin/env bash
# Serve a trained run over HTTP: the newest run (save/latest) on 127.0.0.1:8000 unless told otherwise.
#   scripts/start_serving.sh                                  # http://127.0.0.1:8000/
#   scripts/start_serving.sh --run save/my-run --host 0.0.0.0 --port 9000
# Arguments pass through to `deepqa serve`.
source "$(dirname "$0")/_venv.sh"
exec deepqa serve "$@"
