#!/usr/bin/env bash
# Build llama.cpp's `llama-server` from the llama.cpp sources vendored in the
# llama-cpp-python sdist on PyPI, and cache the binary under the user cache
# directory keyed by the sdist version. Prints the binary's path on success.
#
# usage: build_llama_server.sh [VERSION]
set -euo pipefail

version="${1:-${AICENSUS_LLAMA_CPP_PYTHON_VERSION:-0.3.36}}"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/aicensus/llama-server/$version"
binary="$cache_root/bin/llama-server"

if [ -x "$binary" ] && "$binary" --version >/dev/null 2>&1; then
    echo "$binary"
    exit 0
fi

for tool in cmake c++ python3; do
    command -v "$tool" >/dev/null || { echo "build_llama_server: '$tool' is required" >&2; exit 2; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "build_llama_server: fetching llama-cpp-python==$version sdist" >&2
python3 -m pip download --quiet --no-deps --no-binary :all: \
    "llama-cpp-python==$version" -d "$work/sdist" >&2
tar -xzf "$work"/sdist/llama_cpp_python-*.tar.gz -C "$work"
src="$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

echo "build_llama_server: configuring (this takes about 10 minutes on 2 cores)" >&2
cmake -S "$src" -B "$work/build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
    -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF >&2
cmake --build "$work/build" --target llama-server -j "$(nproc)" >&2

mkdir -p "$cache_root/bin"
cp "$work/build/bin/llama-server" "$binary.tmp"
mv "$binary.tmp" "$binary"
echo "$binary"
