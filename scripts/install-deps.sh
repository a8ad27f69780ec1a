#!/bin/sh
# Installs what libvlm needs to build and test on Debian 12 / Ubuntu 22.04+.
# Idempotent; uses sudo when not root.
set -eu
packages="meson ninja-build pkg-config gcc g++ libopenblas-dev libjpeg-dev libpng-dev
  zlib1g-dev libcjson-dev libonig-dev libutf8proc-dev python3 python3-pip"
# For the full test suite: sanitizer/fuzzer runtime, ABI checker.
[ "${VLM_DEPS:-all}" = all ] && packages="$packages clang-14 libclang-rt-14-dev abigail-tools"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
