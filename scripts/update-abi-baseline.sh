#!/bin/sh
# Regenerates abi/libvlm.abi from a fresh build (see abi/README.md).
set -eu
cd "$(dirname "$0")/.."
meson setup build-abi -Dtests=false -Dbuildtype=debugoptimized >/dev/null 2>&1 || meson setup --reconfigure build-abi -Dtests=false >/dev/null
ninja -C build-abi >/dev/null
abidw --headers-dir include --drop-private-types --exported-interfaces-only \
  --no-corpus-path --no-comp-dir-path --short-locs --no-elf-needed \
  --out-file abi/libvlm.abi build-abi/libvlm.so
echo "abi/libvlm.abi updated ($(grep -c '<elf-symbol ' abi/libvlm.abi) symbols)"
