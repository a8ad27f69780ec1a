#!/bin/sh
# Compares the built library's ABI with the committed baseline (abi/libvlm.abi).
# Both sides are described by abidw with the same options (those of
# scripts/update-abi-baseline.sh), then compared by abidiff, whose exit status
# is a bit field: 4 = the ABI changed, 8 = incompatibly. Added functions are
# ignored; any other change fails, because abidiff does not call every break
# incompatible (a widened return type only sets 4). Appending a field to a
# size-prefixed struct is compatible by design but also shows: regenerate the
# baseline in the same commit, so the change is deliberate and reviewed.
# usage: abi_check.sh LIB BASELINE INCLUDE_DIR
set -u
lib=$1 baseline=$2 inc=$3
current=$(mktemp)
trap 'rm -f "$current"' EXIT
abidw --headers-dir "$inc" --drop-private-types --exported-interfaces-only \
  --no-corpus-path --no-comp-dir-path --short-locs --no-elf-needed \
  --out-file "$current" "$lib" || { echo "abidw failed on $lib"; exit 1; }
abidiff --no-added-syms "$baseline" "$current"
rc=$?
if [ $rc -ne 0 ]; then
  echo "ABI check failed (abidiff exit $rc): the public ABI differs from $(basename "$baseline")."
  echo "If intended: bump the soversion for a break, then run scripts/update-abi-baseline.sh (abi/README.md)."
  exit 1
fi
echo "ABI identical to $(basename "$baseline") apart from added functions"
