#!/usr/bin/env bash
# From a fresh clone to a chatbot you can talk to: creates .venv, installs deepqa, prepares the built-in
# chitchat corpus, trains the `quick` profile (generator, then ranker: at most 18 minutes on 2 CPU
# cores), then serves it (replies in the hybrid mode: the ranker chooses among generated and retrieved) on
# http://127.0.0.1:8000/ until Ctrl-C. Extra arguments go to `deepqa train`.
source "$(dirname "$0")/_venv.sh"
deepqa prepare --profile quick
run_dir=$(deepqa train --profile quick "$@" | tee /dev/stderr | tail -n 1)
cat <<EOT

Chat page:  http://127.0.0.1:8000/
API:        curl -s http://127.0.0.1:8000/api/v1/question -H 'Content-Type: application/json' \\
                 -d '{"question": "how are you?"}'
EOT
exec deepqa serve --run "$run_dir"
