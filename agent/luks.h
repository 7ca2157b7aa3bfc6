/* SPDX-License-Identifier: Apache-2.0 */
/*
 * luks.h: LUKS2 through libcryptsetup (shared/spec section 8).
 *
 * Unlocking only reads: the header is loaded once (crypt_load without repair), its UUID must be
 * the volume's, and a header whose data or keyslot cipher is cipher_null (a host-forged header
 * that would "open" with any key, CVE-2025-59054) or whose volume key is shorter than 256 bits
 * is refused before any key is tried. Enrolling is the one operation that writes a header:
 * it adds (and on failure removes) exactly one keyslot. libcryptsetup messages go to the debug
 * log; the caller reports failures.
 */
#ifndef KAGI_LUKS_H
#define KAGI_LUKS_H

#include <stdbool.h>

#include "lib/err.h"
#include "lib/secret.h"

#define LUKS_UUID_LEN                36
#define LUKS_MIN_VOLUME_KEY          32 /* bytes */
#define LUKS_ENROLL_PBKDF_ITERATIONS 1000

/* Route libcryptsetup's messages to the debug log (once at start). */
void luks_init_logging(void);

/* Can this system create device-mapper mappings at all? */
bool luks_dm_available(void);

/*
 * Open the LUKS2 volume on `device` with `key` as a keyslot passphrase, as mapping `name`, or,
 * with name NULL, only prove that the key opens a keyslot (no mapping is created). `uuid` is
 * the expected header UUID (canonical form, compared case-insensitively). Returns the keyslot
 * (>= 0); -EPERM if the key opens no keyslot, -ENOKEY for a header UUID mismatch, -EMEDIUMTYPE
 * for a header that is not LUKS2 or has a refused cipher, -EEXIST if the mapping exists.
 */
int luks_open(const char *device, const char *uuid, const char *name, const struct secret *key,
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
