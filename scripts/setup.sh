#!/usr/bin/env bash
# One-shot setup on a fresh Debian machine: the system packages FUSE and the
# tests need, the npm dependencies, the native libfuse3 binding (native/,
# built with the C compiler against Node's own headers and libfuse3-dev:
# nothing is downloaded), then the build that bin/hyperfs runs. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(libfuse2 fuse3 libfuse3-dev gcc libc6-dev pkg-config rsync ffmpeg iproute2 iptables git)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi

# hyperfs falls back to fuse-native when the addon is missing, but here every
# piece it needs was just installed, so a failed build is a real failure
npm run build:native
npm run build
echo "hyperfs is built: run it as bin/hyperfs, or put it on your PATH with: npm link"
