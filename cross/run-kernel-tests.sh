#!/bin/sh
# Cross-compiles the kernel tests for aarch64 (NEON tier + ref) and runs them
# under qemu-user. The kernels depend on nothing outside kernels/ and
# lib/core, so no aarch64 libraries are needed.
#   cross/run-kernel-tests.sh [build dir]     (default: build-aarch64-kernels)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-build-aarch64-kernels}
cc=${AARCH64_CC:-aarch64-linux-gnu-gcc}
sysroot=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
mkdir -p "$out"
for t in test_kernels test_threadpool test_kquant test_moe test_attention; do
  "$cc" -std=c11 -O2 -Wall -Wextra -D_GNU_SOURCE -DVLM_BUILD \
    -I"$src/include" -I"$src/lib" -I"$src/kernels" -I"$src/tests" \
    "$src/tests/kernels/$t.c" \
    "$src"/kernels/dispatch.c "$src"/kernels/threadpool.c "$src"/kernels/blas.c \
    "$src"/kernels/attention_blas.c \
    "$src"/kernels/ref/*.c "$src"/kernels/arm/*.c \
    "$src"/lib/core/error.c "$src"/lib/core/memory.c "$src"/lib/core/log.c \
    -lm -lpthread -o "$out/$t"
  # the data folder is test_moe's argument; the other tests ignore it
  qemu-aarch64 -L "$sysroot" "$out/$t" "$src/tests/data"
done
