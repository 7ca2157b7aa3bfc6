# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# lib.sh: shared helpers of the integration tests (sourced, bash): TAP output, free TCP ports,
# swtpm and kagi-snp-standin started and stopped cleanly, and a cleanup trap that ends every
# process the test started (by pid), unmounts what it mounted and detaches its loop devices.
#
# The sourcing script sets `tmp` (a directory it owns) before calling lib_init.

# ---- TAP ----
n=0
failed=0
planned=0
tap_plan() {
	planned=$1
	echo "1..$planned"
}
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}
skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}
# diag FILE...: the files as TAP comments on stderr
diag() {
	sed 's/^/# /' "$@" >&2
}
# note TEXT: one TAP comment line on stderr
note() {
	echo "# $*" >&2
}
# check DESCRIPTION COMMAND...: ok when the command succeeds (its stdout is dropped, its stderr
# is shown as diagnostics on failure)
check() {
	local desc=$1
	shift
	if "$@" >/dev/null 2>"$tmp/check.err"; then
		ok "$desc"
	else
		diag "$tmp/check.err"
		not_ok "$desc"
	fi
}
# tap_done: the exit status of the test (0 when every planned test ran and passed)
tap_done() {
	[ "$n" = "$planned" ] || echo "# planned $planned tests, ran $n" >&2
	[ "$failed" = 0 ] && [ "$n" = "$planned" ]
}

# ---- small tools ----
hex_of() {
	od -An -v -tx1 "$1" | tr -d ' \n'
}
sha256_of() {
	sha256sum "$1" | cut -d' ' -f1
}
# free_ports COUNT: the first of COUNT free consecutive TCP ports on 127.0.0.1
free_ports() {
	python3 - "${1:-1}" <<'EOF'
import random, socket, sys
count = int(sys.argv[1])
for _ in range(500):
    p = random.randrange(20000, 60000 - count)
    socks = []
    try:
        for q in range(p, p + count):
            s = socket.socket()
            s.bind(("127.0.0.1", q))
            socks.append(s)
        print(p)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
EOF
}
# port_open PORT: something accepts connections on 127.0.0.1:PORT
port_open() {
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
		"$1" 2>/dev/null
}

