#!/bin/bash
# Builds libvlm and runs every test suite: the C tests (unit, io, image,
# model, text, abi, fuzz corpus replay) in a normal build and again under
# ASan+UBSan, a short libFuzzer run per target when clang-14 is present, and
# the Python and Swift binding tests when those exist. Ends with the line
#   tests: N passed, N failed, N skipped
# summed over every suite; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
passed=0 failed=0 skipped=0
FUZZ_SECONDS=${FUZZ_SECONDS:-60}

count_meson() {  # reads a meson test log summary from $1
  local ok fail skip tout xpass
  ok=$(awk '/^Ok:/ {print $2}' "$1" | tail -1)
  fail=$(awk '/^Fail:/ {print $2}' "$1" | tail -1)
  xpass=$(awk '/^Unexpected Pass:/ {print $3}' "$1" | tail -1)
  tout=$(awk '/^Timeout:/ {print $2}' "$1" | tail -1)
  skip=$(awk '/^Skipped:/ {print $2}' "$1" | tail -1)
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0} + ${xpass:-0} + ${tout:-0}))
  skipped=$((skipped + ${skip:-0}))
}

run_meson_suite() {  # name, build dir, meson options...
  local name=$1 dir=$2
  shift 2
  echo "== $name =="
  local setup=(meson setup)
  [ -d "$dir" ] && setup+=(--reconfigure)
  if ! "${setup[@]}" "$dir" "$@" >"$dir.setup.log" 2>&1 \
     || ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
    cat "$dir.setup.log" "$dir.build.log" 2>/dev/null | tail -40
    echo "$name: build failed"
    failed=$((failed + 1))
    return
  fi
  meson test -C "$dir" --print-errorlogs --num-processes 2 >"$dir.test.log" 2>&1
  grep -E "^ *[0-9]+/[0-9]+ " "$dir.test.log" | grep -vE " OK | SKIP " || true
  tail -8 "$dir.test.log"
  count_meson "$dir.test.log"
}

run_meson_suite "C tests" build
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  run_meson_suite "C tests under ASan+UBSan" build-asan -Db_sanitize=address,undefined -Db_lundef=false

if command -v clang-14 >/dev/null && [ "$FUZZ_SECONDS" -gt 0 ]; then
  echo "== fuzzing, ${FUZZ_SECONDS}s per target =="
  if fuzz/run-fuzzers.sh "$FUZZ_SECONDS" > build-fuzz.log 2>&1; then :; fi
  cat build-fuzz.log | grep -E "^fuzz " || true
  passed=$((passed + $(grep -c '^fuzz .*: ok' build-fuzz.log)))
  failed=$((failed + $(grep -c '^fuzz .*: FAILED' build-fuzz.log)))
else
  echo "== fuzzing skipped (no clang-14 or FUZZ_SECONDS=0) =="
fi

if [ -d bindings/python/tests ]; then
  echo "== Python bindings =="
  VLM_LIBRARY="$root/build/libvlm.so" python3 -m pytest -q bindings/python/tests \
    > build-python.log 2>&1
  tail -3 build-python.log
  line=$(grep -E "(passed|failed|skipped|error)" build-python.log | tail -1)
  p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
  f=$(echo "$line" | grep -oE '[0-9]+ (failed|error)' | grep -oE '[0-9]+' | paste -sd+ | bc 2>/dev/null)
  s=$(echo "$line" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
  [ -z "$line" ] && failed=$((failed + 1))
fi

if [ -f bindings/swift/Package.swift ] && command -v swift >/dev/null; then
  echo "== Swift bindings =="
  (cd bindings/swift && swift test 2>&1) > build-swift.log
  tail -3 build-swift.log
  line=$(grep -E "Executed [0-9]+ tests?, with [0-9]+ failures?" build-swift.log | tail -1)
  n=$(echo "$line" | grep -oE 'Executed [0-9]+' | grep -oE '[0-9]+')
  f=$(echo "$line" | grep -oE 'with [0-9]+' | grep -oE '[0-9]+')
  s=$(grep -oE '[0-9]+ tests? skipped' build-swift.log | tail -1 | grep -oE '^[0-9]+')
  [ -z "$line" ] && { failed=$((failed + 1)); n=0; f=0; }
  passed=$((passed + ${n:-0} - ${f:-0} - ${s:-0})); failed=$((failed + ${f:-0}))
  skipped=$((skipped + ${s:-0}))
fi

echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
