// SPDX-License-Identifier: Apache-2.0
/* luks.c: LUKS2 key checks, activation and keyslot enrolment with libcryptsetup. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

void luks_limits_default(struct luks_limits *l)
{
	*l = (struct luks_limits){
		.pbkdf2_max_iterations = LUKS_MAX_PBKDF2_ITERATIONS,
		.argon2_max_memory_kb = LUKS_MAX_ARGON2_MEMORY_KB,
		.argon2_max_time = LUKS_MAX_ARGON2_TIME,
		.argon2_max_parallel = LUKS_MAX_ARGON2_PARALLEL,
		.allow_integrity = false,
	};
}

/* The allowed cipher specs (data segment and keyslot areas) with their key sizes in bytes. */
static const struct {
	const char *cipher, *mode;
	int key_min, key_max;
} allowed_ciphers[] = {
	{ "aes", "xts-plain64", 32, 64 },
	{ "aes", "cbc-essiv:sha256", 32, 32 },
};
#define ALLOWED_CIPHERS_TEXT                                                                       \
	"aes-xts-plain64 (32 or 64-byte key), aes-cbc-essiv:sha256 (32-byte key)"

/* Index into allowed_ciphers of "cipher-mode" (or of cipher + mode), -1 if not allowed. */
static int cipher_index(const char *cipher, const char *mode)
{
	for (size_t i = 0; i < sizeof(allowed_ciphers) / sizeof(allowed_ciphers[0]); i++) {
		const char *c = allowed_ciphers[i].cipher, *m = allowed_ciphers[i].mode;
		size_t cl = strlen(c);

		if (mode) {
			if (strcmp(cipher, c) == 0 && strcmp(mode, m) == 0)
				return (int)i;
		} else if (strncmp(cipher, c, cl) == 0 && cipher[cl] == '-' &&
			   strcmp(cipher + cl + 1, m) == 0) {
			return (int)i;
		}
	}
	return -1;
}

static int check_kdf(struct crypt_device *cd, const char *device, int slot,
		     const struct luks_limits *lim, struct kagi_err *reterr)
{
	struct crypt_pbkdf_type p = { 0 };
	int r = crypt_keyslot_get_pbkdf(cd, slot, &p);

	if (r < 0 || !p.type)
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.keyslot.kdf", KAGI_ERR_NO_OFFSET,
				    "'%s': keyslot %d has no readable KDF: refused", device, slot);
	if (strcmp(p.type, CRYPT_KDF_PBKDF2) == 0) {
		if (!p.hash || (strcmp(p.hash, "sha256") != 0 && strcmp(p.hash, "sha512") != 0))
			return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.keyslot.kdf",
					    KAGI_ERR_NO_OFFSET,
					    "'%s': keyslot %d uses pbkdf2 with hash %s, allowed: "
					    "sha256, sha512",
					    device, slot, p.hash ? p.hash : "(none)");
		if (p.iterations > lim->pbkdf2_max_iterations)
			return kagi_err_set(
				reterr, -EMEDIUMTYPE, "luks.keyslot.kdf", KAGI_ERR_NO_OFFSET,
				"'%s': keyslot %d uses pbkdf2 with %u iterations, at most "
				"%u allowed",
				device, slot, p.iterations, lim->pbkdf2_max_iterations);
		return 0;
	}
	if (strcmp(p.type, CRYPT_KDF_ARGON2I) == 0 || strcmp(p.type, CRYPT_KDF_ARGON2ID) == 0) {
		if (p.max_memory_kb > lim->argon2_max_memory_kb)
			return kagi_err_set(
				reterr, -EMEDIUMTYPE, "luks.keyslot.kdf", KAGI_ERR_NO_OFFSET,
				"'%s': keyslot %d uses %s with %u KiB of memory, at most "
				"%u KiB allowed",
				device, slot, p.type, p.max_memory_kb, lim->argon2_max_memory_kb);
		if (p.iterations > lim->argon2_max_time)
			return kagi_err_set(
				reterr, -EMEDIUMTYPE, "luks.keyslot.kdf", KAGI_ERR_NO_OFFSET,
				"'%s': keyslot %d uses %s with time cost %u, at most %u "
				"allowed",
				device, slot, p.type, p.iterations, lim->argon2_max_time);
		if (p.parallel_threads > lim->argon2_max_parallel)
			return kagi_err_set(
				reterr, -EMEDIUMTYPE, "luks.keyslot.kdf", KAGI_ERR_NO_OFFSET,
				"'%s': keyslot %d uses %s with %u threads, at most %u "
				"allowed",
				device, slot, p.type, p.parallel_threads, lim->argon2_max_parallel);
		return 0;
	}
	return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.keyslot.kdf", KAGI_ERR_NO_OFFSET,
			    "'%s': keyslot %d uses KDF %s, allowed: pbkdf2, argon2i, argon2id",
			    device, slot, p.type);
}

