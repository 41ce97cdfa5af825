#!/usr/bin/env bash
# From a fresh clone to a trained chatbot: creates .venv, installs deepqa, prepares the built-in chitchat
# corpus and trains the `quick` profile (about 15 minutes on 2 CPU cores). Extra arguments go to `deepqa train`.
source "$(dirname "$0")/_venv.sh"
deepqa prepare --profile quick
deepqa train --profile quick "$@"
