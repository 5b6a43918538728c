#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv and run the exporter on this board.
# Extra arguments go to the exporter, e.g. scripts/start.sh --listen 127.0.0.1:19477 --process ollama
source "$(dirname "$0")/common.sh"
venv ""
exec "$VENV/bin/exporter" "$@"
