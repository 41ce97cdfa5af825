#!/usr/bin/env bash
# From a fresh clone to a prepared dataset of the built-in chitchat corpus:
# creates .venv, installs deepqa, runs `deepqa prepare` (written to data/chitchat).
source "$(dirname "$0")/_venv.sh"
deepqa prepare "$@"
