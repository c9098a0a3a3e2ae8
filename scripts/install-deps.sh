#!/bin/sh
# Installs the Debian 12 packages freeact needs to build, test, fuzz and run its demo.
# Run as root on a fresh machine; safe to run again (apt-get skips what is there).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    build-essential cmake ninja-build pkg-config \
    llvm-19-dev llvm-19-tools clang-19 libclang-rt-19-dev libfuzzer-19-dev \
    libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata \
    libopenblas-dev liblapacke-dev zlib1g-dev libzstd-dev libedit-dev libxml2-dev \
    >/dev/null
