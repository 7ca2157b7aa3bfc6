# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# fixtures.sh: the whole world of the protocol tests in one temporary directory ($tmp), sourced
# by protocol.sh, refusals.sh, no-key-leak.sh and contrib/demo.sh (after lib.sh):
#   - TLS PKI (openssl): a CA for the verifier's server certificate (SAN IP:127.0.0.1), the
#     agents' CA with a client certificate, an unrelated CA with a client certificate (wrong-CA
#     test), the admin CA with an admin certificate;
#   - the verifier's token key and KEK (32 bytes, 0600);
#   - the TEST ONLY SNP stand-in's PKI (tests/snp-standin/mkcerts.sh) and the stand-in itself,
#     mounted in SVSM mode (guest at VMPL 2, vTPM = swtpm) or in direct mode;
#   - swtpm, with a crypto-agile event log (mkeventlog.py) whose events are extended into it,
#     so the log replays exactly to the TPM's PCRs;
#   - LUKS2 images on loop devices;
#   - the policy (the stand-in's measurement, chip id and TCB; PCR 8 pinned to the event log's
#     value and its kernel command line event required), the verifier configuration, and the
#     verifier itself, started and waited for;
#   - the agent's kernel command line (rd.kagi.*) and a runner for `kagi unlock --check-only`.
#
# The caller sets: tmp, src (source tree), kagi, kagictl, standin, and (fx_locate) verifier,
# kagi_test. Functions return non-zero on failure and show what failed as TAP comments.

FX_PASSPHRASE="kagi integration test passphrase"
# what the agent prints when a released key was proven to open a volume
FX_UNLOCK_OK_RE=${FX_UNLOCK_OK_RE:-"decision: unlocked: "}

# fx_require: skip the whole test (TAP "1..0 # SKIP") when a binary or a facility is missing
fx_require() {
	local tool
	[ -n "${kagi:-}" ] && [ -x "$kagi" ] || skip_all "kagi '${kagi:-}' is not executable"
	[ -n "${kagictl:-}" ] && [ -x "$kagictl" ] || skip_all "kagictl '${kagictl:-}' is not executable"
	[ -n "${standin:-}" ] && [ -x "$standin" ] ||
		skip_all "kagi-snp-standin not built (meson setup -Dsnp-standin=true)"
	[ -x "${verifier:-}" ] || skip_all "kagi-verifier not built ('${verifier:-}')"
	[ -x "${kagi_test:-}" ] || skip_all "kagi-test not built ('${kagi_test:-}')"
	[ -c /dev/fuse ] || skip_all "/dev/fuse is missing"
	for tool in swtpm swtpm_ioctl fusermount3 mountpoint openssl jq python3 xxd cryptsetup \
		losetup tpm2_pcrextend tpm2_pcrread tpm2_startup tpm2_shutdown sha256sum; do
		command -v "$tool" >/dev/null 2>&1 || skip_all "$tool is missing"
	done
	[ "$(id -u)" = 0 ] || skip_all "needs root (loop devices, cryptsetup)"
}

# fx_locate: the binaries not given as arguments, from KAGI_BUILD_ROOT
fx_locate() {
	local build=${KAGI_BUILD_ROOT:-$src/build}
	verifier=${KAGI_VERIFIER:-$build/contrib/kagi-verifier}
	kagi_test=${KAGI_TEST:-$build/agent/kagi-test}
}

