// SPDX-License-Identifier: Apache-2.0
/* luks.c: LUKS2 key checks, activation and keyslot enrolment with libcryptsetup. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libcryptsetup.h>

#include "lib/log.h"
#include "lib/util.h"
#include "luks.h"

static void crypt_freep(struct crypt_device **cd)
{
	if (*cd)
		crypt_free(*cd);
}

static void on_crypt_log(int level, const char *msg, void *usrptr)
{
	size_t n = strlen(msg);

	(void)usrptr;
	while (n > 0 && msg[n - 1] == '\n')
		n--;
	log_debug("libcryptsetup (%d): %.*s", level, (int)n, msg);
}

void luks_init_logging(void)
{
	crypt_set_log_callback(NULL, on_crypt_log, NULL);
}

bool luks_dm_available(void)
{
	return access("/dev/mapper/control", R_OK | W_OK) == 0;
}

/* crypt_init + crypt_load(LUKS2), no repair: nothing is written. */
static int load(const char *device, struct crypt_device **ret, struct kagi_err *reterr)
{
	struct crypt_device *cd = NULL;
	int r;

	r = crypt_init(&cd, device);
	if (r < 0)
		return kagi_err_set(reterr, r, "luks.device", KAGI_ERR_NO_OFFSET,
				    "cannot open '%s': %s", device, strerror(-r));
	r = crypt_load(cd, CRYPT_LUKS2, NULL);
	if (r < 0) {
		crypt_free(cd);
		return kagi_err_set(reterr, r == -EINVAL ? -EMEDIUMTYPE : r, "luks.header",
				    KAGI_ERR_NO_OFFSET, "'%s' has no valid LUKS2 header (%s)",
				    device, strerror(-r));
	}
	*ret = cd;
	return 0;
}

static int check_uuid(struct crypt_device *cd, const char *device, const char *uuid,
		      struct kagi_err *reterr)
{
	const char *have = crypt_get_uuid(cd);

	if (!have || strlen(have) != LUKS_UUID_LEN || strcasecmp(have, uuid) != 0)
		return kagi_err_set(reterr, -ENOKEY, "luks.uuid", KAGI_ERR_NO_OFFSET,
				    "the LUKS2 header on '%s' has UUID %s, expected %s", device,
				    have ? have : "(none)", uuid);
	return 0;
}

static bool is_null_cipher(const char *c)
{
	return c && strncmp(c, "cipher_null", 11) == 0;
}

/* The minimum a forged header must not get past (the full allowlist is the boot code's). */
static int check_header(struct crypt_device *cd, const char *device, struct kagi_err *reterr)
{
	const char *cipher = crypt_get_cipher(cd);
	int vk = crypt_get_volume_key_size(cd);

	if (!cipher || is_null_cipher(cipher))
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.cipher", KAGI_ERR_NO_OFFSET,
				    "'%s': the data segment cipher is %s: refused", device,
				    cipher ? cipher : "unknown");
	if (vk < LUKS_MIN_VOLUME_KEY)
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.key_size", KAGI_ERR_NO_OFFSET,
				    "'%s': a %d-byte volume key is too short (at least %d)", device,
				    vk, LUKS_MIN_VOLUME_KEY);
	for (int slot = 0; slot < crypt_keyslot_max(CRYPT_LUKS2); slot++) {
		crypt_keyslot_info st = crypt_keyslot_status(cd, slot);
		const char *enc;
		size_t ks = 0;

		if (st != CRYPT_SLOT_ACTIVE && st != CRYPT_SLOT_ACTIVE_LAST &&
		    st != CRYPT_SLOT_UNBOUND)
			continue;
		enc = crypt_keyslot_get_encryption(cd, slot, &ks);
		if (!enc || is_null_cipher(enc))
			return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.keyslot_cipher",
					    KAGI_ERR_NO_OFFSET,
					    "'%s': keyslot %d is encrypted with %s: refused",
					    device, slot, enc ? enc : "an unknown cipher");
	}
	return 0;
}

int luks_open(const char *device, const char *uuid, const char *name, const struct secret *key,
	      struct kagi_err *reterr)
{
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	int r, slot;