/* The allowlist (luks.h), on a loaded LUKS2 context. No key is used. */
static int check_header(struct crypt_device *cd, const char *device, const struct luks_limits *lim,
			struct kagi_err *reterr)
{
	const char *type = crypt_get_type(cd);
	const char *cipher = crypt_get_cipher(cd), *mode = crypt_get_cipher_mode(cd);
	struct crypt_params_integrity ip = { 0 };
	int vk = crypt_get_volume_key_size(cd), ss = crypt_get_sector_size(cd), ci, active = 0;

	if (!type || strcmp(type, CRYPT_LUKS2) != 0)
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.type", KAGI_ERR_NO_OFFSET,
				    "'%s' is %s, only LUKS2 is allowed", device,
				    type ? type : "of unknown type");
	if (crypt_reencrypt_status(cd, NULL) != CRYPT_REENCRYPT_NONE)
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.reencrypt", KAGI_ERR_NO_OFFSET,
				    "'%s': the header records a reencryption: refused", device);
	ci = cipher && mode ? cipher_index(cipher, mode) : -1;
	if (ci < 0)
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.cipher", KAGI_ERR_NO_OFFSET,
				    "'%s': the data segment cipher is %s-%s, allowed: %s", device,
				    cipher ? cipher : "(none)", mode ? mode : "(none)",
				    ALLOWED_CIPHERS_TEXT);
	if (vk < allowed_ciphers[ci].key_min || vk > allowed_ciphers[ci].key_max ||
	    vk < LUKS_MIN_VOLUME_KEY)
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.key_size", KAGI_ERR_NO_OFFSET,
				    "'%s': a %d-byte volume key for %s-%s, allowed: %s", device, vk,
				    cipher, mode, ALLOWED_CIPHERS_TEXT);
	if (ss != 512 && ss != 1024 && ss != 2048 && ss != 4096)
		return kagi_err_set(
			reterr, -EMEDIUMTYPE, "luks.sector_size", KAGI_ERR_NO_OFFSET,
			"'%s': encryption sector size %d, allowed: 512, 1024, 2048, 4096", device,
			ss);
	if (crypt_get_integrity_info(cd, &ip) == 0 && ip.integrity && ip.integrity[0] &&
	    !lim->allow_integrity)
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.integrity", KAGI_ERR_NO_OFFSET,
				    "'%s': the data segment uses integrity %s, allowed: none",
				    device, ip.integrity);
	for (int slot = 0; slot < crypt_keyslot_max(CRYPT_LUKS2); slot++) {
		crypt_keyslot_info st = crypt_keyslot_status(cd, slot);
		const char *enc;
		size_t ks = 0;
		int r;

		if (st != CRYPT_SLOT_ACTIVE && st != CRYPT_SLOT_ACTIVE_LAST &&
		    st != CRYPT_SLOT_UNBOUND)
			continue;
		if (st != CRYPT_SLOT_UNBOUND)
			active++;
		enc = crypt_keyslot_get_encryption(cd, slot, &ks);
		ci = enc ? cipher_index(enc, NULL) : -1;
		if (ci < 0 || ks < (size_t)allowed_ciphers[ci].key_min ||
		    ks > (size_t)allowed_ciphers[ci].key_max)
			return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.keyslot.cipher",
					    KAGI_ERR_NO_OFFSET,
					    "'%s': keyslot %d is encrypted with %s (%zu-byte key), "
					    "allowed: %s",
					    device, slot, enc ? enc : "an unknown cipher", ks,
					    ALLOWED_CIPHERS_TEXT);
		r = check_kdf(cd, device, slot, lim, reterr);
		if (r < 0)
			return r;
	}
	if (active == 0)
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.keyslot", KAGI_ERR_NO_OFFSET,
				    "'%s' has no active keyslot", device);
	return 0;
}

/* The private header copy: a mkdtemp directory (0700) holding one file. */
struct header_copy {
	char dir[256];
	char file[300];
};

static void header_copy_remove(struct header_copy *h)
{
	if (h->file[0])
		(void)unlink(h->file);
	if (h->dir[0])
		(void)rmdir(h->dir);
	h->file[0] = h->dir[0] = '\0';
}

static int header_copy_dir(struct header_copy *h, struct kagi_err *reterr)
{
	const char *bases[] = { getenv("TMPDIR"), "/run", "/tmp" };

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		int n;

		if (!bases[i] || bases[i][0] != '/' || access(bases[i], W_OK | X_OK) != 0)
			continue;
		n = snprintf(h->dir, sizeof(h->dir), "%s/kagi-luks-XXXXXX", bases[i]);
		if (n < 0 || (size_t)n >= sizeof(h->dir))
			continue;
		if (!mkdtemp(h->dir))
			continue; /* mkdtemp creates it with mode 0700 */
		snprintf(h->file, sizeof(h->file), "%s/header", h->dir);
		return 0;
	}
	h->dir[0] = '\0';
	return kagi_err_set(reterr, -errno ? -errno : -ENOENT, "luks.header_copy",
			    KAGI_ERR_NO_OFFSET,
			    "no writable directory for the header copy ($TMPDIR, /run, /tmp)");
}

