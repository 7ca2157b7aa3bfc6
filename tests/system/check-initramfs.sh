#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds an initramfs with the dracut module 90kagi and one with the initramfs-tools hook, from
# the files configured in the build directory, and checks what they contain. Boots nothing.
#
#   check-initramfs.sh KAGI [BUILD_ROOT]
#
# KAGI is the built agent; BUILD_ROOT (default $KAGI_BUILD_ROOT) holds dracut-module/ and
# initramfs-tools-hook/ as meson configured them. Needs root: dracut looks for modules only in
# its own modules directory, and mkinitramfs for hooks only in /usr/share/initramfs-tools and
# /etc/initramfs-tools, so the module and the hook are installed there for the run and removed
# afterwards (the run refuses if a 90kagi module or kagi hook is already installed there).
# Prints TAP; a missing kernel, generator or root is a skip.
set -u

kagi=$(realpath "${1:?usage: check-initramfs.sh KAGI [BUILD_ROOT]}")
build_root=${2:-${KAGI_BUILD_ROOT:-}}
src_root=${KAGI_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
[[ -n $build_root ]] || { echo "check-initramfs.sh: no build root" >&2; exit 2; }

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check DESC COMMAND...
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else nok "$desc"; fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }

work=$(mktemp -d /tmp/kagi-initramfs.XXXXXX)
installed=()
created_dirs=()
cleanup() {
    local p
    for p in "${installed[@]}"; do rm -rf -- "$p"; done
    for p in "${created_dirs[@]}"; do rmdir -- "$p" 2> /dev/null; done
    rm -rf -- "$work"
}
trap cleanup EXIT

# Shell files: shellcheck (bash for the dracut module-setup, POSIX sh for everything else).
shell_files=(
    "$build_root/dracut-module/module-setup.sh"
    "$build_root/dracut-module/kagi-unlock.sh"
    "$build_root/dracut-module/kagi-cmdline.sh"
    "$build_root/dracut-module/kagi-hook.sh"
    "$build_root/initramfs-tools-hook/hooks-kagi"
    "$build_root/initramfs-tools-hook/scripts-local-top-kagi"
    "$build_root/initramfs-tools-hook/scripts-local-bottom-kagi"
    "$src_root/tests/system/check-initramfs.sh"
)
if command -v shellcheck > /dev/null; then
    for f in "${shell_files[@]}"; do
        # -x: follow sourced files where they exist on this machine (hook-functions)
        if out=$(shellcheck -x -S style "$f" 2>&1); then
            ok "shellcheck ${f#"$build_root"/}"
        else
            nok "shellcheck ${f#"$build_root"/}"
            printf '%s\n' "$out" | sed 's/^/# /'
        fi
    done
else
    skip "shellcheck is not installed"
fi

