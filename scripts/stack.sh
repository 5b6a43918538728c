#!/usr/bin/env bash
# The stack without Docker: Debian's Prometheus and Pushgateway plus our exporter, on 127.0.0.1,
# with prometheus/prometheus.yml and its rules, data under $STACK_DIR (default .stack).
#   scripts/stack.sh up | down | status
# Environment: STACK_DIR, PROMETHEUS_PORT (19090), PUSHGATEWAY_PORT (19091), EXPORTER_PORT (19477),
# (not 9090/9091: Debian starts its own prometheus and pushgateway services there),
# EXPORTER_ARGS (more exporter flags, e.g. "--process ollama"), RETENTION (15d).
source "$(dirname "$0")/common.sh"
STACK_DIR=$(realpath -m "${STACK_DIR:-$ROOT/.stack}")
PROMETHEUS_PORT=${PROMETHEUS_PORT:-19090}
PUSHGATEWAY_PORT=${PUSHGATEWAY_PORT:-19091}
EXPORTER_PORT=${EXPORTER_PORT:-19477}
RETENTION=${RETENTION:-15d}

pidfile() { echo "$STACK_DIR/$1.pid"; }
alive() { [ -f "$(pidfile "$1")" ] && kill -0 "$(cat "$(pidfile "$1")")" 2>/dev/null; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() { # start NAME PORT CMD...: in the background, logging to $STACK_DIR/NAME.log
  local name=$1 port=$2; shift 2
  if alive "$name"; then echo "$name already running (pid $(cat "$(pidfile "$name")"))"; return; fi
  if listening "$port"; then  # another stack's, or Debian's own service: ours would die, and the
    # checks below would be answered by that one
    echo "error: 127.0.0.1:$port is already in use: stop what listens there, or set another port for $name" >&2
    exit 1
  fi
  nohup "$@" >"$STACK_DIR/$name.log" 2>&1 &
  echo $! >"$(pidfile "$name")"
}

wait_http() { # wait_http NAME URL: until it answers, or fail with the log's tail
  local i
  for i in $(seq 1 100); do
    alive "$1" || break
    curl -fsS -o /dev/null "$2" 2>/dev/null && alive "$1" && return 0
    sleep 0.1
  done
  echo "error: $1 did not start; last lines of $STACK_DIR/$1.log:" >&2
  tail -n 5 "$STACK_DIR/$1.log" >&2
  exit 1
}

up() {
  apt_install prometheus prometheus
  apt_install prometheus-pushgateway prometheus-pushgateway
  command -v curl >/dev/null || apt_install curl curl
  [ -x "$VENV/bin/exporter" ] || venv "[runner]"
  mkdir -p "$STACK_DIR/tsdb"
  ln -sfn "$ROOT/prometheus/rules" "$STACK_DIR/rules"
  sed -e "s/exporter:19477/127.0.0.1:$EXPORTER_PORT/" -e "s/pushgateway:9091/127.0.0.1:$PUSHGATEWAY_PORT/" \
      -e "s/localhost:9090/127.0.0.1:$PROMETHEUS_PORT/" "$ROOT/prometheus/prometheus.yml" >"$STACK_DIR/prometheus.yml"
  # shellcheck disable=SC2086  # EXPORTER_ARGS is a list of flags
  start exporter "$EXPORTER_PORT" "$VENV/bin/exporter" --listen "127.0.0.1:$EXPORTER_PORT" ${EXPORTER_ARGS:-}
  start pushgateway "$PUSHGATEWAY_PORT" prometheus-pushgateway --web.listen-address="127.0.0.1:$PUSHGATEWAY_PORT" \
      --persistence.file="$STACK_DIR/pushgateway.db"
  start prometheus "$PROMETHEUS_PORT" prometheus --config.file="$STACK_DIR/prometheus.yml" --storage.tsdb.path="$STACK_DIR/tsdb" \
      --storage.tsdb.retention.time="$RETENTION" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
      --web.enable-remote-write-receiver --web.enable-admin-api
  wait_http exporter "http://127.0.0.1:$EXPORTER_PORT/metrics"
  wait_http pushgateway "http://127.0.0.1:$PUSHGATEWAY_PORT/-/ready"
  wait_http prometheus "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
  status
}

down() {
  local name pid i
  for name in prometheus pushgateway exporter; do
    alive "$name" || { rm -f "$(pidfile "$name")"; continue; }
    pid=$(cat "$(pidfile "$name")")
    kill "$pid"
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$(pidfile "$name")"
    echo "stopped $name"
  done
}

status() {
  local name
  for name in exporter pushgateway prometheus; do
    if alive "$name"; then echo "$name: running (pid $(cat "$(pidfile "$name")"))"; else echo "$name: stopped"; fi
  done
  echo "Prometheus:  http://127.0.0.1:$PROMETHEUS_PORT"
  echo "Pushgateway: http://127.0.0.1:$PUSHGATEWAY_PORT"
  echo "Exporter:    http://127.0.0.1:$EXPORTER_PORT/metrics"
  echo "Data:        $STACK_DIR"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/stack.sh up|down|status" >&2; exit 2 ;;
esac