/*
 * Read the header of `device` once into h->file and return a context on that copy with
 * `device` as data device. The device context is freed before returning.
 */
static int load_copy(const char *device, struct header_copy *h, struct crypt_device **ret,
		     struct kagi_err *reterr)
{
	_cleanup_(crypt_freep) struct crypt_device *cd = NULL;
	struct crypt_device *cd2 = NULL;
	const char *type;
	int r;

	r = crypt_init(&cd, device);
	if (r < 0)
		return kagi_err_set(reterr, r, "luks.device", KAGI_ERR_NO_OFFSET,
				    "cannot open '%s': %s", device, strerror(-r));
	/* any LUKS version, so that a LUKS1 header gets its own message */
	r = crypt_load(cd, CRYPT_LUKS, NULL);
	if (r < 0)
		return kagi_err_set(reterr, r == -EINVAL ? -EMEDIUMTYPE : r, "luks.header",
				    KAGI_ERR_NO_OFFSET, "'%s' has no valid LUKS header (%s)",
				    device, strerror(-r));
	type = crypt_get_type(cd);
	if (!type || strcmp(type, CRYPT_LUKS2) != 0)
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.type", KAGI_ERR_NO_OFFSET,
				    "'%s' is %s, only LUKS2 is allowed", device,
				    type ? type : "of unknown type");
	r = header_copy_dir(h, reterr);
	if (r < 0)
		return r;
	r = crypt_header_backup(cd, CRYPT_LUKS2, h->file);
	if (r < 0)
		return kagi_err_set(reterr, r, "luks.header_copy", KAGI_ERR_NO_OFFSET,
				    "copying the header of '%s' to %s failed: %s", device, h->file,
				    strerror(-r));
	r = crypt_init_data_device(&cd2, h->file, device);
	if (r < 0)
		return kagi_err_set(reterr, r, "luks.header_copy", KAGI_ERR_NO_OFFSET,
				    "cannot use the header copy of '%s': %s", device, strerror(-r));
	r = crypt_load(cd2, CRYPT_LUKS2, NULL);
	if (r < 0) {
		crypt_free(cd2);
		return kagi_err_set(reterr, r == -EINVAL ? -EMEDIUMTYPE : r, "luks.header",
				    KAGI_ERR_NO_OFFSET,
				    "the header copy of '%s' is no valid LUKS2 header (%s)", device,
				    strerror(-r));
	}
	*ret = cd2;
	return 0;
}

int luks_open_limits(const char *device, const char *uuid, const char *name,
		     const struct secret *key, const struct luks_limits *limits,
		     struct kagi_err *reterr)
{
	struct header_copy h = { { 0 }, { 0 } };
	struct crypt_device *cd = NULL;
	struct luks_limits def;
	int r, slot;

	if (!limits) {
		luks_limits_default(&def);
		limits = &def;
	}
	r = load_copy(device, &h, &cd, reterr);
	if (r < 0)
		goto out;
	/* from here on only the validated copy: checks and activation */
	r = check_uuid(cd, device, uuid, reterr);
	if (r < 0)
		goto out;
	r = check_header(cd, device, limits, reterr);
	if (r < 0)
		goto out;
	/* name NULL: only verify the key against the keyslots, create no mapping */
	slot = crypt_activate_by_passphrase(cd, name, CRYPT_ANY_SLOT, (const char *)key->data,
					    key->len, 0);
	if (slot >= 0) {
		r = slot;
		goto out;
	}
	switch (slot) {
	case -EPERM:
		r = kagi_err_set(reterr, -EPERM, "luks.key", KAGI_ERR_NO_OFFSET,
				 "the released key fits no keyslot of '%s'", device);
		break;
	case -EEXIST:
		r = kagi_err_set(reterr, -EEXIST, "luks.mapping", KAGI_ERR_NO_OFFSET,
				 "a device-mapper device named '%s' already exists", name);
		break;
	default:
		r = kagi_err_set(reterr, slot, "luks.activate", KAGI_ERR_NO_OFFSET,
				 "%s '%s' failed: %s", name ? "activating" : "checking the key of",
				 device, strerror(-slot));
	}
out:
	if (cd)
		crypt_free(cd);
	header_copy_remove(&h);
	return r;
}

int luks_open(const char *device, const char *uuid, const char *name, const struct secret *key,
	      struct kagi_err *reterr)
{
	return luks_open_limits(device, uuid, name, key, NULL, reterr);
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
	struct luks_limits lim;
	const char *uuid;
	int r, slot;

	r = load(device, &cd, reterr);
	if (r < 0)
		return r;
	uuid = crypt_get_uuid(cd);
	if (!uuid || strlen(uuid) != LUKS_UUID_LEN)
		return kagi_err_set(reterr, -EMEDIUMTYPE, "luks.uuid", KAGI_ERR_NO_OFFSET,
				    "the LUKS2 header on '%s' has no usable UUID", device);
	luks_limits_default(&lim);
	r = check_header(cd, device, &lim, reterr);
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
