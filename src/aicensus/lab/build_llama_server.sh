#!/usr/bin/env bash
# Build llama.cpp once, from the sources vendored in the llama-cpp-python sdist on
# PyPI: the `llama-server` binary AND the shared libraries (libllama, libggml*,
# libmtmd) that a lib-less `llama-cpp-python` wheel loads through
# $LLAMA_CPP_LIB_PATH. Both go under the user cache directory keyed by the sdist
# version and a layout suffix ("-shared": an older static-only cache is rebuilt once):
#   <cache>/aicensus/llama-server/<version>-shared/bin/llama-server
#   <cache>/aicensus/llama-server/<version>-shared/lib/lib*.so*
# The binary finds its libraries through an RPATH of $ORIGIN/../lib.
# Prints the binary's path on success.
#
# usage: build_llama_server.sh [VERSION]
set -euo pipefail

version="${1:-${AICENSUS_LLAMA_CPP_PYTHON_VERSION:-0.3.36}}"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/aicensus/llama-server/$version-shared"
binary="$cache_root/bin/llama-server"
libdir="$cache_root/lib"

if [ -x "$binary" ] && [ -e "$libdir/libllama.so" ] && "$binary" --version >/dev/null 2>&1; then
    echo "$binary"
    exit 0
fi

for tool in cmake c++ python3; do
    command -v "$tool" >/dev/null || { echo "build_llama_server: '$tool' is required" >&2; exit 2; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "build_llama_server: fetching llama-cpp-python==$version sdist" >&2
# --no-binary for llama-cpp-python only: its build tools (scikit-build-core...) as wheels.
python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python \
    "llama-cpp-python==$version" -d "$work/sdist" >&2
tar -xzf "$work"/sdist/llama_cpp_python-*.tar.gz -C "$work"
src="$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

echo "build_llama_server: configuring (this takes about 10 minutes on 2 cores)" >&2
# $ORIGIN/../lib for bin/llama-server, $ORIGIN for the libraries' links to each other.
cmake -S "$src" -B "$work/build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=ON \
    -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON \
    '-DCMAKE_INSTALL_RPATH=$ORIGIN/../lib;$ORIGIN' \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
    -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF >&2
cmake --build "$work/build" --target llama-server llama mtmd -j "$(nproc)" >&2

# Stage next to the cache and swap in, so a half-copied cache is never seen as done.
stage="$cache_root.tmp.$$"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib"
cp "$work/build/bin/llama-server" "$stage/bin/"
find "$work/build" -name 'lib*.so*' \( -type f -o -type l \) -exec cp -P {} "$stage/lib/" \;
[ -e "$stage/lib/libllama.so" ] || { echo "build_llama_server: no libllama.so built" >&2; exit 1; }
rm -rf "$cache_root"
mv "$stage" "$cache_root"
"$binary" --version >/dev/null 2>&1 || { echo "build_llama_server: $binary does not run" >&2; exit 1; }
echo "$binary"
