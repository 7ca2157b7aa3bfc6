#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Installs every build and test dependency of kagi on Debian 12 (run as root).
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps.sh: run as root (apt-get)" >&2
	exit 1
fi
pkgs=(
	# build
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev clang-format
	libssl-dev libtss2-dev libcryptsetup-dev libcurl4-openssl-dev libjson-c-dev
	libfuse3-dev asciidoctor
	# tests
	libcmocka-dev swtpm swtpm-tools tpm2-tools fuse3 cryptsetup-bin jq xxd openssl
	python3 procps git util-linux
	# initramfs integrations (tests/system/check-initramfs.sh); dracut-core and
	# initramfs-tools-core install side by side, the metapackages conflict
	dracut-core dracut-network initramfs-tools-core busybox shellcheck
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	echo "install-deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps.sh: all dependencies present"
