// SPDX-License-Identifier: Apache-2.0
/*
 * tsm.c: configfs-tsm report backend (shared/spec section 1).
 *
 * The kernel semantics this code is written against (fs/configfs/file.c, report.c):
 * - a text attribute must arrive in one write(); its store error is returned by write();
 * - a binary attribute (inblob) is only buffered by write() and stored at close(), whose error
 *   is dropped: the only way to see a lost inblob store is the `generation` counter;
 * - a binary read (outblob, auxblob, manifestblob) is generated on the first read() of an fd
 *   and sliced afterwards, so every blob gets a fresh fd and is read until EOF.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "tsm.h"

#define TSM_TEXT_MAX 4095

static int errno_or(int fallback)
{
	return errno > 0 ? -errno : fallback;
}

const char *tsm_errno_hint(int err, const char *attr)
{
	bool blob = attr && (streq(attr, "outblob") || streq(attr, "auxblob") ||
			     streq(attr, "manifestblob"));

	switch (err < 0 ? -err : err) {
	case ENXIO:
		if (blob)
			return "no attestation provider registered, or the firmware rejected the "
			       "report request";
		return "no attestation provider registered (is sev-guest loaded?)";
	case EINVAL:
		if (blob)
			return "the provider refused the request (inblob size, privlevel, service "
			       "GUID or SVSM call)";
		return "the provider refused the value";
	case ENOTTY:
		return "the SNP guest request channel is disabled (VMPCK wiped after an earlier "
		       "failure); reboot needed";
	case EBUSY:
		return "the generation counter would wrap without a read, or a previous request "
		       "is still in flight";
	case EFBIG:
		return "the blob is larger than the attribute allows";
	case EIO:
		return "the SNP guest request failed at the firmware or the host; the kernel has "
		       "probably wiped the VMPCK (reboot needed)";
	case ETIMEDOUT:
		return "the host stayed busy for too long";
	case EBADMSG:
		return "the SNP response failed its sequence/type/AES-GCM checks";
	case ENOMEM:
		return "out of memory, or the firmware returned an inconsistent report size";
	case ENOENT:
		return "no such file (configfs not mounted, tsm_report not loaded, or the "
		       "provider does not support this attribute)";
	case EACCES:
	case EPERM:
		return "permission denied (configfs-tsm needs root)";
	case EROFS:
		return "read-only file system";
	case EINTR:
		return "interrupted";
	default:
		return "unexpected error";
	}
}

bool tsm_guid_valid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return true;
}

int tsm_parse_generation(const char *text, size_t len, uint64_t *ret, struct kagi_err *reterr)
{
	uint64_t v = 0;
	size_t n = len;

	if (n > 0 && text[n - 1] == '\n')
		n--;
	if (n == 0)
		return kagi_err_set(reterr, -EBADMSG, "tsm.generation", KAGI_ERR_NO_OFFSET,
				    "generation is empty, expected a decimal counter");
	if (n > 20)
		return kagi_err_set(reterr, -EBADMSG, "tsm.generation", KAGI_ERR_NO_OFFSET,
				    "generation has %zu digits, expected at most 20", n);
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (text[i] < '0' || text[i] > '9')
			return kagi_err_set(reterr, -EBADMSG, "tsm.generation", i,
					    "generation has byte 0x%02x at offset %zu, expected "
					    "decimal digits and one trailing newline",
					    (unsigned char)text[i], i);
		d = (unsigned)(text[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return kagi_err_set(reterr, -EBADMSG, "tsm.generation", KAGI_ERR_NO_OFFSET,
					    "generation does not fit in 64 bits");
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

int tsm_request_validate(const struct tsm_request *req, struct kagi_err *reterr)
{
	if (!req || !req->inblob)
		return kagi_err_set(reterr, -EINVAL, "tsm.request.inblob", KAGI_ERR_NO_OFFSET,
				    "no inblob given, expected %d bytes", TSM_INBLOB_SIZE);
	if (req->inblob_len != TSM_INBLOB_SIZE)
		return kagi_err_set(reterr, -EINVAL, "tsm.request.inblob", KAGI_ERR_NO_OFFSET,
				    "inblob is %zu bytes, expected exactly %d", req->inblob_len,
				    TSM_INBLOB_SIZE);
	if (req->set_privlevel && req->privlevel > TSM_PRIVLEVEL_MAX)
		return kagi_err_set(reterr, -EINVAL, "tsm.request.privlevel", KAGI_ERR_NO_OFFSET,
				    "privlevel %u is out of range, expected 0..%d", req->privlevel,
				    TSM_PRIVLEVEL_MAX);
	if (req->service_provider) {
		size_t n = strlen(req->service_provider);

		if (n == 0 || n > 64 || strpbrk(req->service_provider, "\n\r\t /"))
			return kagi_err_set(
				reterr, -EINVAL, "tsm.request.service_provider", KAGI_ERR_NO_OFFSET,
				"service provider '%.64s' is not a plain name (expected "
				"e.g. '%s')",
				req->service_provider, TSM_SERVICE_PROVIDER_SVSM);
		if (!req->service_guid)
			return kagi_err_set(reterr, -EINVAL, "tsm.request.service_guid",
					    KAGI_ERR_NO_OFFSET,
					    "a service provider needs a service GUID");
	} else if (req->service_guid || req->set_manifest_version) {
		return kagi_err_set(reterr, -EINVAL, "tsm.request.service_provider",
				    KAGI_ERR_NO_OFFSET,
				    "a service GUID or manifest version needs a service provider");
	}
	if (req->service_guid && !tsm_guid_valid(req->service_guid))
		return kagi_err_set(reterr, -EINVAL, "tsm.request.service_guid", KAGI_ERR_NO_OFFSET,
				    "service GUID '%.64s' is not canonical UUID text "
				    "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
				    req->service_guid);
	return 0;
}

/* --- file helpers -------------------------------------------------------------------------- */

