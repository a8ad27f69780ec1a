#!/bin/bash
# Builds the libFuzzer targets with clang-14 (ASan+UBSan) and runs each for
# SECONDS on a scratch copy of its seed corpus. Prints one line per target:
#   fuzz <name>: ok (<execs> execs)   or   fuzz <name>: FAILED (...)
# Crash inputs are kept in build-fuzz/crashes/. usage: run-fuzzers.sh [SECONDS]
set -u
cd "$(dirname "$0")/.."
seconds=${1:-60}
dir=build-fuzz
setup=(meson setup)
[ -d "$dir" ] && setup+=(--reconfigure)
CC=clang-14 "${setup[@]}" "$dir" -Dfuzzing=true -Db_sanitize=address,undefined \
  -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null || { echo "fuzz setup: FAILED"; exit 1; }
ninja -C "$dir" >/dev/null || { echo "fuzz build: FAILED"; exit 1; }
mkdir -p "$dir/crashes"
status=0
for exe in "$dir"/fuzz/fuzz_*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  name=$(basename "$exe" | sed 's/^fuzz_//')
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$name/." "$work/" 2>/dev/null
  UBSAN_OPTIONS=halt_on_error=1 "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=25 -artifact_prefix="$dir/crashes/$name-" -print_final_stats=1 "$work" \
    > "$dir/$name.log" 2>&1
  rc=$?
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$dir/$name.log" | grep -oE '[0-9]+$')
  if [ $rc -eq 0 ]; then
    echo "fuzz $name: ok (${execs:-?} execs in ${seconds}s)"
  else
    echo "fuzz $name: FAILED (exit $rc; see $dir/$name.log)"
    grep -E "ERROR|SUMMARY" "$dir/$name.log" | head -5
    status=1
  fi
  rm -rf "$work"
done
exit $status