# ---- processes: every background process is tracked by pid and ended by pid ----
lib_pids=()
lib_mounts=()
lib_loops=()
lib_track() {
	lib_pids+=("$1")
}
# lib_stop PID: SIGTERM, up to 5 s, then SIGKILL; reaps it and forgets it. Only pids this shell
# started and still tracks are signalled (a reaped pid may have been reused).
lib_stop() {
	local pid=$1 _ p keep=()
	[ -n "$pid" ] || return 0
	for p in "${lib_pids[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	[ "${#keep[@]}" != "${#lib_pids[@]}" ] || return 0
	lib_pids=("${keep[@]}")
	kill -TERM "$pid" 2>/dev/null || {
		wait "$pid" 2>/dev/null
		return 0
	}
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
lib_cleanup() {
	local pid m l
	# only the main shell cleans up (a subshell may inherit the EXIT trap)
	[ "$BASHPID" = "$$" ] || return 0
	for pid in "${lib_pids[@]}"; do
		lib_stop "$pid"
	done
	[ -z "${lib_extra_cleanup:-}" ] || "$lib_extra_cleanup"
	for m in "${lib_mounts[@]}"; do
		if mountpoint -q "$m" 2>/dev/null; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
		fi
	done
	for l in "${lib_loops[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	if [ -n "${tmp:-}" ] && [ -d "$tmp" ]; then
		if [ -n "${KAGI_KEEP_TMP:-}" ]; then
			echo "# kept $tmp" >&2
		else
			rm -rf "$tmp"
		fi
	fi
}
lib_init() {
	trap lib_cleanup EXIT
	trap 'exit 1' INT TERM
}

# ---- swtpm (state in $tmp/swtpm-NAME; SWTPM_PORT[NAME], SWTPM_PID[NAME]) ----
declare -A SWTPM_PORT SWTPM_PID
# swtpm_start NAME: start (or restart, keeping state and port) a swtpm on two free ports
swtpm_start() {
	local name=$1 dir=$tmp/swtpm-$1 port _ try
	mkdir -p "$dir/state"
	for try in 1 2 3 4 5; do
		port=${SWTPM_PORT[$name]:-}
		[ -n "$port" ] && [ "$try" = 1 ] || port=$(free_ports 2)
		swtpm socket --tpm2 --tpmstate dir="$dir/state" \
			--server type=tcp,port="$port",bindaddr=127.0.0.1 \
			--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
			--flags not-need-init,startup-clear >>"$dir/swtpm.log" 2>&1 &
		SWTPM_PID[$name]=$!
		lib_track $!
		for _ in $(seq 50); do
			kill -0 "${SWTPM_PID[$name]}" 2>/dev/null || break
			if port_open "$port"; then
				SWTPM_PORT[$name]=$port
				return 0
			fi
			sleep 0.1
		done
		lib_stop "${SWTPM_PID[$name]}"
	done
	diag "$dir/swtpm.log"
	return 1
}
swtpm_tcti() {
	echo "swtpm:host=127.0.0.1,port=${SWTPM_PORT[$1]}"
}
# swtpm_reset NAME: a reboot of the TPM (PCRs back to their initial values, seeds and EK kept):
# TPM2_Shutdown(CLEAR), CMD_INIT on the control channel, then TPM2_Startup(CLEAR). The orderly
# shutdown matters: after a disorderly one a TPM that used DA-protected objects (the agent's
# AK) counts an authorization failure, and three of those lock it out for 1000 s.
swtpm_reset() {
	local port=${SWTPM_PORT[$1]} tcti
	tcti=$(swtpm_tcti "$1")
	tpm2_shutdown -c -T "$tcti" >/dev/null 2>&1
	swtpm_ioctl --tcp "127.0.0.1:$((port + 1))" -i >/dev/null &&
		tpm2_startup -c -T "$tcti" >/dev/null 2>&1
}
# pcr_read NAME PCR: the sha256 value as lowercase hex
pcr_read() {
	tpm2_pcrread -T "$(swtpm_tcti "$1")" "sha256:$2" 2>/dev/null |
		sed -n "s/^ *$2 *: *0x\([0-9A-Fa-f]*\).*/\1/p" | tr 'A-F' 'a-f'
}

# ---- kagi-snp-standin (TEST ONLY): one mount point per name, $tmp/tsm-NAME ----
declare -A STANDIN_PID
# standin_start NAME PKI LOG ARGS...: mount the stand-in at $tmp/tsm-NAME (foreground process
# in the background), wait until the mount appears
standin_start() {
	local name=$1 pki=$2 log=$3 mnt=$tmp/tsm-$1 _
	shift 3
	mkdir -p "$mnt"
	"$standin" --vcek-key "$pki/vcek-key.pem" --vcek "$pki/vcek.der" --ask "$pki/ask.pem" \
		--ark "$pki/ark.pem" "$@" "$mnt" -f >"$log" 2>&1 &
	STANDIN_PID[$name]=$!
	lib_track $!
	lib_mounts+=("$mnt")
	for _ in $(seq 100); do
		mountpoint -q "$mnt" && return 0
		kill -0 "${STANDIN_PID[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	diag "$log"
	return 1
}
standin_dir() {
	echo "$tmp/tsm-$1"
}
# standin_stop NAME: SIGTERM (the stand-in unmounts and exits 0), unmount if it did not
standin_stop() {
	local mnt=$tmp/tsm-$1
	lib_stop "${STANDIN_PID[$1]:-}"
	STANDIN_PID[$1]=
	if mountpoint -q "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
	fi
}
