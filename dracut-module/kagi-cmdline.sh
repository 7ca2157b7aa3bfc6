#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# dracut cmdline hook (without systemd): when kagi is configured, the initqueue is not finished
# before kagi has run (kagi-hook.sh runs it once the network is online).

# shellcheck source=/dev/null  # dracut-lib.sh exists only in the initramfs
type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

if [ -n "$(getarg rd.kagi.url=)" ] || [ -e /etc/kagi/kagi.conf ]; then
    # shellcheck disable=SC2154  # hookdir is set by dracut-lib.sh
    echo '[ -e /tmp/kagi.done ]' > "$hookdir/initqueue/finished/90-kagi.sh"
else
    : > /tmp/kagi.done
fi