static int attr_path(char *buf, size_t len, const char *dir, const char *attr,
		     struct kagi_err *reterr)
{
	int n = snprintf(buf, len, "%s/%s", dir, attr);

	if (n < 0 || (size_t)n >= len)
		return kagi_err_set(reterr, -ENAMETOOLONG, "tsm.path", KAGI_ERR_NO_OFFSET,
				    "path '%s/%s' is too long", dir, attr);
	return 0;
}

static bool attr_exists(const char *dir, const char *attr)
{
	char p[PATH_MAX];

	if (attr_path(p, sizeof(p), dir, attr, NULL) < 0)
		return false;
	return access(p, F_OK) == 0;
}

/* Any attribute: a fresh fd, read until EOF, at most max bytes. */
static int read_attr(const char *dir, const char *attr, size_t max, uint8_t **ret, size_t *ret_len,
		     struct kagi_err *reterr)
{
	_cleanup_close_ int fd = -1;
	char p[PATH_MAX];
	int r;

	r = attr_path(p, sizeof(p), dir, attr, reterr);
	if (r < 0)
		return r;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = errno_or(-EIO);
		return kagi_err_set(reterr, r, "tsm.read", KAGI_ERR_NO_OFFSET,
				    "opening '%s' failed: %s (%s)", p, strerror(-r),
				    tsm_errno_hint(r, attr));
	}
	r = read_fd(fd, max, ret, ret_len);
	if (r == -EFBIG)
		return kagi_err_set(reterr, r, "tsm.read", KAGI_ERR_NO_OFFSET,
				    "'%s' is larger than %zu bytes", p, max);
	if (r < 0)
		return kagi_err_set(reterr, r, "tsm.read", KAGI_ERR_NO_OFFSET,
				    "reading '%s' failed: %s (%s)", p, strerror(-r),
				    tsm_errno_hint(r, attr));
	return 0;
}

/* Blobs (outblob, auxblob, manifestblob): a fresh fd per retrieval, read until EOF. */
static int read_blob_attr(const char *dir, const char *attr, uint8_t **ret, size_t *ret_len,
			  struct kagi_err *reterr)
{
	return read_attr(dir, attr, TSM_BLOB_MAX, ret, ret_len, reterr);
}

