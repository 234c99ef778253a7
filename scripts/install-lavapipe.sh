#!/usr/bin/env bash
# Installs Mesa's lavapipe (a CPU Vulkan driver) so Dawn, through the `webgpu` npm package, can run
# WebGPU compute here. Debian bookworm's own mesa (22.x) is too old for Dawn; bookworm-backports'
# (25.x) works. Idempotent; needs root (CI and the dev machines run as root).
set -euo pipefail
if ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q '^2[5-9]\|^[3-9]'; then
  exit 0
fi
src=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$src" ]; then
  uri=$(awk '/^URIs:/ && $2 ~ /debian$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  uri=${uri:-http://deb.debian.org/debian}
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$src"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
