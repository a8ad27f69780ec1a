#!/bin/sh
# Compares the built library's ABI with the committed baseline (abi/libvlm.abi,
# made by abidw for the last release). abidiff's exit status is a bit field:
# 4 = changes, 8 = incompatible changes. Additions pass; breaks fail.
# usage: abi_check.sh LIB BASELINE INCLUDE_DIR
set -u
lib=$1 baseline=$2 inc=$3
abidiff --headers-dir2 "$inc" --no-added-syms "$baseline" "$lib"
rc=$?
if [ $((rc & 8)) -ne 0 ] || [ $((rc & 1)) -ne 0 ] || [ $((rc & 2)) -ne 0 ]; then
  echo "ABI check failed (abidiff exit $rc): an incompatible change to the public ABI."
  echo "If it is intended, bump the soversion and regenerate abi/libvlm.abi (see abi/README.md)."
  exit 1
fi
echo "ABI compatible with $(basename "$baseline") (abidiff exit $rc)"