static int read_text_attr(const char *dir, const char *attr, char *out, size_t outlen,
			  struct kagi_err *reterr)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	r = read_attr(dir, attr, TSM_TEXT_MAX, &buf, &len, reterr);
	if (r < 0)
		return r;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (memchr(buf, '\0', len) || len >= outlen)
		return kagi_err_set(reterr, -EBADMSG, "tsm.read", KAGI_ERR_NO_OFFSET,
				    "'%s/%s' holds %zu bytes that are not a short text value", dir,
				    attr, len);
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

/* Text attributes: the whole value in one write(), whose result carries the store error. */
static int write_text_attr(const char *dir, const char *attr, const char *value,
			   struct kagi_err *reterr)
{
	size_t len = strlen(value);
	char p[PATH_MAX];
	ssize_t n;
	int fd, r;

	r = attr_path(p, sizeof(p), dir, attr, reterr);
	if (r < 0)
		return r;
	fd = open(p, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = errno_or(-EIO);
		return kagi_err_set(reterr, r, "tsm.write", KAGI_ERR_NO_OFFSET,
				    "opening '%s' for writing failed: %s (%s)", p, strerror(-r),
				    tsm_errno_hint(r, attr));
	}
	do {
		n = write(fd, value, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = errno_or(-EIO);
		close(fd);
		return kagi_err_set(reterr, r, "tsm.write", KAGI_ERR_NO_OFFSET,
				    "writing '%s' to '%s' failed: %s (%s)", value, p, strerror(-r),
				    tsm_errno_hint(r, attr));
	}
	if ((size_t)n != len) {
		close(fd);
		return kagi_err_set(
			reterr, -EIO, "tsm.write", KAGI_ERR_NO_OFFSET,
			"writing '%s' to '%s' stored %zd of %zu bytes (configfs needs the "
			"whole value in one write)",
			value, p, n, len);
	}
	if (close(fd) < 0) {
		r = errno_or(-EIO);
		return kagi_err_set(reterr, r, "tsm.write", KAGI_ERR_NO_OFFSET,
				    "closing '%s' failed: %s (%s)", p, strerror(-r),
				    tsm_errno_hint(r, attr));
	}
	return 0;
}

/* Binary attribute: write() only buffers, the store happens at close() and its error is lost. */
static int write_bin_attr(const char *dir, const char *attr, const uint8_t *buf, size_t len,
			  struct kagi_err *reterr)
{
	char p[PATH_MAX];
	int fd, r;

