#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# dracut initqueue/online hook (without systemd), sourced for each interface that comes up:
# runs `kagi unlock` once, after the first one. The LUKS devices' cryptroot-ask jobs then find
# the mappings open and skip them (or ask, with rd.kagi.on-failure=passphrase).

if [ ! -e /tmp/kagi.done ]; then
    : > /tmp/kagi.done
    /usr/lib/kagi/kagi-unlock.sh
fi
