/* SPDX-License-Identifier: Apache-2.0 */
/*
 * luks.h: LUKS2 through libcryptsetup (shared/spec section 8).
 *
 * The host controls the disk, so the header is untrusted input (CVE-2025-59054: a forged
 * cipher_null header "opens" with any key). Unlocking therefore reads the header and keyslot
 * area ONCE into a private copy (crypt_header_backup into a fresh mkdtemp directory, mode 0700,
 * under $TMPDIR, else /run, else /tmp; in the initramfs /run is RAM), loads that copy as a
 * detached header of the device (crypt_init_data_device) and from then on uses only the copy:
 * the allowlist below is checked on it and the key is tried / the mapping created from it, so
 * a host rewriting the on-disk header after the check changes nothing. The copy is removed
 * before returning. Unlocking never writes to the device.
 *
 * Allowlist (every check happens before any key is used):
 *   - type LUKS2 (LUKS1 and others: "luks.type"); no reencryption in progress
 *     ("luks.reencrypt", which also rules out multi-segment headers);
 *   - the UUID is the expected volume's ("luks.uuid");
 *   - data segment cipher ("luks.cipher") and every keyslot's area cipher
 *     ("luks.keyslot.cipher") in: aes-xts-plain64 with a 32- or 64-byte key,
 *     aes-cbc-essiv:sha256 with a 32-byte key (LUKS1-converted volumes). No cipher_null,
 *     no other ciphers, modes or IV generators. The volume key size is checked with the
 *     cipher ("luks.key_size");
 *   - encryption sector size 512, 1024, 2048 or 4096 ("luks.sector_size");
 *   - no integrity protection unless limits->allow_integrity ("luks.integrity");
 *   - at least one active keyslot ("luks.keyslot"), and each active or unbound keyslot's KDF
 *     ("luks.keyslot.kdf"): pbkdf2 with sha256 or sha512 and iterations <= the bound, or
 *     argon2i/argon2id with memory, time cost and threads <= the bounds, so a crafted header
 *     cannot burn the boot time budget.
 * Enrolling is the one operation that writes a header: it adds (and on failure removes)
 * exactly one keyslot; it applies the same allowlist to the device's header first.
 * libcryptsetup messages go to the debug log; the caller reports failures.
 */
#ifndef KAGI_LUKS_H
#define KAGI_LUKS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/secret.h"

#define LUKS_UUID_LEN                36
#define LUKS_MIN_VOLUME_KEY          32 /* bytes */
#define LUKS_ENROLL_PBKDF_ITERATIONS 1000

/* KDF cost bounds per keyslot (defaults: luks_limits_default). */
#define LUKS_MAX_PBKDF2_ITERATIONS 4000000u /* ~2 s of PBKDF2-SHA256 on a fast core */
#define LUKS_MAX_ARGON2_MEMORY_KB  1048576u /* 1 GiB, cryptsetup's own default maximum */
#define LUKS_MAX_ARGON2_TIME       16u
#define LUKS_MAX_ARGON2_PARALLEL   4u

struct luks_limits {
	uint32_t pbkdf2_max_iterations;
	uint32_t argon2_max_memory_kb;
	uint32_t argon2_max_time;
	uint32_t argon2_max_parallel;
	bool allow_integrity;
};

/* Fill *l with the LUKS_MAX_* bounds above and allow_integrity false. */
void luks_limits_default(struct luks_limits *l);

/* Route libcryptsetup's messages to the debug log (once at start). */
void luks_init_logging(void);

/* Can this system create device-mapper mappings at all? */
bool luks_dm_available(void);

/*
 * Open the LUKS2 volume on `device` with `key` as a keyslot passphrase, as mapping `name`, or,
 * with name NULL, only prove that the key opens a keyslot (no mapping is created). `uuid` is
 * the expected header UUID (canonical form, compared case-insensitively). Returns the keyslot
 * (>= 0); -EPERM if the key opens no keyslot, -ENOKEY for a header UUID mismatch, -EMEDIUMTYPE
 * for a header that is not LUKS2 or fails the allowlist, -EEXIST if the mapping exists.
 * Uses the default limits.
 */
int luks_open(const char *device, const char *uuid, const char *name, const struct secret *key,
	      struct kagi_err *reterr);

/* luks_open with explicit limits (NULL: the defaults). */
int luks_open_limits(const char *device, const char *uuid, const char *name,
		     const struct secret *key, const struct luks_limits *limits,
		     struct kagi_err *reterr);

/*
 * Add a keyslot for new_key (unlocked with the existing `passphrase`) using PBKDF2-SHA256 with
 * LUKS_ENROLL_PBKDF_ITERATIONS and no benchmark (new_key is random: a slow KDF would only add
 * boot time). Returns the new keyslot number and the header UUID in ret_uuid.
 */
int luks_enroll_key(const char *device, const struct secret *passphrase,
		    const struct secret *new_key, char ret_uuid[LUKS_UUID_LEN + 1],
		    struct kagi_err *reterr);

/* Destroy one keyslot (undo of luks_enroll_key); the header UUID must still be `uuid`. */
int luks_remove_keyslot(const char *device, const char *uuid, int keyslot, struct kagi_err *reterr);

#endif