	r = attr_path(p, sizeof(p), dir, attr, reterr);
	if (r < 0)
		return r;
	fd = open(p, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = errno_or(-EIO);
		return kagi_err_set(reterr, r, "tsm.write", KAGI_ERR_NO_OFFSET,
				    "opening '%s' for writing failed: %s (%s)", p, strerror(-r),
				    tsm_errno_hint(r, attr));
	}
	r = write_all(fd, buf, len);
	if (r < 0) {
		close(fd);
		return kagi_err_set(reterr, r, "tsm.write", KAGI_ERR_NO_OFFSET,
				    "writing %zu bytes to '%s' failed: %s (%s)", len, p,
				    strerror(-r), tsm_errno_hint(r, attr));
	}
	if (close(fd) < 0) {
		r = errno_or(-EIO);
		return kagi_err_set(reterr, r, "tsm.write", KAGI_ERR_NO_OFFSET,
				    "closing '%s' failed: %s (%s)", p, strerror(-r),
				    tsm_errno_hint(r, attr));
	}
	return 0;
}

static int read_generation(const char *dir, uint64_t *ret, struct kagi_err *reterr)
{
	char text[64];
	int r;

	r = read_text_attr(dir, "generation", text, sizeof(text), reterr);
	if (r < 0)
		return r;
	return tsm_parse_generation(text, strlen(text), ret, reterr);
}

static int read_privlevel_floor(const char *dir, unsigned *ret, struct kagi_err *reterr)
{
	char text[64];
	uint64_t v;
	int r;

	r = read_text_attr(dir, "privlevel_floor", text, sizeof(text), reterr);
	if (r < 0)
		return r;
	if (parse_u64(text, &v) < 0 || v > TSM_PRIVLEVEL_MAX)
		return kagi_err_set(reterr, -EBADMSG, "tsm.privlevel_floor", KAGI_ERR_NO_OFFSET,
				    "privlevel_floor is '%s', expected a number 0..%d", text,
				    TSM_PRIVLEVEL_MAX);
	*ret = (unsigned)v;
	return 0;
}

/* --- entry lifecycle ----------------------------------------------------------------------- */

static int check_root(const char *root, struct kagi_err *reterr)
{
	struct stat st;
	int r;

	if (!root || !*root)
		return kagi_err_set(reterr, -EINVAL, "tsm.root", KAGI_ERR_NO_OFFSET,
				    "no configfs-tsm directory given");
	if (stat(root, &st) < 0) {
		r = errno_or(-EIO);
		if (r == -ENOENT)
			return kagi_err_set(reterr, r, "tsm.root", KAGI_ERR_NO_OFFSET,
					    "'%s' does not exist (configfs not mounted at "
					    "/sys/kernel/config, or no TSM report support: load "
					    "tsm_report/sev-guest)",
					    root);
		return kagi_err_set(reterr, r, "tsm.root", KAGI_ERR_NO_OFFSET,
				    "cannot access '%s': %s", root, strerror(-r));
	}
	if (!S_ISDIR(st.st_mode))
		return kagi_err_set(reterr, -ENOTDIR, "tsm.root", KAGI_ERR_NO_OFFSET,
				    "'%s' is not a directory", root);
	return 0;
}

static void random_suffix(char *out, size_t len)
{
	static unsigned counter;
	uint8_t rnd[8];
	struct timespec ts;

	/* A unique name is all that is needed here; never block on early-boot entropy. */
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
		uint64_t v;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
		    ((uint64_t)++counter << 56);
		memcpy(rnd, &v, sizeof(rnd));
	}
	if (len >= 2 * sizeof(rnd) + 1)
		hex_encode(rnd, sizeof(rnd), out);
	else if (len)
		out[0] = '\0';
}

static int entry_create(const char *root, char *dir, size_t dirlen, struct kagi_err *reterr)
{
	int r = -EEXIST;

	for (int i = 0; i < 3 && r == -EEXIST; i++) {
		char sfx[17];
		int n;

		random_suffix(sfx, sizeof(sfx));
		n = snprintf(dir, dirlen, "%s/kagi-%ld-%s", root, (long)getpid(), sfx);
		if (n < 0 || (size_t)n >= dirlen)
			return kagi_err_set(reterr, -ENAMETOOLONG, "tsm.mkdir", KAGI_ERR_NO_OFFSET,
					    "entry path under '%s' is too long", root);
		r = mkdir(dir, 0700) < 0 ? errno_or(-EIO) : 0;
	}
	if (r < 0)
		return kagi_err_set(reterr, r, "tsm.mkdir", KAGI_ERR_NO_OFFSET,
				    "creating a report entry in '%s' failed: %s (%s)", root,
				    strerror(-r), tsm_errno_hint(r, "mkdir"));
	return 0;
}

static void entry_remove(const char *dir)
{
	if (rmdir(dir) < 0)
		log_debug("removing configfs-tsm entry '%s' failed: %m", dir);
}

/* provider + feature detection on a fresh entry */
static int entry_info(const char *root, const char *dir, struct tsm_info *ret,
		      struct kagi_err *reterr)
{
	struct tsm_info info = { 0 };
	int r;

