#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv (exporter and runner) and run the exporter on
# this board; then `.venv/bin/runner --prompts examples/prompts.txt` runs prompts beside it.
# Extra arguments go to the exporter, e.g. scripts/start.sh --listen 127.0.0.1:19477 --process ollama
source "$(dirname "$0")/common.sh"
venv "[runner]"
exec "$VENV/bin/exporter" "$@"
