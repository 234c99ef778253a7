#!/usr/bin/env bash
# Installs Mesa's lavapipe (a CPU Vulkan driver) so Dawn, through the `webgpu` npm package, can run
# WebGPU compute here. Debian bookworm's own mesa (22.x) is too old for Dawn; bookworm-backports'
# (25.x) works. Idempotent and instant when already installed; needs root (CI runs as root).
set -euo pipefail
fail() { echo "install-lavapipe: $*" >&2; exit 1; }
trap 'echo "install-lavapipe: FAILED (line $LINENO: $BASH_COMMAND)" >&2' ERR

mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }
has_lavapipe() { ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; }
recent() { [[ "$(mesa_version)" =~ ^([0-9]+:)?(2[5-9]|[3-9][0-9])\. ]]; }

if has_lavapipe && recent; then exit 0; fi

command -v apt-get >/dev/null || fail "needs apt (Debian/Ubuntu); install Mesa >= 25 with lavapipe (mesa-vulkan-drivers) by hand"
[ "$(id -u)" -eq 0 ] || fail "must run as root (apt-get install); try: sudo bash $0"
. /etc/os-release
export DEBIAN_FRONTEND=noninteractive
apt_update() { apt-get update -qq -o APT::Update::Error-Mode=any || fail "apt-get update failed (network or sources, see above)"; }

if [ "${VERSION_CODENAME:-}" = bookworm ]; then
  src=/etc/apt/sources.list.d/bookworm-backports.sources
  if [ ! -f "$src" ]; then
    uri=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    uri=${uri:-http://deb.debian.org/debian}
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$src"
  fi
  apt_update
  apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null || fail "apt-get install of mesa-vulkan-drivers from bookworm-backports failed"
else
  apt_update
  apt-get install -y -qq mesa-vulkan-drivers >/dev/null || fail "apt-get install mesa-vulkan-drivers failed"
fi

has_lavapipe || fail "mesa-vulkan-drivers $(mesa_version) is installed but provides no lavapipe ICD (/usr/share/vulkan/icd.d/lvp_icd*.json)"
recent || fail "mesa-vulkan-drivers $(mesa_version) is too old for Dawn (needs 25.x or newer)"
echo "install-lavapipe: mesa-vulkan-drivers $(mesa_version) with lavapipe installed"
