#!/usr/bin/env bash
# The main job on a fresh machine: install what is needed, bring the stack up (Docker when an
# engine runs here, Debian's Prometheus and Pushgateway natively otherwise), run the prompts of
# examples/prompts.txt on the embedded llama.cpp model, and say where to look.
# Extra arguments go to the runner, e.g. scripts/start.sh --repeat 3 --max-tokens 64
source "$(dirname "$0")/common.sh"
venv "[runner]"
cd "$ROOT"
export EXPORTER_PORT=${EXPORTER_PORT:-19477}  # scripts/stack.sh reads it too
if command -v docker >/dev/null && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  MODE=docker
  if [ -z "${GRAFANA_ADMIN_PASSWORD:-}" ]; then
    mkdir -p .stack
    [ -s .stack/grafana-admin-password ] || python3 -c "import secrets; print(secrets.token_urlsafe(12))" >.stack/grafana-admin-password
    GRAFANA_ADMIN_PASSWORD=$(cat .stack/grafana-admin-password)
  fi
  export GRAFANA_ADMIN_PASSWORD
  docker compose up -d --build
  PROMETHEUS_URL=http://127.0.0.1:9090
  PUSHGATEWAY_URL=http://127.0.0.1:9091
else
  MODE=native
  bash scripts/stack.sh up
  PROMETHEUS_URL=http://127.0.0.1:${PROMETHEUS_PORT:-19090}
  PUSHGATEWAY_URL=http://127.0.0.1:${PUSHGATEWAY_PORT:-19091}
fi

"$VENV/bin/runner" --prompts examples/prompts.txt --pushgateway "$PUSHGATEWAY_URL" \
  --exporter-url "http://127.0.0.1:$EXPORTER_PORT" "$@" && status=0 || status=$?

latest=$(ls -t results/*.jsonl 2>/dev/null | head -n 1)
echo
echo "Where to look:"
if [ "$MODE" = docker ]; then
  echo "  Grafana:     http://$(hostname -I 2>/dev/null | awk '{print $1}'):3000  (admin / password in .stack/grafana-admin-password or \$GRAFANA_ADMIN_PASSWORD)"
else
  echo "  Grafana:     not installed natively: see README 'Grafana without Docker' (dashboards in grafana/)"
fi
echo "  Prometheus:  $PROMETHEUS_URL  (try: edge_llm_output_tokens_per_second)"
echo "  Exporter:    http://127.0.0.1:$EXPORTER_PORT/metrics"
echo "  Results:     ${latest:-results/}  (one JSON line per prompt) and its .meta.json"
echo "  More prompts: .venv/bin/runner --prompts FILE --pushgateway $PUSHGATEWAY_URL --exporter-url http://127.0.0.1:$EXPORTER_PORT"
run_id=$(basename "${latest:-RUN_ID.jsonl}" .jsonl)
echo "  CSV export:  .venv/bin/runner export --prometheus $PROMETHEUS_URL --run $run_id --out $run_id.csv"
[ "$MODE" = native ] && echo "  Stop:        ${STACK_DIR:+STACK_DIR=$STACK_DIR }bash scripts/stack.sh down"
exit "$status"