	if (!attr_exists(dir, "provider"))
		return kagi_err_set(reterr, -ENODEV, "tsm.provider", KAGI_ERR_NO_OFFSET,
				    "'%s' does not behave like configfs-tsm: a new entry has no "
				    "'provider' attribute",
				    root);
	r = read_text_attr(dir, "provider", info.provider, sizeof(info.provider), reterr);
	if (r < 0)
		return r;
	if (!info.provider[0])
		return kagi_err_set(reterr, -EBADMSG, "tsm.provider", KAGI_ERR_NO_OFFSET,
				    "'%s/provider' is empty, expected the provider name", dir);
	if (!attr_exists(dir, "generation") || !attr_exists(dir, "inblob") ||
	    !attr_exists(dir, "outblob"))
		return kagi_err_set(reterr, -ENODEV, "tsm.provider", KAGI_ERR_NO_OFFSET,
				    "'%s' does not behave like configfs-tsm: an entry lacks "
				    "generation, inblob or outblob",
				    root);
	info.has_auxblob = attr_exists(dir, "auxblob");
	info.has_privlevel = attr_exists(dir, "privlevel");
	info.has_privlevel_floor = attr_exists(dir, "privlevel_floor");
	info.has_service_provider = attr_exists(dir, "service_provider");
	info.has_manifestblob = attr_exists(dir, "manifestblob");
	if (info.has_privlevel_floor) {
		r = read_privlevel_floor(dir, &info.privlevel_floor, reterr);
		if (r < 0)
			return r;
	}
	*ret = info;
	return 0;
}

int tsm_probe(const char *root, struct tsm_info *ret, struct kagi_err *reterr)
{
	struct tsm_info info;
	char dir[PATH_MAX];
	int r;

	r = check_root(root, reterr);
	if (r < 0)
		return r;
	r = entry_create(root, dir, sizeof(dir), reterr);
	if (r < 0)
		return r;
	r = entry_info(root, dir, &info, reterr);
	entry_remove(dir);
	if (r < 0)
		return r;
	*ret = info;
	return 0;
}

void tsm_result_done(struct tsm_result *r)
{
	if (!r)
		return;
	free(r->outblob);
	free(r->auxblob);
	free(r->manifestblob);
	memset(r, 0, sizeof(*r));
}

#define ATTEMPT_RETRY 1

/* One attempt. ATTEMPT_RETRY (message in reterr) means the generation check failed. */
static int attempt(const char *root, const char *dir, const struct tsm_request *req,
		   struct tsm_result *ret, struct kagi_err *reterr)
{
	struct tsm_result res = { 0 };
	struct tsm_info info;
	bool service = req->service_provider != NULL;
	bool write_privlevel = false;
	unsigned privlevel = 0;
	uint64_t expected;
	int r;

	r = entry_info(root, dir, &info, reterr);
	if (r < 0)
		return r;
	memcpy(res.provider, info.provider, sizeof(res.provider));
	res.has_privlevel_floor = info.has_privlevel_floor;
	res.privlevel_floor = info.privlevel_floor;

	if (service) {
		if (!info.has_service_provider || !info.has_manifestblob)
			return kagi_err_set(
				reterr, -EOPNOTSUPP, "tsm.service_provider", KAGI_ERR_NO_OFFSET,
				"provider '%s' exposes no service_provider/manifestblob: "
				"the guest does not run under an SVSM (VMPL 0) or the "
				"kernel is older than 6.10",
				info.provider);
		if (req->set_manifest_version && !attr_exists(dir, "service_manifest_version"))
			return kagi_err_set(
				reterr, -EOPNOTSUPP, "tsm.service_manifest_version",
				KAGI_ERR_NO_OFFSET,
				"provider '%s' has no service_manifest_version attribute",
				info.provider);
	}
	if (req->set_privlevel) {
		write_privlevel = true;
		privlevel = req->privlevel;
	} else if (!service && info.has_privlevel_floor && info.privlevel_floor > 0) {
		write_privlevel = true;
		privlevel = info.privlevel_floor;
	}
	if (write_privlevel) {
		if (!info.has_privlevel)
			return kagi_err_set(
				reterr, -EOPNOTSUPP, "tsm.privlevel", KAGI_ERR_NO_OFFSET,
				"provider '%s' has no privlevel attribute", info.provider);
		if (info.has_privlevel_floor && privlevel < info.privlevel_floor)
			return kagi_err_set(
				reterr, -EINVAL, "tsm.privlevel", KAGI_ERR_NO_OFFSET,
				"requested privlevel %u is below privlevel_floor %u (the "
				"guest runs at VMPL %u)",
				privlevel, info.privlevel_floor, info.privlevel_floor);
	}

