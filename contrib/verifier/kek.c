// SPDX-License-Identifier: Apache-2.0
/*
 * kek.c: the key-encryption key of the verifier's store.
 *
 * Both backends produce the same wrapped format, AES-256-GCM with a 12-byte IV and a 16-byte tag:
 *   0x01 || iv(12) || ciphertext || tag(16)
 * so a store can move from a KEK file to a token holding the same key (or back).
 *  - file: 32 bytes in a file only its owner may read, kept in locked memory; OpenSSL does GCM.
 *  - pkcs11: an AES secret key object in a PKCS#11 token; CKM_AES_GCM runs inside the token with
 *    an IV generated here, and the KEK never leaves the token.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>

#include "kek.h"
#include "log.h"
#include "util.h"

#define KEK_VERSION   0x01
#define KEK_IV_LEN    12
#define KEK_TAG_LEN   16
#define KEK_KEY_LEN   32
#define KEK_OVERHEAD  (1 + KEK_IV_LEN + KEK_TAG_LEN)
#define KEK_MAX_PLAIN 4096 /* volume keys are 16..64 bytes; anything far larger is a misuse */
#define KEK_URL_MAX   4096
#define KEK_PIN_MAX   256
#define KEK_MAX_SLOTS 256

struct kek_p11 {
	char *module, *token, *object, *pin_file;
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	bool module_ref; /* holds a reference in the module registry */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session; /* CK_INVALID_HANDLE when closed */
	CK_OBJECT_HANDLE key;
	pthread_mutex_t lock; /* a PKCS#11 session serves one operation at a time */
};

struct kek {
	bool pkcs11;
	struct secret *key; /* file backend */
	struct kek_p11 p11;
};

/* ---- PKCS#11 return codes in words ----------------------------------------------------------- */