	r = load(device, &cd, reterr);
	if (r < 0)
		return r;
	r = check_uuid(cd, device, uuid, reterr);
	if (r < 0)
		return r;
	r = check_header(cd, device, reterr);
	if (r < 0)
		return r;
	/* name NULL: only verify the key against the keyslots, create no mapping */
	slot = crypt_activate_by_passphrase(cd, name, CRYPT_ANY_SLOT, (const char *)key->data,
					    key->len, 0);
	if (slot >= 0)
		return slot;
	switch (slot) {
	case -EPERM:
		return kagi_err_set(reterr, -EPERM, "luks.key", KAGI_ERR_NO_OFFSET,
				    "the released key fits no keyslot of '%s'", device);
	case -EEXIST:
		return kagi_err_set(reterr, -EEXIST, "luks.mapping", KAGI_ERR_NO_OFFSET,
				    "a device-mapper device named '%s' already exists", name);
	default:
		return kagi_err_set(
			reterr, slot, "luks.activate", KAGI_ERR_NO_OFFSET, "%s '%s' failed: %s",
			name ? "activating" : "checking the key of", device, strerror(-slot));
	}
}

int luks_enroll_key(const char *device, const struct secret *passphrase,
		    const struct secret *new_key, char ret_uuid[LUKS_UUID_LEN + 1],
		    struct kagi_err *reterr)
{
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	/*
	 * The new key is 256 random bits: no password guessing to slow down, so the KDF only
	 * costs boot time. PBKDF2-SHA256 at libcryptsetup's minimum of 1000 iterations, without
	 * the benchmark that would otherwise pick a cost of about 2 s (shared/spec 8.2).
	 */
	struct crypt_pbkdf_type pbkdf = {
		.type = CRYPT_KDF_PBKDF2,
		.hash = "sha256",
		.iterations = LUKS_ENROLL_PBKDF_ITERATIONS,
		.flags = CRYPT_PBKDF_NO_BENCHMARK,
	};
	const char *uuid;
	int r, slot;

	r = load(device, &cd, reterr);
	if (r < 0)
		return r;
	uuid = crypt_get_uuid(cd);
	if (!uuid || strlen(uuid) != LUKS_UUID_LEN)
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.uuid", KAGI_ERR_NO_OFFSET,
				    "the LUKS2 header on '%s' has no usable UUID", device);
	r = check_header(cd, device, reterr);
	if (r < 0)
		return r;
	r = crypt_set_pbkdf_type(cd, &pbkdf);
	if (r < 0)
		return kagi_err_set(reterr, r, "luks.pbkdf", KAGI_ERR_NO_OFFSET,
				    "setting PBKDF2 with %d iterations failed: %s",
				    LUKS_ENROLL_PBKDF_ITERATIONS, strerror(-r));
	slot = crypt_keyslot_add_by_passphrase(cd, CRYPT_ANY_SLOT, (const char *)passphrase->data,
					       passphrase->len, (const char *)new_key->data,
					       new_key->len);
	if (slot == -EPERM)
		return kagi_err_set(reterr, -EPERM, "luks.passphrase", KAGI_ERR_NO_OFFSET,
				    "the given passphrase opens no keyslot of '%s'", device);
	if (slot < 0)
		return kagi_err_set(reterr, slot, "luks.keyslot", KAGI_ERR_NO_OFFSET,
				    "adding a keyslot to '%s' failed: %s", device, strerror(-slot));
	for (size_t i = 0; i < LUKS_UUID_LEN; i++)
		ret_uuid[i] =
			(char)((uuid[i] >= 'A' && uuid[i] <= 'F') ? uuid[i] - 'A' + 'a' : uuid[i]);
	ret_uuid[LUKS_UUID_LEN] = '\0';
	return slot;
}

int luks_remove_keyslot(const char *device, const char *uuid, int keyslot, struct kagi_err *reterr)
{
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	int r;

	r = load(device, &cd, reterr);
	if (r < 0)
		return r;
	r = check_uuid(cd, device, uuid, reterr);
	if (r < 0)
		return r;
	r = crypt_keyslot_destroy(cd, keyslot);
	if (r < 0)
		return kagi_err_set(reterr, r, "luks.keyslot", KAGI_ERR_NO_OFFSET,
				    "removing keyslot %d of '%s' failed: %s", keyslot, device,
				    strerror(-r));
	return 0;
}