# ---- TLS PKI ----
# fx_ca NAME: a self-signed EC P-256 CA in $tmp/pki-tls/NAME-ca.pem (+ -key.pem)
fx_ca() {
	local d=$tmp/pki-tls
	mkdir -p "$d"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj "/O=kagi integration test/CN=$1 CA" -keyout "$d/$1-ca-key.pem" \
		-out "$d/$1-ca.pem" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>>"$d/openssl.log"
}
# fx_cert CA NAME server|client: a certificate issued by CA, $tmp/pki-tls/NAME.pem (+ -key.pem)
fx_cert() {
	local d=$tmp/pki-tls ca=$1 name=$2 kind=$3 ext
	ext=$d/$name.ext
	if [ "$kind" = server ]; then
		printf '%s\n' "basicConstraints=critical,CA:FALSE" \
			"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
			"subjectAltName=IP:127.0.0.1,DNS:localhost" >"$ext"
	else
		printf '%s\n' "basicConstraints=critical,CA:FALSE" \
			"keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth" >"$ext"
	fi
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/O=kagi integration test/CN=$name" -keyout "$d/$name-key.pem" \
		-out "$d/$name.csr" 2>>"$d/openssl.log" &&
		openssl x509 -req -in "$d/$name.csr" -CA "$d/$ca-ca.pem" -CAkey "$d/$ca-ca-key.pem" \
			-CAcreateserial -days 30 -extfile "$ext" -out "$d/$name.pem" 2>>"$d/openssl.log"
}
fx_tls_pki() {
	local d=$tmp/pki-tls
	fx_ca server && fx_cert server verifier server &&
		fx_ca agents && fx_cert agents agent client &&
		fx_ca other && fx_cert other stranger client &&
		fx_ca admin && fx_cert admin admin client || {
		diag "$d/openssl.log"
		return 1
	}
	chmod 600 "$d"/*-key.pem
	TLS_SERVER_CA=$d/server-ca.pem
	TLS_SERVER_CERT=$d/verifier.pem
	TLS_SERVER_KEY=$d/verifier-key.pem
	TLS_AGENTS_CA=$d/agents-ca.pem
	TLS_AGENT_CERT=$d/agent.pem
	TLS_AGENT_KEY=$d/agent-key.pem
	TLS_OTHER_CERT=$d/stranger.pem
	TLS_OTHER_KEY=$d/stranger-key.pem
	TLS_ADMIN_CA=$d/admin-ca.pem
	TLS_ADMIN_CERT=$d/admin.pem
	TLS_ADMIN_KEY=$d/admin-key.pem
}

# ---- the verifier's secrets ----
fx_secrets() {
	mkdir -p "$tmp/verifier"
	chmod 700 "$tmp/verifier"
	TOKEN_KEY=$tmp/verifier/token.key
	KEK_FILE=$tmp/verifier/kek.bin
	(umask 077 && head -c 32 /dev/urandom >"$TOKEN_KEY") || return 1
	"$kagictl" kek generate --file "$KEK_FILE" >"$tmp/verifier/kek.log" 2>&1 || {
		diag "$tmp/verifier/kek.log"
		return 1
	}
	chmod 600 "$TOKEN_KEY" "$KEK_FILE"
}

# ---- the SNP stand-in's test PKI ----
fx_snp_pki() {
	SNP_PKI=$tmp/pki-snp
	"$src/tests/snp-standin/mkcerts.sh" "$SNP_PKI" --product Milan --rsa-bits 2048 \
		>"$tmp/mkcerts.log" 2>&1 || {
		diag "$tmp/mkcerts.log"
		return 1
	}
}

# ---- event logs ----
# fx_eventlogs: $tmp/eventlog/{base,altered,cmdline2}.bin and the digests to extend
fx_eventlogs() {
	local d=$tmp/eventlog mk=$src/tests/integration/mkeventlog.py
	mkdir -p "$d"
	EVENTLOG=$d/base.bin
	EVENTLOG_ALTERED=$d/altered.bin
	EVENTLOG_CMDLINE2=$d/cmdline2.bin
	python3 "$mk" "$EVENTLOG" --pcrs-json "$d/base.pcrs.json" >"$d/base.extend" &&
		python3 "$mk" "$EVENTLOG_ALTERED" --alter >"$d/altered.extend" &&
		python3 "$mk" "$EVENTLOG_CMDLINE2" --pcrs-json "$d/cmdline2.pcrs.json" \
			--cmdline "BOOT_IMAGE=/vmlinuz-6.1.0-kagi root=/dev/mapper/root ro init=/bin/sh" \
			>"$d/cmdline2.extend" || return 1
	cmp -s "$EVENTLOG" "$EVENTLOG_ALTERED" && return 1
	PCR8_BASE=$(jq -r '.sha256["8"]' "$d/base.pcrs.json")
	# the second PCR 8 event is GRUB's "kernel_cmdline: ..." (EV_IPL)
	EV8_CMDLINE=$(awk '$1 == 8 { if (++n == 2) print $3 }' "$d/base.extend")
	PCR8_CMDLINE2=$(jq -r '.sha256["8"]' "$d/cmdline2.pcrs.json")
	[ -n "$PCR8_BASE" ] && [ "$PCR8_BASE" != "$PCR8_CMDLINE2" ] && [ ${#EV8_CMDLINE} = 64 ]
}
# fx_tpm_boot NAME [base|cmdline2]: reset the TPM and extend the log's events into it
fx_tpm_boot() {
	local name=$1 which=${2:-base} tcti pcr alg digest
	tcti=$(swtpm_tcti "$name")
	swtpm_reset "$name" || return 1
	while read -r pcr alg digest; do
		tpm2_pcrextend -T "$tcti" "$pcr:$alg=$digest" >/dev/null 2>>"$tmp/pcrextend.log" || {
			diag "$tmp/pcrextend.log"
			return 1
		}
	done <"$tmp/eventlog/$which.extend"
}
fx_tpm() {
	swtpm_start main || return 1
	TCTI=$(swtpm_tcti main)
	fx_tpm_boot main base
}

# ---- the stand-in ----
# fx_standin_svsm [ARGS...]: (re)mount the stand-in as a guest at VMPL 2 under an SVSM whose
# vTPM is the swtpm "main"
fx_standin_svsm() {
	standin_stop snp
	standin_start snp "$SNP_PKI" "$tmp/standin.log" --product Milan --vmpl-floor 2 \
		--tcti "$TCTI" "$@" || return 1
	TSM_DIR=$(standin_dir snp)
}
# fx_standin_direct [ARGS...]: (re)mount it as a guest at VMPL 0 without an SVSM
fx_standin_direct() {
	standin_stop snp
	standin_start snp "$SNP_PKI" "$tmp/standin.log" --product Milan "$@" || return 1
	TSM_DIR=$(standin_dir snp)
}
# fx_snp_facts: the stand-in's measurement, chip id and reported TCB, read from one report
fx_snp_facts() {
	local e=$TSM_DIR/facts-$$
	mkdir "$e" || return 1
	printf '%s\n' "$(cat "$e/privlevel_floor")" >"$e/privlevel"
	head -c 64 /dev/urandom >"$e/inblob"
	cat "$e/outblob" >"$tmp/facts-report.bin"
	rmdir "$e"
	"$kagictl" report show "$tmp/facts-report.bin" --json >"$tmp/facts.json" 2>&1 || {
		diag "$tmp/facts.json"
		return 1
	}
	SNP_MEASUREMENT=$(jq -r .measurement "$tmp/facts.json")
	SNP_CHIP_ID=$(jq -r .chip_id "$tmp/facts.json")
	SNP_TCB_JSON=$(jq -c '.reported_tcb | {bl, tee, snp, ucode}' "$tmp/facts.json")
	[ ${#SNP_MEASUREMENT} = 96 ] && [ ${#SNP_CHIP_ID} = 128 ]
}

# ---- LUKS2 images on loop devices ----
declare -A LUKS_UUID LUKS_DEV LUKS_IMG
# fx_luks NAME: $tmp/NAME.img (32 MiB LUKS2, PBKDF2 with 1000 iterations, the test passphrase),
# attached to a loop device
fx_luks() {
	local name=$1 img=$tmp/$1.img uuid dev
	uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
	truncate -s 32M "$img" || return 1
	printf '%s' "$FX_PASSPHRASE" | cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 \
		--pbkdf-force-iterations 1000 --uuid "$uuid" -q --key-file - "$img" \
		>"$tmp/luks-$name.log" 2>&1 || {
		diag "$tmp/luks-$name.log"
		return 1
	}
	dev=$(losetup --find --show "$img" 2>>"$tmp/luks-$name.log") || {
		diag "$tmp/luks-$name.log"
		return 1
	}
	lib_loops+=("$dev")
	LUKS_UUID[$name]=$uuid
	LUKS_DEV[$name]=$dev
	LUKS_IMG[$name]=$img
}
# fx_luks_opens NAME KEYFILE: the key opens a keyslot of the image (nothing is activated)
fx_luks_opens() {
	cryptsetup open --test-passphrase --key-file "$2" "${LUKS_IMG[$1]}" >/dev/null 2>&1
}

# ---- policy ----
# fx_policy [JQ-FILTER]: $tmp/verifier/policy.json with group "vtpm" (require_vtpm, the
# stand-in's SNP facts, PCR 8 pinned to the base log, the log's kernel command line event
# required) for the volumes in POLICY_VTPM_VOLUMES and,
# when POLICY_DIRECT_VOLUMES is set, group "direct" (same SNP rules, no vTPM); the optional jq
# filter changes the result (e.g. '.groups[0].snp.measurements = ["00..."]').
fx_policy() {
	local filter=${1:-.}
	POLICY=$tmp/verifier/policy.json
	jq -n --arg m "$SNP_MEASUREMENT" --arg c "$SNP_CHIP_ID" --argjson tcb "$SNP_TCB_JSON" \
		--arg pcr8 "$PCR8_BASE" --arg ev8 "$EV8_CMDLINE" --arg vv "${POLICY_VTPM_VOLUMES:-}" \
		--arg dv "${POLICY_DIRECT_VOLUMES:-}" '
		def vols($s): [$s | splits(" +") | select(length > 0)];
		{measurements: [$m], chip_ids: [$c], min_tcb: $tcb} as $snp |
		{boot_phase_pcr: 15, groups: (
			[{name: "vtpm", snp: $snp, require_vtpm: true,
			  pcrs: {sha256: {"8": $pcr8}},
			  events: [{pcr: 8, type: "EV_IPL", digest: $ev8}], volumes: vols($vv)}] +
			(if ($dv | length) > 0 then
				[{name: "direct", snp: $snp, require_vtpm: false, volumes: vols($dv)}]
			 else [] end))}' | jq "$filter" >"$POLICY.new" || return 1
	mv "$POLICY.new" "$POLICY"
}

# ---- verifier ----
# fx_verifier_config [KEY=VALUE...]: $tmp/verifier/verifier.conf; arguments override defaults
FX_VCONF_ARGS=()
fx_verifier_config() {
	local kv
	FX_VCONF_ARGS=("$@")
	VERIFIER_CONF=$tmp/verifier/verifier.conf
	AUDIT_LOG=$tmp/verifier/audit.log
	STORE_DB=$tmp/verifier/kagi.db
	[ -n "${VERIFIER_PORT:-}" ] || VERIFIER_PORT=$(free_ports 1)
	declare -A conf=(
		[listen]="127.0.0.1:$VERIFIER_PORT"
		[tls_cert]="$TLS_SERVER_CERT"
		[tls_key]="$TLS_SERVER_KEY"
		[client_ca]="$TLS_AGENTS_CA"
		[allow_self_signed_clients]=""
		[admin_ca]="$TLS_ADMIN_CA"
		[tls_min_version]=""
		[token_key]="$TOKEN_KEY"
		[token_lifetime]=120
		[policy]="$POLICY"
		[amd_roots]="$src/contrib/amd-roots"
		[trust_chain]="$SNP_PKI/chain.pem"
		[store]="sqlite:$STORE_DB"
		[kek]="file:$KEK_FILE"
		[audit_log]="$AUDIT_LOG"
	)
	local order="listen tls_cert tls_key client_ca allow_self_signed_clients admin_ca"
	order+=" tls_min_version token_key token_lifetime policy amd_roots trust_chain store kek"
	order+=" audit_log"
	for kv in "$@"; do
		conf[${kv%%=*}]=${kv#*=}
		case " $order " in
		*" ${kv%%=*} "*) ;;
		*) order+=" ${kv%%=*}" ;;
		esac
	done
	{
		echo "# kagi-verifier configuration written by tests/integration/fixtures.sh"
		for kv in $order; do
			[ -z "${conf[$kv]}" ] || echo "$kv = ${conf[$kv]}"
		done
	} >"$VERIFIER_CONF"
	VERIFIER_URL=https://127.0.0.1:$VERIFIER_PORT
}
# fx_challenge CERT KEY: POST /v1/challenge over mutual TLS; prints the response body
fx_challenge() {
	python3 - "$TLS_SERVER_CA" "$1" "$2" "$VERIFIER_PORT" <<'EOF'
import http.client, ssl, sys
ca, cert, key, port = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=5)
c.request("POST", "/v1/challenge", body=b'{"version": 1}',
          headers={"Content-Type": "application/json"})
r = c.getresponse()
body = r.read().decode()
try:
    c.sock.unwrap()  # close_notify: a clean end of the TLS session
except (OSError, ValueError):
    pass
c.close()
sys.stdout.write(body)
sys.exit(0 if r.status == 200 else 1)
EOF
}
VERIFIER_PID=
# fx_verifier_start: start kagi-verifier --config, wait until it answers a challenge; if its port
# was taken meanwhile (another test), move to another free port
fx_verifier_start() {
	local _ try
	VERIFIER_LOG=$tmp/verifier/verifier.log
	mkdir -p "$tmp/verifier"
	for try in 1 2 3; do
		echo "---- start $(date +%T)" >>"$VERIFIER_LOG"
		"$verifier" --config "$VERIFIER_CONF" >>"$VERIFIER_LOG" 2>&1 &
		VERIFIER_PID=$!
		lib_track "$VERIFIER_PID"
		for _ in $(seq 100); do
			kill -0 "$VERIFIER_PID" 2>/dev/null || break
			# (python exits 0 only on HTTP 200; jq -e accepts empty input)
			if fx_challenge "$TLS_AGENT_CERT" "$TLS_AGENT_KEY" >"$tmp/verifier/challenge.json" \
				2>/dev/null && jq -e '.nonce | length == 44' "$tmp/verifier/challenge.json" \
				>/dev/null 2>&1; then
				return 0
			fi
			sleep 0.1
		done
		fx_verifier_stop
		tail -n 1 "$VERIFIER_LOG" | grep -q "cannot listen on .*in use" || break
		VERIFIER_PORT=$(free_ports 1)
		fx_verifier_config "${FX_VCONF_ARGS[@]}"
	done
	diag "$VERIFIER_LOG"
	return 1
}
fx_verifier_stop() {
	lib_stop "$VERIFIER_PID"
	VERIFIER_PID=
}
# fx_verifier_restart [KEY=VALUE...]: rewrite the configuration (the policy file as it is now)
# and restart the verifier on the same port
fx_verifier_restart() {
	fx_verifier_stop
	fx_verifier_config "$@"
	fx_verifier_start
}

# ---- the world ----
# fx_world: everything but the images, the policy and the verifier
fx_world() {
	fx_tls_pki || return 1
	fx_secrets || return 1
	fx_snp_pki || return 1
	fx_eventlogs || return 1
	fx_tpm || return 1
	fx_standin_svsm || return 1
	fx_snp_facts
}

# ---- the agent ----
# fx_cmdline FILE vtpm|direct VOLUME... [-- rd.kagi.X=Y...]: a kernel command line for the agent
fx_cmdline() {
	local file=$1 path=$2 v key i opts=() vols=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		vols+=("rd.kagi.volume=$1")
		shift
	done
	[ "${1:-}" != -- ] || shift
	opts=("BOOT_IMAGE=/vmlinuz-6.1.0-kagi" "root=/dev/mapper/root" "ro"
		"rd.kagi.url=$VERIFIER_URL" "rd.kagi.ca=$TLS_SERVER_CA"
		"rd.kagi.cert=$TLS_AGENT_CERT" "rd.kagi.key=$TLS_AGENT_KEY"
		"${vols[@]}" "rd.kagi.tsm-dir=$TSM_DIR"
		"rd.kagi.timeout=${FX_AGENT_TIMEOUT:-30}" "rd.kagi.attempt-timeout=10"
		"rd.kagi.retries=1")
	if [ "$path" = vtpm ]; then
		opts+=("rd.kagi.tcti=$TCTI" "rd.kagi.eventlog=$EVENTLOG")
	else
		opts+=("rd.kagi.no-tpm=1")
	fi
	for v in "$@"; do
		# a later rd.kagi.X=... replaces an earlier one with the same name
		key=${v%%=*}
		for i in "${!opts[@]}"; do
			[ "${opts[$i]%%=*}" != "$key" ] || [ "$key" = rd.kagi.volume ] || unset 'opts[i]'
		done
		opts+=("$v")
	done
	echo "${opts[*]}" >"$file"
}
AGENT_RC=
# fx_agent NAME BINARY vtpm|direct VOLUME-NAME... [-- rd.kagi.X=Y...] [--- ARGS...]:
# `BINARY unlock --cmdline FILE --check-only --device UUID=LOOPDEV...` with its output in
# $tmp/agent/NAME.out and .err; sets AGENT_RC
fx_agent() {
	local name=$1 bin=$2 path=$3 uuids=() devs=() cl=() args=()
	shift 3
	mkdir -p "$tmp/agent"
	while [ $# -gt 0 ] && [ "$1" != -- ] && [ "$1" != --- ]; do
		uuids+=("${LUKS_UUID[$1]}")
		devs+=(--device "${LUKS_UUID[$1]}=${LUKS_DEV[$1]}")
		shift
	done
	if [ "${1:-}" = -- ]; then
		shift
		while [ $# -gt 0 ] && [ "$1" != --- ]; do
			cl+=("$1")
			shift
		done
	fi
	[ "${1:-}" != --- ] || shift
	args=("$@")
	fx_cmdline "$tmp/agent/$name.cmdline" "$path" "${uuids[@]}" -- "${cl[@]}"
	"$bin" unlock --cmdline "$tmp/agent/$name.cmdline" --check-only "${devs[@]}" "${args[@]}" \
		>"$tmp/agent/$name.out" 2>"$tmp/agent/$name.err" </dev/null
	AGENT_RC=$?
	return 0
}
# fx_enroll NAME: `kagi enroll` of image NAME through the admin API (random key, new keyslot)
fx_enroll() {
	printf '%s' "$FX_PASSPHRASE" | "$kagi" enroll --device "${LUKS_DEV[$1]}" --url "$VERIFIER_URL" \
		--ca "$TLS_SERVER_CA" --admin-cert "$TLS_ADMIN_CERT" --admin-key "$TLS_ADMIN_KEY" \
		--label "$1" --passphrase-stdin >"$tmp/enroll-$1.log" 2>&1
}
# audit_count DECISION [CODE]: /v1/attest audit lines with that decision (and reason code)
audit_count() {
	[ -s "$AUDIT_LOG" ] || {
		echo 0
		return
	}
	jq -s --arg d "$1" --arg c "${2:-}" '[.[] | select(.route == "/v1/attest" and
		.decision == $d and ($c == "" or any(.reasons[]?; . == $c)))] | length' "$AUDIT_LOG"
}
