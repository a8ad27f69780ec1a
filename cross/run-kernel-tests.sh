#!/bin/sh
# Cross-compiles the kernel tests for aarch64 (NEON tier + ref) and runs them
# under qemu-user. The kernels depend on nothing outside kernels/ and
# lib/core, so no aarch64 libraries are needed.
#   cross/run-kernel-tests.sh [build dir]     (default: build-aarch64-kernels)
#
# The int8 tests run on three emulated CPUs, one per instruction set of the
# neon tier's quantized products, and each run checks that the tier picked
# the set that CPU has (getauxval): max (dotprod + i8mm), cortex-a76
# (dotprod), cortex-a57 (ARMv8.0). The rest, the slow attention test among
# them, run once.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-build-aarch64-kernels}
cc=${AARCH64_CC:-aarch64-linux-gnu-gcc}
sysroot=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
mkdir -p "$out"
for t in test_kernels test_threadpool test_kquant test_moe test_attention; do
  "$cc" -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -DVLM_BUILD \
    -I"$src/include" -I"$src/lib" -I"$src/kernels" -I"$src/tests" \
    "$src/tests/kernels/$t.c" \
    "$src"/kernels/dispatch.c "$src"/kernels/threadpool.c "$src"/kernels/blas.c \
    "$src"/kernels/attention_blas.c \
    "$src"/kernels/ref/*.c "$src"/kernels/arm/*.c \
    "$src"/lib/core/error.c "$src"/lib/core/memory.c "$src"/lib/core/log.c \
    -lm -lpthread -o "$out/$t"
done

# run <cpu> <expected int8 set or -> <test>: the data folder is test_moe's
# argument, the other tests ignore it
run() {
  echo "== $3 on -cpu $1"
  if ! log=$(qemu-aarch64 -L "$sysroot" -cpu "$1" "$out/$3" "$src/tests/data" 2>&1); then
    printf '%s\n' "$log"
    exit 1
  fi
  printf '%s\n' "$log"
  if [ "$2" != - ] && ! printf '%s\n' "$log" | grep -q "tier neon (int8: $2)"; then
    echo "$3 on -cpu $1: the neon tier did not choose the $2 int8 set" >&2
    exit 1
  fi
}

for cpu_set in max:i8mm cortex-a76:dotprod cortex-a57:base; do
  for t in test_kernels test_kquant; do
    run "${cpu_set%%:*}" "${cpu_set#*:}" "$t"
  done
done
# VLM_NEON_INT8 caps the set on a CPU that has more
VLM_NEON_INT8=dotprod run max dotprod test_kquant
for t in test_threadpool test_moe test_attention; do
  run max - "$t"
done