kver=""
if [[ -d /lib/modules ]]; then
    for d in /lib/modules/*/; do
        [[ -e ${d}modules.dep ]] && { kver=$(basename "$d"); break; }
    done
fi

# A configuration naming a CA bundle and a client identity, as kagi.conf(5) would.
mkdir -p "$work/etc"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=kagi-test \
    -keyout "$work/etc/client-key.pem" -out "$work/etc/client.pem" > /dev/null 2>&1
cp "$work/etc/client.pem" "$work/etc/verifier-ca.pem"
cat > "$work/etc/kagi.conf" << EOF
# kagi.conf for check-initramfs.sh
url = https://10.0.2.2:8443
ca = $work/etc/verifier-ca.pem
cert = $work/etc/client.pem
key = "$work/etc/client-key.pem"
volume = 0f2d7c1e-6a53-4c1b-9b7e-3d2a1c0b9e8f:root
on-failure = poweroff
EOF
export KAGI_BINARY=$kagi KAGI_CONF=$work/etc/kagi.conf

sbindir=$(sed -n 's/^KAGI=\(.*\)\/kagi$/\1/p' "$build_root/initramfs-tools-hook/scripts-local-top-kagi")
libs=$(env --unset=LD_PRELOAD ldd "$kagi" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p')

# Checks common to both images: LIST is the file list of the image.
check_common() { # GEN LIST
    local gen=$1 list=$2 lib base
    check "$gen: kagi binary at $sbindir/kagi" grep -qE "^(\./)?${sbindir#/}/kagi$" "$list"
    local missing=()
    for lib in $libs; do
        base=$(basename "$lib")
        grep -qE "/$base\$" "$list" || missing+=("$base")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        ok "$gen: every library of kagi ($(echo "$libs" | wc -w))"
    else
        nok "$gen: every library of kagi: missing ${missing[*]}"
    fi
    if grep -q libtss2-tctildr <<< "$libs"; then
        check "$gen: the TCTI device library" grep -qE '/libtss2-tcti-device\.so' "$list"
    else
        skip "$gen: kagi is built without tpm2-tss"
    fi
    check "$gen: /etc/kagi/kagi.conf" grep -qE '^(\./)?etc/kagi/kagi\.conf$' "$list"
    check "$gen: the CA bundle named in kagi.conf" grep -qE "^(\./)?${work#/}/etc/verifier-ca\.pem$" "$list"
    check "$gen: the client identity named in kagi.conf" \
        grep -qE "^(\./)?${work#/}/etc/client(-key)?\.pem$" "$list"
    check "$gen: sev-guest module" grep -qE '/sev-guest\.ko' "$list"
    check "$gen: dm-crypt module" grep -qE '/dm-crypt\.ko' "$list"
}

unit_order_ok() { # UNIT
    grep -qx "ExecStart=/usr/lib/kagi/kagi-unlock.sh" "$1" && grep -qx "Before=cryptsetup-pre.target" "$1"
}
unit_verify() { # ROOT LOG
    systemd-analyze verify --man=no --root="$1" kagi.service > "$2" 2>&1 || { sed 's/^/# /' "$2"; false; }
}
no_kagi_error() { # LOG
    ! grep -q 'dracut: kagi:' "$1"
}
no_kagi_in() { # IMAGE
    ! lsinitramfs "$1" | grep -qE "^(\./)?(${sbindir#/}/kagi|etc/kagi/kagi\.conf)\$"
}

# The same file inside the image and in the build (or the test configuration).
same_file() { # IMAGE_DIR PATH_IN_IMAGE REFERENCE
    cmp -s "$1/$2" "$3"
}

# ---------------------------------------------------------------- dracut
dracut_mods=/usr/lib/dracut/modules.d
if command -v pkg-config > /dev/null && d=$(pkg-config --variable=dracutmodulesdir dracut 2> /dev/null) \
    && [[ -n $d ]]; then
    dracut_mods=$d
fi
if [[ $(id -u) -ne 0 ]]; then
    skip "dracut: needs root"
elif ! command -v dracut > /dev/null || ! command -v lsinitrd > /dev/null; then
    skip "dracut: not installed"
elif [[ -z $kver ]]; then
    skip "dracut: no kernel in /lib/modules"
elif [[ -e $dracut_mods/90kagi ]]; then
    nok "dracut: $dracut_mods/90kagi already exists; not replacing it"
else
    installed+=("$dracut_mods/90kagi")
    mkdir "$dracut_mods/90kagi"
    install -m 0755 "$build_root"/dracut-module/{module-setup.sh,kagi-unlock.sh,kagi-cmdline.sh,kagi-hook.sh} \
        "$dracut_mods/90kagi/"
    install -m 0644 "$build_root/dracut-module/kagi.service" "$dracut_mods/90kagi/"
    img=$work/dracut.img
    mkdir -p "$work/dracut-tmp"
    if dracut --no-hostonly --force --no-compress --nostrip --kver "$kver" --tmpdir "$work/dracut-tmp" \
        --modules "systemd systemd-initrd dracut-systemd kagi" --add-drivers virtio_net --nomdadmconf --nolvmconf \
        "$img" > "$work/dracut.log" 2>&1; then
        ok "dracut builds an image with 90kagi ($kver)"
    else
        nok "dracut builds an image with 90kagi ($kver)"
        tail -n 30 "$work/dracut.log" | sed 's/^/# /'
    fi
    if [[ -s $img ]]; then
        lsinitrd "$img" > "$work/dracut.lsinitrd" 2>&1
        # ls -l lines; a symlink ends in "NAME -> TARGET": keep NAME
        awk 'NF >= 3 && $(NF-1) == "->" {print $(NF-2); next} NF >= 1 {print $NF}' \
            "$work/dracut.lsinitrd" | sed 's/^\.\///' > "$work/dracut.list"
        check "dracut: no kagi error in the dracut log" no_kagi_error "$work/dracut.log"
        check "dracut: module kagi included" grep -qx kagi <(lsinitrd -m "$img" 2> /dev/null | sed 's/^ *//')
        check_common dracut "$work/dracut.list"
        check "dracut: kagi.service" grep -qE '^usr/lib/systemd/system/kagi\.service$' "$work/dracut.list"
        check "dracut: kagi.service enabled (initrd.target.wants)" \
            grep -qE '^(etc|usr/lib)/systemd/system/initrd\.target\.wants/kagi\.service$' "$work/dracut.list"
        check "dracut: kagi-unlock.sh" grep -qE '^usr/lib/kagi/kagi-unlock\.sh$' "$work/dracut.list"
        check "dracut: tpm2-tss module included" grep -qx tpm2-tss <(lsinitrd -m "$img" 2> /dev/null | sed 's/^ *//')
        mkdir -p "$work/dracut-x"
        (cd "$work/dracut-x" && lsinitrd --unpack "$img" > /dev/null 2>&1)
        check "dracut: kagi.conf is the configured one" same_file "$work/dracut-x" etc/kagi/kagi.conf "$KAGI_CONF"
        check "dracut: kagi binary is the built one" same_file "$work/dracut-x" "${sbindir#/}/kagi" "$kagi"
        check "dracut: rd.neednet=1 in /etc/cmdline.d" grep -qx 'rd.neednet=1' "$work/dracut-x/etc/cmdline.d/90kagi.conf"
        check "dracut: kagi.service runs kagi-unlock.sh before cryptsetup-pre.target" \
            unit_order_ok "$work/dracut-x/usr/lib/systemd/system/kagi.service"
        check "dracut: kagi-unlock.sh calls the installed kagi" grep -qF "KAGI=$sbindir/kagi" \
            "$work/dracut-x/usr/lib/kagi/kagi-unlock.sh"
        check "dracut: client key is mode 0600" \
            test "$(stat -c %a "$work/dracut-x/${work#/}/etc/client-key.pem")" = 600
        if command -v systemd-analyze > /dev/null; then
            check "dracut: systemd-analyze verify kagi.service" \
                unit_verify "$work/dracut-x" "$work/verify.log"
        fi
    fi
    rm -rf -- "$dracut_mods/90kagi"
fi

# ---------------------------------------------------------------- initramfs-tools
itools=/usr/share/initramfs-tools
if [[ $(id -u) -ne 0 ]]; then
    skip "initramfs-tools: needs root"
elif ! command -v mkinitramfs > /dev/null || ! command -v lsinitramfs > /dev/null; then
    skip "initramfs-tools: not installed"
elif [[ -z $kver ]]; then
    skip "initramfs-tools: no kernel in /lib/modules"
elif [[ -e $itools/hooks/kagi || -e $itools/scripts/local-top/kagi || -e $itools/scripts/local-bottom/kagi ]]; then
    nok "initramfs-tools: a kagi hook is already installed in $itools; not replacing it"
else
    installed+=("$itools/hooks/kagi" "$itools/scripts/local-top/kagi" "$itools/scripts/local-bottom/kagi")
    for d in "$itools/scripts/local-top" "$itools/scripts/local-bottom"; do
        [[ -d $d ]] || { mkdir -p "$d" && created_dirs+=("$d"); }
    done
    install -m 0755 "$build_root/initramfs-tools-hook/hooks-kagi" "$itools/hooks/kagi"
    install -m 0755 "$build_root/initramfs-tools-hook/scripts-local-top-kagi" "$itools/scripts/local-top/kagi"
    install -m 0755 "$build_root/initramfs-tools-hook/scripts-local-bottom-kagi" "$itools/scripts/local-bottom/kagi"
    img=$work/itools.img
    if TMPDIR=$work mkinitramfs -c gzip -o "$img" "$kver" > "$work/mkinitramfs.log" 2>&1; then
        ok "mkinitramfs builds an image with the kagi hook ($kver)"
    else
        nok "mkinitramfs builds an image with the kagi hook ($kver)"
        tail -n 30 "$work/mkinitramfs.log" | sed 's/^/# /'
    fi
    if [[ -s $img ]]; then
        lsinitramfs "$img" | sed 's/^\.\///' > "$work/itools.list"
        check_common initramfs-tools "$work/itools.list"
        check "initramfs-tools: scripts/local-top/kagi" grep -qx 'scripts/local-top/kagi' "$work/itools.list"
        check "initramfs-tools: scripts/local-bottom/kagi" grep -qx 'scripts/local-bottom/kagi' "$work/itools.list"
        mkdir -p "$work/itools-x"
        unmkinitramfs "$img" "$work/itools-x" > /dev/null 2>&1
        root=$work/itools-x
        [[ -d $root/main ]] && root=$root/main
        check "initramfs-tools: local-top ORDER runs kagi" grep -q '/scripts/local-top/kagi' "$root/scripts/local-top/ORDER"
        check "initramfs-tools: kagi.conf is the configured one" same_file "$root" etc/kagi/kagi.conf "$KAGI_CONF"
        check "initramfs-tools: kagi binary is the built one" same_file "$root" "${sbindir#/}/kagi" "$kagi"
        check "initramfs-tools: client key is mode 0600" \
            test "$(stat -c %a "$root/${work#/}/etc/client-key.pem")" = 600
    fi
    # Without kagi.conf the hook adds nothing (kagi is not set up on such a machine).
    img=$work/itools-off.img
    if KAGI_CONF=$work/missing.conf TMPDIR=$work mkinitramfs -c gzip -o "$img" "$kver" \
        > "$work/mkinitramfs-off.log" 2>&1; then
        check "initramfs-tools: no kagi.conf, no kagi in the image" \
            no_kagi_in "$img"
    else
        nok "mkinitramfs without kagi.conf"
    fi
    # A kagi.conf naming a CA that does not exist stops mkinitramfs.
    sed "s#^ca = .*#ca = $work/nonexistent-ca.pem#" "$KAGI_CONF" > "$work/bad.conf"
    if KAGI_CONF=$work/bad.conf TMPDIR=$work mkinitramfs -c gzip -o "$work/itools-bad.img" "$kver" \
        > "$work/mkinitramfs-bad.log" 2>&1; then
        nok "initramfs-tools: a missing CA bundle stops mkinitramfs"
    else
        check "initramfs-tools: a missing CA bundle stops mkinitramfs" \
            grep -q 'nonexistent-ca.pem' "$work/mkinitramfs-bad.log"
    fi
    rm -f -- "$itools/hooks/kagi" "$itools/scripts/local-top/kagi" "$itools/scripts/local-bottom/kagi"
    for d in "${created_dirs[@]}"; do rmdir -- "$d" 2> /dev/null; done
    created_dirs=()
fi

echo "1..$n"
[[ $failed -eq 0 ]]
