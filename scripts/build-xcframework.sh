#!/bin/bash
# Builds libvlm as an XCFramework for iOS apps: a static library for arm64
# devices and one for the arm64 simulator, each with vlm.h and a module map
# (module CVLM, the same name the SwiftPM package uses), so that Swift code
# can `import CVLM` and the VLM Swift sources compile unchanged in an Xcode
# project.
#
#   scripts/build-xcframework.sh [OUTPUT_DIR]      (default: build-xcframework)
#
# Needs macOS with Xcode (xcrun, xcodebuild, the iphoneos and iphonesimulator
# SDKs) and meson + ninja. It uses cross/ios-arm64.txt and
# cross/ios-simulator-arm64.txt, layering over them a generated machine file
# with this Mac's SDK paths (from `xcrun --sdk ... --show-sdk-path`) and
# $IOS_MIN (default 15.0). The dependencies (libjpeg-turbo, libpng, zlib,
# cJSON, oniguruma, utf8proc) are built from the wraps in subprojects/
# (--wrap-mode=forcefallback: nothing of the Mac's Homebrew leaks in); BLAS is
# Apple's Accelerate (-Dblas=accelerate). Each platform's archives are merged
# into one libvlm.a, so an app links a single library plus Accelerate (the
# module map asks for Accelerate itself).
#
# Result: OUTPUT_DIR/VLM.xcframework. Add it to an Xcode target, or to a
# SwiftPM manifest as .binaryTarget(name: "CVLM", path: ".../VLM.xcframework").
#
# Status: written without access to a Mac; see bindings/README.md for what was
# and was not verified.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -s)" != "Darwin" ]; then
  echo "build-xcframework.sh: an XCFramework needs macOS with Xcode (xcrun, xcodebuild);" \
       "this machine runs $(uname -s). Nothing was built." >&2
  exit 1
fi
for tool in xcrun xcodebuild meson ninja; do
  command -v "$tool" >/dev/null || { echo "build-xcframework.sh: $tool not found" >&2; exit 1; }
done

out=${1:-build-xcframework}
ios_min=${IOS_MIN:-15.0}
mkdir -p "$out"

# The headers directory every slice ships: vlm.h plus the module map.
headers="$out/Headers"
rm -rf "$headers"
mkdir -p "$headers"
cp include/vlm.h "$headers/"
cat > "$headers/module.modulemap" <<'EOF'
module CVLM {
    header "vlm.h"
    link framework "Accelerate"
    export *
}
EOF

build_slice() {  # name, cross file, sdk
  local name=$1 cross=$2 sdk=$3 dir="$out/$1"
  local sdk_path
  sdk_path=$(xcrun --sdk "$sdk" --show-sdk-path)
  # Later machine files override constants of earlier ones.
  printf "[constants]\nsdk_path = '%s'\nios_min = '%s'\n" "$sdk_path" "$ios_min" > "$out/$name-sdk.txt"
  local setup=(meson setup)
  [ -d "$dir" ] && setup+=(--reconfigure)
  "${setup[@]}" "$dir" --cross-file "$cross" --cross-file "$out/$name-sdk.txt" \
    --buildtype=release -Ddefault_library=static -Dblas=accelerate -Dtests=false \
    --wrap-mode=forcefallback
  # Only the static library: the shared one's GNU linker flags mean nothing to ld64.
  ninja -C "$dir" libvlm.a
  # One archive per platform: libvlm's objects and every dependency's.
  local archives
  archives=$(find "$dir/subprojects" -name '*.a' 2>/dev/null | sort)
  # shellcheck disable=SC2086  # the archive list is split on purpose
  xcrun libtool -static -o "$dir/libvlm-merged.a" "$dir/libvlm.a" $archives
  echo "$name: $(xcrun lipo -info "$dir/libvlm-merged.a")"
}

build_slice ios-arm64 cross/ios-arm64.txt iphoneos
build_slice ios-simulator-arm64 cross/ios-simulator-arm64.txt iphonesimulator

rm -rf "$out/VLM.xcframework"
xcodebuild -create-xcframework \
  -library "$out/ios-arm64/libvlm-merged.a" -headers "$headers" \
  -library "$out/ios-simulator-arm64/libvlm-merged.a" -headers "$headers" \
  -output "$out/VLM.xcframework"
echo "built $out/VLM.xcframework"