static const struct {
	CK_RV rv;
	const char *name, *words;
} ckr_table[] = {
	{ CKR_CANCEL, "CKR_CANCEL", "the operation was cancelled" },
	{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY", "out of memory in the PKCS#11 module" },
	{ CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", "the slot does not exist" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", "the module reported a general error" },
	{ CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", "the function failed" },
	{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", "bad arguments" },
	{ CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE", "the attribute is sensitive" },
	{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID",
	  "the object has no such attribute" },
	{ CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID",
	  "an attribute value is invalid" },
	{ CKR_DATA_INVALID, "CKR_DATA_INVALID", "the input data is invalid" },
	{ CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", "the input data has an invalid length" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", "the token reported a device error" },
	{ CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", "the token is out of memory" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", "the token was removed" },
	{ CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID",
	  "the ciphertext does not authenticate" },
	{ CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE",
	  "the ciphertext has an invalid length" },
	{ CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED",
	  "the module does not support this function" },
	{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", "the key handle is not valid" },
	{ CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE", "the key size is not supported" },
	{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT",
	  "the key type does not fit the mechanism" },
	{ CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED",
	  "the key's attributes do not allow this operation" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID", "the token does not support AES-GCM" },
	{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID",
	  "the token rejected the GCM parameters" },
	{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID",
	  "the object handle is not valid" },
	{ CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE", "another operation is active" },
	{ CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED",
	  "no operation was initialized" },
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", "the PIN is wrong" },
	{ CKR_PIN_INVALID, "CKR_PIN_INVALID", "the PIN has invalid characters" },
	{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", "the PIN is too long or too short" },
	{ CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", "the PIN has expired" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED", "the PIN is locked after too many wrong attempts" },
	{ CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", "the session was closed" },
	{ CKR_SESSION_COUNT, "CKR_SESSION_COUNT", "the token has too many open sessions" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID",
	  "the session is no longer valid" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", "no token is present in the slot" },
	{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", "the token is not recognized" },
	{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", "the user is logged in" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", "the user is not logged in" },
	{ CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED",
	  "the token has no user PIN (initialize it first)" },
	{ CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", "invalid user type" },
	{ CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL", "the output buffer is too small" },
	{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED",
	  "the module is not initialized" },
	{ CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED",
	  "the module is already initialized" },
	{ CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE", "the template is incomplete" },
	{ CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT", "the template is inconsistent" },
};

static const char *ckr_str(CK_RV rv, char *buf, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(ckr_table); i++)
		if (ckr_table[i].rv == rv) {
			snprintf(buf, len, "%s (0x%lx, %s)", ckr_table[i].name, (unsigned long)rv,
				 ckr_table[i].words);
			return buf;
		}
	snprintf(buf, len, "CKR 0x%lx", (unsigned long)rv);
	return buf;
}

static int ckr_errno(CK_RV rv)
{
	switch (rv) {
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY:
		return -ENOMEM;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_EXPIRED:
	case CKR_PIN_LOCKED:
	case CKR_USER_PIN_NOT_INITIALIZED:
	case CKR_USER_NOT_LOGGED_IN:
		return -EACCES;
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
		return -EPERM;
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
		return -EBADMSG;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED:
	case CKR_SLOT_ID_INVALID:
		return -ENODEV;
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_FUNCTION_NOT_SUPPORTED:
	case CKR_KEY_TYPE_INCONSISTENT:
	case CKR_KEY_SIZE_RANGE:
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

/* Every failing PKCS#11 call is reported as "C_Xxx failed: CKR_NAME (0x.., words)". */
static int p11_fail(struct kagi_err *e, const char *what, const char *call, CK_RV rv,
		    const char *context)
{
	char b[160];

	return kagi_err_set(e, ckr_errno(rv), what, KAGI_ERR_NO_OFFSET, "%s failed: %s%s%s", call,
			    ckr_str(rv, b, sizeof(b)), context ? "; " : "", context ? context : "");
}

/* ---- module registry: C_Initialize once per module, C_Finalize with the last user ------------ */

static struct {
	CK_FUNCTION_LIST_PTR f;
	unsigned refs;
	bool owned; /* we called C_Initialize, so we call C_Finalize */
} modules[16];
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

static CK_RV module_get(CK_FUNCTION_LIST_PTR f)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	size_t free_slot = ARRAY_SIZE(modules);
	CK_RV rv;

	pthread_mutex_lock(&modules_lock);
	for (size_t i = 0; i < ARRAY_SIZE(modules); i++) {
		if (modules[i].f == f) {
			modules[i].refs++;
			pthread_mutex_unlock(&modules_lock);
			return CKR_OK;
		}
		if (!modules[i].f && free_slot == ARRAY_SIZE(modules))
			free_slot = i;
	}
	if (free_slot == ARRAY_SIZE(modules)) {
		pthread_mutex_unlock(&modules_lock);
		return CKR_HOST_MEMORY;
	}
	rv = f->C_Initialize(&args);
	if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		/* ALREADY_INITIALIZED: someone else in this process owns the module */
		modules[free_slot].f = f;
		modules[free_slot].refs = 1;
		modules[free_slot].owned = rv == CKR_OK;
		rv = CKR_OK;
	}
	pthread_mutex_unlock(&modules_lock);
	return rv;
}

static void module_put(CK_FUNCTION_LIST_PTR f)
{
	pthread_mutex_lock(&modules_lock);
	for (size_t i = 0; i < ARRAY_SIZE(modules); i++) {
		if (modules[i].f != f)
			continue;
		if (--modules[i].refs == 0) {
			if (modules[i].owned)
				f->C_Finalize(NULL);
			modules[i].f = NULL;
		}
		break;
	}
	pthread_mutex_unlock(&modules_lock);
}

/* ---- URL parsing ----------------------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode (RFC 3986, as RFC 7512 PKCS#11 URIs use it) into a new string; no %00. */
static int pct_decode(const char *s, size_t n, char **ret)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		hi = i + 2 < n ? hexval(s[i + 1]) : -1;
		lo = i + 2 < n ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return -EINVAL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	*ret = out;
	return 0;
}

static void p11_done(struct kek_p11 *p)
{
	free(p->module);
	free(p->token);
	free(p->object);
	free(p->pin_file);
}

/*
 * module=PATH;token=LABEL;object=LABEL;pin-file=PATH. The RFC 7512 names module-path and
 * pin-source=file:PATH are accepted too, and ';', '?' and '&' all separate attributes.
 */
static int p11_parse(const char *spec, struct kek_p11 *p, struct kagi_err *e)
{
	const char *s = spec;

	while (*s) {
		size_t n = strcspn(s, ";?&");
		const char *eq = memchr(s, '=', n);
		char **slot = NULL;
		size_t klen;
		char *val;
		int r;

		if (n == 0) {
			s++;
			continue;
		}
		if (!eq)
			return kagi_err_set(e, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
					    "pkcs11 attribute '%.*s' has no '=value'", (int)n, s);
		klen = (size_t)(eq - s);
		if (klen == 6 && !strncmp(s, "module", 6))
			slot = &p->module;
		else if (klen == 11 && !strncmp(s, "module-path", 11))
			slot = &p->module;
		else if (klen == 5 && !strncmp(s, "token", 5))
			slot = &p->token;
		else if (klen == 6 && !strncmp(s, "object", 6))
			slot = &p->object;
		else if (klen == 8 && !strncmp(s, "pin-file", 8))
			slot = &p->pin_file;
		else if (klen == 10 && !strncmp(s, "pin-source", 10))
			slot = &p->pin_file;
		else
			return kagi_err_set(e, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
					    "unknown pkcs11 attribute '%.*s' (known: module, "
					    "token, object, pin-file)",
					    (int)klen, s);
		if (*slot)
			return kagi_err_set(e, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
					    "pkcs11 attribute '%.*s' is given twice", (int)klen, s);
		r = pct_decode(eq + 1, n - klen - 1, &val);
		if (r < 0)
			return kagi_err_set(e, r, "kek.url", KAGI_ERR_NO_OFFSET,
					    "pkcs11 attribute '%.*s' has a bad %%-escape",
					    (int)klen, s);
		if (klen == 10 && !strncmp(s, "pin-source", 10)) {
			if (strncmp(val, "file:", 5)) {
				free(val);
				return kagi_err_set(e, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
						    "pin-source must be file:PATH");
			}
			memmove(val, val + 5, strlen(val + 5) + 1);
		}
		*slot = val;
		s += n;
	}
	if (!p->module || !p->token || !p->object || !p->pin_file)
		return kagi_err_set(e, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
				    "pkcs11 KEK needs module=, token=, object= and pin-file= "
				    "(missing %s)",
				    !p->module   ? "module"
				    : !p->token  ? "token"
				    : !p->object ? "object"
						 : "pin-file");
	if (p->module[0] != '/')
		return kagi_err_set(e, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
				    "pkcs11 module '%s' must be an absolute path", p->module);
	if (!p->token[0] || strlen(p->token) > 32)
		return kagi_err_set(e, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
				    "token label must have 1 to 32 characters, not %zu",
				    strlen(p->token));
	if (!p->object[0] || !p->pin_file[0])
		return kagi_err_set(e, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
				    "object label and pin-file must not be empty");
	return 0;
}

/* ---- files only the owner may read ----------------------------------------------------------- */

/*
 * Read a whole small file straight into locked memory (no intermediate heap copy). The file
 * must be a regular file without group or other permissions. ret_len bytes are used in *ret,
 * whose length is max + 1 so a file that is too large is noticed.
 */
static int read_private_file(const char *path, const char *what, size_t max, struct secret **ret,
			     size_t *ret_len, struct kagi_err *e)
{
	_cleanup_close_ int fd = -1;
	_cleanup_secret_ struct secret *s = NULL;
	struct stat st;
	size_t len = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return kagi_err_set(e, -errno, what, KAGI_ERR_NO_OFFSET, "cannot open '%s': %s",
				    path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return kagi_err_set(e, -errno, what, KAGI_ERR_NO_OFFSET, "cannot stat '%s': %s",
				    path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return kagi_err_set(e, -EINVAL, what, KAGI_ERR_NO_OFFSET,
				    "'%s' is not a regular file", path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return kagi_err_set(e, -EPERM, what, KAGI_ERR_NO_OFFSET,
				    "'%s' has mode %04o: group and others must have no access "
				    "(chmod 600 '%s')",
				    path, (unsigned)(st.st_mode & 07777), path);
	s = secret_new(max + 1);
	if (!s)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, s->data + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kagi_err_set(e, -errno, what, KAGI_ERR_NO_OFFSET,
					    "cannot read '%s': %s", path, strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			break;
	}
	*ret = s;
	s = NULL;
	*ret_len = len;
	return 0;
}

static int kek_file_open(const char *path, struct kek *k, struct kagi_err *e)
{
	_cleanup_secret_ struct secret *buf = NULL;
	size_t len;
	int r;

	r = read_private_file(path, "kek.file", KEK_KEY_LEN, &buf, &len, e);
	if (r < 0)
		return r;
	if (len != KEK_KEY_LEN)
		return kagi_err_set(e, -EINVAL, "kek.file", KAGI_ERR_NO_OFFSET,
				    "'%s' holds %s%zu bytes, a KEK is exactly %d random bytes "
				    "(kagictl kek generate)",
				    path, len > KEK_KEY_LEN ? "more than " : "",
				    len > KEK_KEY_LEN ? (size_t)KEK_KEY_LEN : len, KEK_KEY_LEN);
	k->key = secret_new(KEK_KEY_LEN);
	if (!k->key)
		return -ENOMEM;
	memcpy(k->key->data, buf->data, KEK_KEY_LEN);
	return 0;
}

/* ---- PKCS#11 backend ------------------------------------------------------------------------- */

static void p11_close_session(struct kek_p11 *p)
{
	if (p->session != CK_INVALID_HANDLE) {
		/* Logout is per application, not per session: another KEK on the same token
		 * may still be using the login, so only the session is closed. */
		p->f->C_CloseSession(p->session);
		p->session = CK_INVALID_HANDLE;
	}
	p->key = CK_INVALID_HANDLE;
}

/* Blank-padded 32-byte label -> NUL-terminated, trailing blanks removed. */
static void label_str(const unsigned char lab[32], char out[33])
{
	size_t n = 32;

	memcpy(out, lab, 32);
	while (n && (out[n - 1] == ' ' || out[n - 1] == '\0'))
		n--;
	out[n] = '\0';
}

static int p11_find_slot(struct kek_p11 *p, struct kagi_err *e)
{
	_cleanup_free_ CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	char seen[256] = "";
	size_t seen_len = 0;
	CK_RV rv;

	rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv != CKR_OK)
		return p11_fail(e, "kek.pkcs11.slot", "C_GetSlotList", rv, NULL);
	if (n > KEK_MAX_SLOTS)
		n = KEK_MAX_SLOTS;
	slots = calloc(n ? n : 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		return p11_fail(e, "kek.pkcs11.slot", "C_GetSlotList", rv, NULL);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		char label[33];

		rv = p->f->C_GetTokenInfo(slots[i], &ti);
		if (rv != CKR_OK) {
			log_debug("kek: C_GetTokenInfo(slot %lu) failed: 0x%lx, skipping",
				  (unsigned long)slots[i], (unsigned long)rv);
			continue;
		}
		label_str(ti.label, label);
		if (streq(label, p->token)) {
			if (!(ti.flags & CKF_TOKEN_INITIALIZED))
				return kagi_err_set(e, -ENODEV, "kek.pkcs11.token",
						    KAGI_ERR_NO_OFFSET,
						    "token '%s' is not initialized", p->token);
			p->slot = slots[i];
			return 0;
		}
		if (seen_len < sizeof(seen) - 40)
			seen_len += (size_t)snprintf(seen + seen_len, sizeof(seen) - seen_len,
						     "%s'%s'", seen_len ? ", " : "", label);
	}
	return kagi_err_set(e, -ENODEV, "kek.pkcs11.token", KAGI_ERR_NO_OFFSET,
			    "no token labeled '%s' in module '%s' (tokens present: %s)", p->token,
			    p->module, seen_len ? seen : "none");
}

static int p11_read_pin(struct kek_p11 *p, struct secret **ret, size_t *ret_len, struct kagi_err *e)
{
	_cleanup_secret_ struct secret *pin = NULL;
	size_t len;
	int r;

	r = read_private_file(p->pin_file, "kek.pkcs11.pin", KEK_PIN_MAX, &pin, &len, e);
	if (r < 0)
		return r;
	if (len > KEK_PIN_MAX)
		return kagi_err_set(e, -EINVAL, "kek.pkcs11.pin", KAGI_ERR_NO_OFFSET,
				    "pin-file '%s' is larger than %d bytes", p->pin_file,
				    KEK_PIN_MAX);
	/* one trailing newline (echo 1234 > pin) is not part of the PIN */
	if (len && pin->data[len - 1] == '\n')
		len--;
	if (len && pin->data[len - 1] == '\r')
		len--;
	if (!len)
		return kagi_err_set(e, -EINVAL, "kek.pkcs11.pin", KAGI_ERR_NO_OFFSET,
				    "pin-file '%s' is empty", p->pin_file);
	*ret = pin;
	pin = NULL;
	*ret_len = len;
	return 0;
}

static int p11_check_key(struct kek_p11 *p, struct kagi_err *e)
{
	CK_KEY_TYPE type = 0;
	CK_ULONG vlen = 0;
	CK_BBOOL enc = CK_FALSE, dec = CK_FALSE, sens = CK_FALSE;
	CK_ATTRIBUTE a[] = {
		{ CKA_KEY_TYPE, &type, sizeof(type) },  { CKA_VALUE_LEN, &vlen, sizeof(vlen) },
		{ CKA_ENCRYPT, &enc, sizeof(enc) },     { CKA_DECRYPT, &dec, sizeof(dec) },
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
	};
	CK_RV rv;

	rv = p->f->C_GetAttributeValue(p->session, p->key, a, ARRAY_SIZE(a));
	/* ATTRIBUTE_TYPE_INVALID/SENSITIVE: the others were still filled in; unknown ones get
	 * ulValueLen = -1 and are judged by the operation itself */
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
		return p11_fail(e, "kek.pkcs11.object", "C_GetAttributeValue", rv, NULL);
	if (a[0].ulValueLen == sizeof(type) && type != CKK_AES)
		return kagi_err_set(e, -EINVAL, "kek.pkcs11.object", KAGI_ERR_NO_OFFSET,
				    "object '%s' is not an AES key (CKA_KEY_TYPE 0x%lx)", p->object,
				    (unsigned long)type);
	if (a[1].ulValueLen == sizeof(vlen) && vlen != KEK_KEY_LEN)
		return kagi_err_set(e, -EINVAL, "kek.pkcs11.object", KAGI_ERR_NO_OFFSET,
				    "object '%s' is a %lu-byte AES key, the KEK must be AES-256 "
				    "(32 bytes)",
				    p->object, (unsigned long)vlen);
	if ((a[2].ulValueLen == sizeof(enc) && !enc) || (a[3].ulValueLen == sizeof(dec) && !dec))
		return kagi_err_set(e, -EPERM, "kek.pkcs11.object", KAGI_ERR_NO_OFFSET,
				    "object '%s' does not allow %s (CKA_ENCRYPT and CKA_DECRYPT "
				    "must be true)",
				    p->object, !enc ? "encryption" : "decryption");
	if (a[4].ulValueLen == sizeof(sens) && !sens)
		return kagi_err_set(e, -EPERM, "kek.pkcs11.object", KAGI_ERR_NO_OFFSET,
				    "object '%s' is not sensitive (CKA_SENSITIVE false): its "
				    "value could be read out of the token; create it sensitive",
				    p->object);
	return 0;
}

static int p11_find_key(struct kek_p11 *p, struct kagi_err *e)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, p->object, strlen(p->object) },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv;

	rv = p->f->C_FindObjectsInit(p->session, tmpl, ARRAY_SIZE(tmpl));
	if (rv != CKR_OK)
		return p11_fail(e, "kek.pkcs11.object", "C_FindObjectsInit", rv, NULL);
	rv = p->f->C_FindObjects(p->session, found, ARRAY_SIZE(found), &n);
	p->f->C_FindObjectsFinal(p->session);
	if (rv != CKR_OK)
		return p11_fail(e, "kek.pkcs11.object", "C_FindObjects", rv, NULL);
	if (n == 0)
		return kagi_err_set(e, -ENOENT, "kek.pkcs11.object", KAGI_ERR_NO_OFFSET,
				    "token '%s' has no secret key labeled '%s'", p->token,
				    p->object);
	if (n > 1)
		return kagi_err_set(e, -ENOTUNIQ, "kek.pkcs11.object", KAGI_ERR_NO_OFFSET,
				    "token '%s' has more than one secret key labeled '%s'",
				    p->token, p->object);
	p->key = found[0];
	return p11_check_key(p, e);
}

/* Open a session, log in with the PIN from pin-file (wiped right after) and find the key. */
static int p11_connect(struct kek_p11 *p, struct kagi_err *e)
{
	_cleanup_secret_ struct secret *pin = NULL;
	size_t pin_len;
	char ctx[600];
	CK_RV rv;
	int r;

	r = p11_find_slot(p, e);
	if (r < 0)
		return r;
	rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
				 &p->session);
	if (rv != CKR_OK) {
		p->session = CK_INVALID_HANDLE;
		return p11_fail(e, "kek.pkcs11.session", "C_OpenSession", rv, NULL);
	}
	r = p11_read_pin(p, &pin, &pin_len, e);
	if (r < 0)
		goto fail;
	rv = p->f->C_Login(p->session, CKU_USER, pin->data, pin_len);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		snprintf(ctx, sizeof(ctx), "token '%s', PIN from '%s'", p->token, p->pin_file);
		r = p11_fail(e, "kek.pkcs11.login", "C_Login", rv, ctx);
		goto fail;
	}
	secret_free(pin);
	pin = NULL;
	r = p11_find_key(p, e);
	if (r < 0)
		goto fail;
	return 0;
fail:
	p11_close_session(p);
	return r;
}

static int kek_p11_open(const char *spec, struct kek *k, struct kagi_err *e)
{
	struct kek_p11 *p = &k->p11;
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	CK_RV rv;
	int r;

	r = p11_parse(spec, p, e);
	if (r < 0)
		return r;
	p->dl = dlopen(p->module, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl)
		return kagi_err_set(e, -ENOENT, "kek.pkcs11.module", KAGI_ERR_NO_OFFSET,
				    "cannot load PKCS#11 module '%s': %s", p->module, dlerror());
	*(void **)&get_list = dlsym(p->dl, "C_GetFunctionList");
	if (!get_list)
		return kagi_err_set(e, -ENOENT, "kek.pkcs11.module", KAGI_ERR_NO_OFFSET,
				    "'%s' has no C_GetFunctionList: not a PKCS#11 module",
				    p->module);
	rv = get_list(&p->f);
	if (rv != CKR_OK || !p->f)
		return p11_fail(e, "kek.pkcs11.module", "C_GetFunctionList",
				rv ? rv : CKR_GENERAL_ERROR, NULL);
	rv = module_get(p->f);
	if (rv != CKR_OK)
		return p11_fail(e, "kek.pkcs11.module", "C_Initialize", rv, NULL);
	p->module_ref = true;
	return p11_connect(p, e);
}

static void kek_p11_close(struct kek_p11 *p)
{
	if (p->f) {
		p11_close_session(p);
		if (p->module_ref)
			module_put(p->f);
	}
	if (p->dl)
		dlclose(p->dl);
	p11_done(p);
}

/* Session-level failures after which one reconnect (new session, login, find) is worth it. */
static bool p11_session_lost(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	       rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_OBJECT_HANDLE_INVALID ||
	       rv == CKR_KEY_HANDLE_INVALID || rv == CKR_DEVICE_REMOVED ||
	       rv == CKR_TOKEN_NOT_PRESENT;
}

/*
 * One GCM operation in the token. out must hold out_len bytes; *ret_out is the produced length.
 * Called with p->lock held.
 */
static CK_RV p11_gcm_once(struct kek_p11 *p, bool enc, const uint8_t iv[KEK_IV_LEN],
			  const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
			  uint8_t *out, size_t out_len, size_t *ret_out, const char **ret_call)
{
	uint8_t ivb[KEK_IV_LEN];
	CK_GCM_PARAMS gp = {
		.pIv = ivb,
		.ulIvLen = KEK_IV_LEN,
		.ulIvBits = KEK_IV_LEN * 8,
		.pAAD = (CK_BYTE_PTR)aad,
		.ulAADLen = aad_len,
		.ulTagBits = KEK_TAG_LEN * 8,
	};
	CK_MECHANISM mech = { CKM_AES_GCM, &gp, sizeof(gp) };
	CK_ULONG n = out_len;
	CK_RV rv;

	memcpy(ivb, iv, KEK_IV_LEN);
	*ret_call = enc ? "C_EncryptInit" : "C_DecryptInit";
	rv = enc ? p->f->C_EncryptInit(p->session, &mech, p->key)
		 : p->f->C_DecryptInit(p->session, &mech, p->key);
	if (rv != CKR_OK)
		return rv;
	*ret_call = enc ? "C_Encrypt" : "C_Decrypt";
	rv = enc ? p->f->C_Encrypt(p->session, (CK_BYTE_PTR)in, in_len, out, &n)
		 : p->f->C_Decrypt(p->session, (CK_BYTE_PTR)in, in_len, out, &n);
	if (rv == CKR_OK)
		*ret_out = n;
	/* a single-part operation ends on success and on error, except BUFFER_TOO_SMALL */
	return rv;
}

static int p11_gcm(struct kek_p11 *p, bool enc, const uint8_t iv[KEK_IV_LEN], const uint8_t *aad,
		   size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len,
		   size_t *ret_out, struct kagi_err *e)
{
	const char *call = NULL;
	CK_RV rv;
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (p->session == CK_INVALID_HANDLE) {
		r = p11_connect(p, e);
		if (r < 0)
			goto out;
	}
	rv = p11_gcm_once(p, enc, iv, aad, aad_len, in, in_len, out, out_len, ret_out, &call);
	if (rv != CKR_OK && p11_session_lost(rv)) {
		log_debug("kek: %s failed with 0x%lx, reconnecting to token '%s'", call,
			  (unsigned long)rv, p->token);
		p11_close_session(p);
		r = p11_connect(p, e);
		if (r < 0)
			goto out;
		rv = p11_gcm_once(p, enc, iv, aad, aad_len, in, in_len, out, out_len, ret_out,
				  &call);
	}
	if (rv == CKR_OK)
		goto out;
	if (!enc && streq(call, "C_Decrypt") &&
	    (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_GENERAL_ERROR ||
	     rv == CKR_FUNCTION_FAILED || rv == CKR_ENCRYPTED_DATA_LEN_RANGE)) {
		char b[160];

		/* GCM tag mismatch: tokens report it as ENCRYPTED_DATA_INVALID, SoftHSM2 as
		 * GENERAL_ERROR; the operation was set up fine, so the data is at fault */
		r = kagi_err_set(e, -EBADMSG, "kek.unwrap", KAGI_ERR_NO_OFFSET,
				 "the wrapped key does not authenticate under KEK '%s' in token "
				 "'%s' (wrong KEK, wrong AAD, or altered data): C_Decrypt failed: "
				 "%s",
				 p->object, p->token, ckr_str(rv, b, sizeof(b)));
		goto out;
	}
	r = p11_fail(e, enc ? "kek.wrap" : "kek.unwrap", call, rv, NULL);
out:
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* ---- public API ------------------------------------------------------------------------------ */

int kek_open(const char *url, struct kek **ret, struct kagi_err *reterr)
{
	struct kek *k;
	int r;

	if (!url || !*url)
		return kagi_err_set(reterr, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
				    "no KEK configured (file:PATH or pkcs11:...)");
	if (strlen(url) > KEK_URL_MAX)
		return kagi_err_set(reterr, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
				    "KEK URL is longer than %d characters", KEK_URL_MAX);
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->p11.session = CK_INVALID_HANDLE;
	if (!strncmp(url, "file:", 5)) {
		if (!url[5])
			r = kagi_err_set(reterr, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
					 "file: KEK needs a path");
		else
			r = kek_file_open(url + 5, k, reterr);
	} else if (!strncmp(url, "pkcs11:", 7)) {
		k->pkcs11 = true;
		pthread_mutex_init(&k->p11.lock, NULL);
		r = kek_p11_open(url + 7, k, reterr);
	} else {
		r = kagi_err_set(reterr, -EINVAL, "kek.url", KAGI_ERR_NO_OFFSET,
				 "unknown KEK '%.*s...': expected file:PATH or "
				 "pkcs11:module=...;token=...;object=...;pin-file=...",
				 (int)strcspn(url, ":"), url);
	}
	if (r < 0) {
		kek_close(k);
		return r;
	}
	*ret = k;
	return 0;
}

void kek_close(struct kek *k)
{
	if (!k)
		return;
	secret_free(k->key);
	if (k->pkcs11) {
		kek_p11_close(&k->p11);
		pthread_mutex_destroy(&k->p11.lock);
	}
	free(k);
}

static int gcm_file(const struct secret *key, bool enc, const uint8_t iv[KEK_IV_LEN],
		    const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
		    uint8_t *out, uint8_t tag[KEK_TAG_LEN], struct kagi_err *e)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, KEK_IV_LEN, NULL) == 1 &&
	     EVP_CipherInit_ex(ctx, NULL, NULL, key->data, iv, enc) == 1 &&
	     (aad_len == 0 || EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1) &&
	     EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) == 1 &&
	     (enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KEK_TAG_LEN, tag) == 1);
	if (!ok) {
		EVP_CIPHER_CTX_free(ctx);
		return kagi_err_set(e, -EIO, enc ? "kek.wrap" : "kek.unwrap", KAGI_ERR_NO_OFFSET,
				    "AES-256-GCM setup failed in OpenSSL");
	}
	ok = EVP_CipherFinal_ex(ctx, out + n, &fin) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KEK_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		if (!enc)
			return kagi_err_set(e, -EBADMSG, "kek.unwrap", KAGI_ERR_NO_OFFSET,
					    "the wrapped key does not authenticate under this KEK "
					    "file (wrong KEK, wrong AAD, or altered data)");
		return kagi_err_set(e, -EIO, "kek.wrap", KAGI_ERR_NO_OFFSET,
				    "AES-256-GCM encryption failed in OpenSSL");
	}
	return 0;
}

int kek_wrap(struct kek *k, const struct secret *plain, const uint8_t *aad, size_t aad_len,
	     uint8_t **ret, size_t *ret_len, struct kagi_err *reterr)
{
	_cleanup_free_ uint8_t *out = NULL;
	size_t len, n = 0;
	int r;

	if (!plain || !plain->data || plain->len == 0 || plain->len > KEK_MAX_PLAIN)
		return kagi_err_set(reterr, -EINVAL, "kek.wrap", KAGI_ERR_NO_OFFSET,
				    "can only wrap 1 to %d bytes, not %zu", KEK_MAX_PLAIN,
				    plain ? plain->len : 0);
	if (aad_len > KEK_MAX_PLAIN || (aad_len && !aad))
		return kagi_err_set(reterr, -EINVAL, "kek.wrap", KAGI_ERR_NO_OFFSET,
				    "additional data is missing or longer than %d bytes",
				    KEK_MAX_PLAIN);
	len = KEK_OVERHEAD + plain->len;
	out = malloc(len);
	if (!out)
		return -ENOMEM;
	out[0] = KEK_VERSION;
	if (RAND_bytes(out + 1, KEK_IV_LEN) != 1)
		return kagi_err_set(reterr, -EIO, "kek.wrap", KAGI_ERR_NO_OFFSET,
				    "the random generator failed");
	if (k->pkcs11) {
		/* the token writes ciphertext || tag, exactly our layout after the IV */
		r = p11_gcm(&k->p11, true, out + 1, aad, aad_len, plain->data, plain->len,
			    out + 1 + KEK_IV_LEN, plain->len + KEK_TAG_LEN, &n, reterr);
		if (r >= 0 && n != plain->len + KEK_TAG_LEN)
			r = kagi_err_set(reterr, -EIO, "kek.wrap", KAGI_ERR_NO_OFFSET,
					 "C_Encrypt returned %zu bytes, expected %zu", n,
					 plain->len + KEK_TAG_LEN);
	} else {
		r = gcm_file(k->key, true, out + 1, aad, aad_len, plain->data, plain->len,
			     out + 1 + KEK_IV_LEN, out + 1 + KEK_IV_LEN + plain->len, reterr);
	}
	if (r < 0)
		return r;
	*ret = out;
	out = NULL;
	*ret_len = len;
	return 0;
}

int kek_unwrap(struct kek *k, const uint8_t *wrapped, size_t len, const uint8_t *aad,
	       size_t aad_len, struct secret **ret, struct kagi_err *reterr)
{
	_cleanup_secret_ struct secret *plain = NULL;
	size_t plen, n = 0;
	int r;

	if (!wrapped || len <= KEK_OVERHEAD || len - KEK_OVERHEAD > KEK_MAX_PLAIN)
		return kagi_err_set(reterr, -EBADMSG, "kek.unwrap.size", KAGI_ERR_NO_OFFSET,
				    "wrapped key is %zu bytes, expected %d to %d", len,
				    KEK_OVERHEAD + 1, KEK_OVERHEAD + KEK_MAX_PLAIN);
	if (wrapped[0] != KEK_VERSION)
		return kagi_err_set(reterr, -EBADMSG, "kek.unwrap.version", 0,
				    "wrapped key format version is 0x%02x, expected 0x%02x",
				    wrapped[0], KEK_VERSION);
	if (aad_len > KEK_MAX_PLAIN || (aad_len && !aad))
		return kagi_err_set(reterr, -EINVAL, "kek.unwrap", KAGI_ERR_NO_OFFSET,
				    "additional data is missing or longer than %d bytes",
				    KEK_MAX_PLAIN);
	plen = len - KEK_OVERHEAD;
	plain = secret_new(plen);
	if (!plain)
		return -ENOMEM;
	if (k->pkcs11) {
		/* some tokens (SoftHSM2) want room for ciphertext and tag even though only the
		 * plaintext comes out: decrypt into a larger locked buffer, then copy */
		_cleanup_secret_ struct secret *buf = secret_new(plen + KEK_TAG_LEN);

		if (!buf)
			return -ENOMEM;
		r = p11_gcm(&k->p11, false, wrapped + 1, aad, aad_len, wrapped + 1 + KEK_IV_LEN,
			    plen + KEK_TAG_LEN, buf->data, buf->len, &n, reterr);
		if (r >= 0 && n != plen)
			r = kagi_err_set(reterr, -EIO, "kek.unwrap", KAGI_ERR_NO_OFFSET,
					 "C_Decrypt returned %zu bytes, expected %zu", n, plen);
		if (r >= 0)
			memcpy(plain->data, buf->data, plen);
	} else {
		uint8_t tag[KEK_TAG_LEN];

		memcpy(tag, wrapped + 1 + KEK_IV_LEN + plen, KEK_TAG_LEN);
		r = gcm_file(k->key, false, wrapped + 1, aad, aad_len, wrapped + 1 + KEK_IV_LEN,
			     plen, plain->data, tag, reterr);
	}
	if (r < 0)
		return r;
	*ret = plain;
	plain = NULL;
	return 0;
}
