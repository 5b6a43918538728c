#!/usr/bin/env bash
# Real llama.cpp binaries (llama-server, llama-completion, llama-cli) for the tests that check our
# figures against the engine's own: built once from the llama.cpp tree vendored in the
# llama-cpp-python sdist (about 8 minutes on 2 cores) into a cache that later runs reuse.
# Prints the folder holding the binaries; exits non-zero (and the tests that need them skip,
# naming this script) when they cannot be built here.
source "$(dirname "$0")/common.sh"
VERSION=0.3.36  # vendors llama.cpp 0.5.0-dev: the facts in docs/metrics.md are this version's
# the flags are in the folder's name: binaries built without them (AMX kernels that crash) are not reused
TAG=""
[ -z "$(llama_cflags)" ] || TAG=-noamx
CACHE="${EDGEMETER_CACHE:-$HOME/.cache/edgemeter}/llama.cpp-$VERSION$TAG"
BINARIES=(llama-server llama-completion llama-cli)

have_all() { for b in "${BINARIES[@]}"; do [ -x "$CACHE/bin/$b" ] || return 1; done; }
if have_all; then echo "$CACHE/bin"; exit 0; fi
[ "${1:-}" = "--cached" ] && exit 1  # only say where they are, never build
for tool in cmake c++; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed to build llama.cpp" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building llama.cpp $VERSION binaries into $CACHE (about 8 minutes on 2 cores)" >&2
python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
  "llama-cpp-python==$VERSION" -d "$work" >&2
tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
src=$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)
llama_env cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF >"$work/cmake.log" 2>&1 \
  || { tail -20 "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" -j"$(nproc)" --target "${BINARIES[@]}" >"$work/build.log" 2>&1 \
  || { tail -20 "$work/build.log" >&2; exit 1; }
mkdir -p "$CACHE/bin.tmp"
for b in "${BINARIES[@]}"; do cp "$work/build/bin/$b" "$CACHE/bin.tmp/"; done
rm -rf "$CACHE/bin" && mv "$CACHE/bin.tmp" "$CACHE/bin"
echo "$CACHE/bin"