	r = read_generation(dir, &res.generation_before, reterr);
	if (r < 0)
		return r;

	if (service) {
		r = write_text_attr(dir, "service_provider", req->service_provider, reterr);
		if (r < 0)
			return r;
		res.writes++;
		r = write_text_attr(dir, "service_guid", req->service_guid, reterr);
		if (r < 0)
			return r;
		res.writes++;
		if (req->set_manifest_version) {
			char v[16];

			snprintf(v, sizeof(v), "%u", req->manifest_version);
			r = write_text_attr(dir, "service_manifest_version", v, reterr);
			if (r < 0)
				return r;
			res.writes++;
		}
	}
	if (write_privlevel) {
		char v[16];

		snprintf(v, sizeof(v), "%u", privlevel);
		r = write_text_attr(dir, "privlevel", v, reterr);
		if (r < 0)
			return r;
		res.writes++;
	}
	r = write_bin_attr(dir, "inblob", req->inblob, req->inblob_len, reterr);
	if (r < 0)
		return r;
	res.writes++;

	/* The report request happens here. Never retried on error (VMPCK burn rule). */
	r = read_blob_attr(dir, "outblob", &res.outblob, &res.outblob_len, reterr);
	if (r < 0)
		goto fail;
	if (info.has_auxblob) {
		r = read_blob_attr(dir, "auxblob", &res.auxblob, &res.auxblob_len, reterr);
		if (r < 0)
			goto fail;
		res.has_auxblob = true;
	}
	if (service) {
		r = read_blob_attr(dir, "manifestblob", &res.manifestblob, &res.manifestblob_len,
				   reterr);
		if (r < 0)
			goto fail;
	}
	r = read_generation(dir, &res.generation_after, reterr);
	if (r < 0)
		goto fail;

	expected = res.generation_before + res.writes;
	if (res.generation_after != expected) {
		r = kagi_err_set(
			reterr, -EAGAIN, "tsm.generation", KAGI_ERR_NO_OFFSET,
			"configfs-tsm generation changed from %llu to %llu, expected %llu: "
			"another writer interfered or an attribute write was dropped",
			(unsigned long long)res.generation_before,
			(unsigned long long)res.generation_after, (unsigned long long)expected);
		r = ATTEMPT_RETRY;
		goto fail;
	}
	if (res.outblob_len == 0) {
		r = kagi_err_set(reterr, -EBADMSG, "tsm.outblob", KAGI_ERR_NO_OFFSET,
				 "'%s/outblob' is empty", dir);
		goto fail;
	}
	*ret = res;
	return 0;
fail:
	tsm_result_done(&res);
	return r;
}

int tsm_report_get(const char *root, const struct tsm_request *req, struct tsm_result *ret,
		   struct kagi_err *reterr)
{
	struct tsm_result res;
	int r;

	/* Everything that can be checked without the kernel is checked first. */
	r = tsm_request_validate(req, reterr);
	if (r < 0)
		return r;
	r = check_root(root, reterr);
	if (r < 0)
		return r;

	for (unsigned i = 1; i <= TSM_MAX_ATTEMPTS; i++) {
		char dir[PATH_MAX];

		r = entry_create(root, dir, sizeof(dir), reterr);
		if (r < 0)
			return r;
		r = attempt(root, dir, req, &res, reterr);
		entry_remove(dir);
		if (r != ATTEMPT_RETRY) {
			if (r < 0)
				return r;
			res.attempts = i;
			*ret = res;
			return 0;
		}
		log_debug("configfs-tsm attempt %u of %u: %s", i, TSM_MAX_ATTEMPTS,
			  reterr ? reterr->msg : "generation mismatch");
	}
	return kagi_err_prefix(reterr, -EAGAIN, "giving up after %d attempts", TSM_MAX_ATTEMPTS);
}
