#!/usr/bin/env bash
# Prepare the dataset if it is missing, then train. Arguments pass through to `deepqa train`, e.g.
#   scripts/start_training.sh --profile quick
#   scripts/start_training.sh --set model.type=transformer --run-name my-transformer
#   scripts/start_training.sh --resume save/latest
# The last line printed is the run directory. This script never stops other processes.
source "$(dirname "$0")/_venv.sh"
exec deepqa train --prepare-if-missing "$@"
