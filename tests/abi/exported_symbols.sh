#!/bin/sh
# The shared library exports exactly the symbols the version script lists,
# each declared VLM_API in vlm.h. usage: exported_symbols.sh LIB MAPFILE HEADER
set -eu
lib=$1 map=$2 header=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | grep -v '^VLM_' | sort -u > "$tmp/exported"
grep -oE '^[[:space:]]+vlm_[a-z0-9_]+;' "$map" | tr -d ' ;\t' | sort -u > "$tmp/listed"
tr '\n' ' ' < "$header" | grep -oE 'VLM_API[^;]*;' | grep -oE 'vlm_[a-z0-9_]+[[:space:]]*\(' \
  | tr -d ' (' | sort -u > "$tmp/declared"
status=0
if ! diff -u "$tmp/listed" "$tmp/exported"; then echo "exported symbols differ from $map"; status=1; fi
if ! diff -u "$tmp/declared" "$tmp/listed"; then echo "VLM_API declarations differ from $map"; status=1; fi
[ $status -eq 0 ] && echo "$(wc -l < "$tmp/exported") symbols exported, as listed and declared"
exit $status
