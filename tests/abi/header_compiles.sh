#!/bin/sh
# vlm.h must compile on its own as C99, C11 and C++17 without a warning.
# usage: header_compiles.sh INCLUDE_DIR
set -eu
inc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include "vlm.h"\nint main(void) { return vlm_version_number() == VLM_VERSION_NUMBER ? 0 : 1; }\n' > "$tmp/t.c"
cp "$tmp/t.c" "$tmp/t.cpp"
fail=0
for std in c99 c11; do
  ${CC:-cc} -std=$std -Wall -Wextra -Wpedantic -Werror -I"$inc" -c "$tmp/t.c" -o "$tmp/t.o" \
    || { echo "vlm.h fails as $std"; fail=1; }
done
${CXX:-c++} -std=c++17 -Wall -Wextra -Wpedantic -Werror -I"$inc" -c "$tmp/t.cpp" -o "$tmp/t.o" \
  || { echo "vlm.h fails as c++17"; fail=1; }
[ $fail -eq 0 ] && echo "vlm.h compiles as c99, c11, c++17"
exit $fail
