#!/usr/bin/env bash
# Everything the tests need on a fresh machine, then the tests: Debian's prometheus (promtool,
# and the server for later tests) and prometheus-node-exporter (the reference the tests and
# benchmark compare with), the .venv with test extras, ruff, pytest.
source "$(dirname "$0")/common.sh"
apt_install promtool prometheus
apt_install prometheus-node-exporter prometheus-node-exporter
apt_install prometheus-pushgateway prometheus-pushgateway
venv "[test,runner]"
# real llama.cpp binaries for the few tests that compare with the engine's own figures: built once
# (about 8 minutes) into a cache; if they cannot be built here, those tests skip and say why
if bin=$(bash "$ROOT/scripts/llama_binaries.sh"); then export EDGEMETER_LLAMA_BIN="$bin"; else
  echo "warning: llama.cpp binaries not built; tests marked llama_binaries will skip" >&2; fi
cd "$ROOT"
"$VENV/bin/ruff" check edgemeter exporter runner tests benchmarks grafana examples
"$VENV/bin/python" -m pytest "$@"
