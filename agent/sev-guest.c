// SPDX-License-Identifier: Apache-2.0
/*
 * sev-guest.c: SNP_GET_REPORT / SNP_GET_EXT_REPORT on /dev/sev-guest (shared/spec section 2).
 * Decoding of the firmware response is kept apart from the ioctl (sev_guest_decode_report_resp).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/reader.h"
#include "lib/util.h"
#include "sev-guest.h"

_Static_assert(sizeof(struct sev_guest_request_ioctl) == 32, "snp_guest_request_ioctl size");
_Static_assert(offsetof(struct sev_guest_request_ioctl, req_data) == 8, "req_data offset");
_Static_assert(offsetof(struct sev_guest_request_ioctl, resp_data) == 16, "resp_data offset");
_Static_assert(offsetof(struct sev_guest_request_ioctl, exitinfo2) == 24, "exitinfo2 offset");
_Static_assert(offsetof(struct sev_guest_request_ioctl, fw_error) == 24, "fw_error offset");
_Static_assert(offsetof(struct sev_guest_request_ioctl, vmm_error) == 28, "vmm_error offset");
_Static_assert(sizeof(struct sev_guest_report_req) == 96, "snp_report_req size");
_Static_assert(offsetof(struct sev_guest_report_req, vmpl) == 64, "vmpl offset");
_Static_assert(sizeof(struct sev_guest_report_resp) == 4000, "snp_report_resp size");
_Static_assert(sizeof(struct sev_guest_ext_report_req) == 112, "snp_ext_report_req size");
_Static_assert(offsetof(struct sev_guest_ext_report_req, certs_address) == 96, "certs_address");
_Static_assert(offsetof(struct sev_guest_ext_report_req, certs_len) == 104, "certs_len offset");
_Static_assert(SEV_GUEST_RESP_HDR_SIZE + SEV_GUEST_REPORT_SIZE <= SEV_GUEST_RESP_SIZE,
	       "report fits in the response");
#if defined(__x86_64__) || defined(__aarch64__) || defined(__i386__)
/* The generic ioctl encoding; values from shared/spec 2.1. */
_Static_assert(SEV_GUEST_GET_REPORT == 0xC0205300u, "SNP_GET_REPORT number");
_Static_assert(SEV_GUEST_GET_DERIVED_KEY == 0xC0205301u, "SNP_GET_DERIVED_KEY number");
_Static_assert(SEV_GUEST_GET_EXT_REPORT == 0xC0205302u, "SNP_GET_EXT_REPORT number");
#endif

struct code_name {
	uint32_t code;
	const char *name;
};

/* SEV-SNP firmware status codes (shared/spec 2.6; explicit values, not from psp-sev.h). */
static const struct code_name fw_errors[] = {
	{ 0x00, "SUCCESS" },
	{ 0x01, "INVALID_PLATFORM_STATE: the platform is not in a state for this command" },
	{ 0x02, "INVALID_GUEST_STATE: the guest is not in a state for this command" },
	{ 0x04, "INVALID_LENGTH: a buffer length is wrong" },
	{ 0x07, "POLICY_FAILURE: the guest policy forbids this" },
	{ 0x08, "INACTIVE: the guest is not active" },
	{ 0x09, "INVALID_ADDRESS: a buffer address is invalid" },
	{ 0x11, "INVALID_COMMAND: unknown command" },
	{ 0x13, "HWERROR_PLATFORM: hardware error" },
	{ 0x14, "HWERROR_UNSAFE: unsafe hardware condition" },
	{ 0x15, "UNSUPPORTED: unsupported feature" },
	{ 0x16, "INVALID_PARAM: an input parameter is invalid (e.g. VMPL below the caller's)" },
	{ 0x17, "RESOURCE_LIMIT: out of firmware resources" },
	{ 0x18, "SECURE_DATA_INVALID: integrity check of secure data failed" },
	{ 0x19, "INVALID_PAGE_SIZE" },
	{ 0x1A, "INVALID_PAGE_STATE" },
	{ 0x1B, "INVALID_MDATA_ENTRY" },
	{ 0x1C, "INVALID_PAGE_OWNER" },
	{ 0x1D, "AEAD_OFLOW: the message counter overflowed" },
	{ 0x1F, "EXIT_RING_BUFFER" },
	{ 0x20, "RMP_INIT_REQUIRED" },
	{ 0x21, "BAD_SVN" },
	{ 0x22, "BAD_VERSION" },
	{ 0x23, "SHUTDOWN_REQUIRED" },
	{ 0x24, "UPDATE_FAILED" },
	{ 0x25, "RESTORE_REQUIRED" },
	{ 0x26, "RMP_INITIALIZATION_FAILED" },
	{ 0x27, "INVALID_KEY: the requested key is not available (e.g. no VLEK installed)" },
	{ SEV_GUEST_FW_ERR_NOT_SENT, "the request never reached the firmware or the host" },
};

static const struct code_name vmm_errors[] = {
	{ 0, "none" },
	{ SEV_GUEST_VMM_ERR_INVALID_LEN, "INVALID_LEN: the certificate buffer is too small" },
	{ SEV_GUEST_VMM_ERR_BUSY, "BUSY: the host is throttling guest requests" },
};

static const char *lookup(const struct code_name *t, size_t n, uint32_t code)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].code == code)
			return t[i].name;
	return "unknown code";
}

const char *sev_guest_fw_error_str(uint32_t fw_error)
{
	return lookup(fw_errors, ARRAY_SIZE(fw_errors), fw_error);
}

const char *sev_guest_vmm_error_str(uint32_t vmm_error)
{
	return lookup(vmm_errors, ARRAY_SIZE(vmm_errors), vmm_error);
}

int sev_guest_decode_report_resp(const uint8_t *resp, size_t len, const uint8_t **report,
				 size_t *report_len, struct kagi_err *reterr)
{
	struct reader r = reader_init(resp, len);
	uint32_t status, size;
	const uint8_t *rep;

	if (reader_le32(&r, &status) < 0)
		return kagi_err_set(reterr, -EBADMSG, "report_resp.status", r.off,
				    "response is %zu bytes, too short for the status field", len);
	if (status != 0)
		return kagi_err_set(reterr, -EIO, "report_resp.status", 0,
				    "firmware status 0x%x (%s), expected 0", status,
				    sev_guest_fw_error_str(status));
	if (reader_le32(&r, &size) < 0)
		return kagi_err_set(reterr, -EBADMSG, "report_resp.report_size", r.off,
				    "response is %zu bytes, too short for report_size", len);
	if (size != SEV_GUEST_REPORT_SIZE)
		return kagi_err_set(reterr, -EBADMSG, "report_resp.report_size", 4,
				    "report_size is 0x%x, expected 0x%x", size,
				    SEV_GUEST_REPORT_SIZE);
	if (reader_skip(&r, SEV_GUEST_RESP_HDR_SIZE - 8) < 0)
		return kagi_err_set(reterr, -EBADMSG, "report_resp.reserved", r.off,
				    "response is %zu bytes, shorter than its 0x%x-byte header", len,
				    SEV_GUEST_RESP_HDR_SIZE);
	if (reader_take(&r, size, &rep) < 0)
		return kagi_err_set(reterr, -EBADMSG, "report_resp.report", r.off,
				    "report_size 0x%x runs past the %zu-byte response", size, len);
	*report = rep;
	*report_len = size;
	return 0;
}

int sev_guest_validate_request(const uint8_t *user_data, size_t user_data_len, unsigned vmpl,
			       struct kagi_err *reterr)
{
	if (!user_data)
		return kagi_err_set(reterr, -EINVAL, "sev_guest.user_data", KAGI_ERR_NO_OFFSET,
				    "no user data given, expected %d bytes",
				    SEV_GUEST_USER_DATA_SIZE);
	if (user_data_len != SEV_GUEST_USER_DATA_SIZE)
		return kagi_err_set(reterr, -EINVAL, "sev_guest.user_data", KAGI_ERR_NO_OFFSET,
				    "user data is %zu bytes, expected exactly %d", user_data_len,
				    SEV_GUEST_USER_DATA_SIZE);
	if (vmpl > SEV_GUEST_VMPL_MAX)
		return kagi_err_set(reterr, -EINVAL, "sev_guest.vmpl", KAGI_ERR_NO_OFFSET,
				    "vmpl %u is out of range, expected 0..%d", vmpl,
				    SEV_GUEST_VMPL_MAX);
	return 0;
}

int sev_guest_read_vmpl(const char *path, unsigned *ret, struct kagi_err *reterr)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char text[16];
	size_t len;
	uint64_t v;
	int r;

	if (!path)
		path = SEV_GUEST_VMPL_SYSFS;
	r = read_file(path, sizeof(text) - 1, &buf, &len);
	if (r < 0)
		return kagi_err_set(reterr, r, "sev_guest.vmpl", KAGI_ERR_NO_OFFSET,
				    "reading '%s' failed: %s", path, strerror(-r));
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	memcpy(text, buf, len);
	text[len] = '\0';
	if (parse_u64(text, &v) < 0 || v > SEV_GUEST_VMPL_MAX)
		return kagi_err_set(reterr, -EBADMSG, "sev_guest.vmpl", KAGI_ERR_NO_OFFSET,
				    "'%s' holds '%s', expected a VMPL 0..%d", path, text,
				    SEV_GUEST_VMPL_MAX);
	*ret = (unsigned)v;
	return 0;
}

void sev_guest_result_done(struct sev_guest_result *r)
{
	if (!r)
		return;
	free(r->report);
	free(r->certs);
	memset(r, 0, sizeof(*r));
}

static int ioctl_failed(const char *dev, const char *op, int err,
			const struct sev_guest_request_ioctl *g, struct kagi_err *reterr)
{
	const char *hint = "";

	if (err == ENOTTY)
		hint = "; the SNP guest request channel is disabled (VMPCK wiped after an earlier "
		       "failure, reboot needed) or the device does not support this ioctl";
	else if (err == ETIMEDOUT)
		hint = "; the host stayed busy for more than 60 s";
	else if (err == EBADMSG)
		hint = "; the response failed the sequence/type/AES-GCM checks";
	else if (err == EIO)
		hint = "; the kernel has probably wiped the VMPCK (no more reports until reboot)";
	/* The driver copies exitinfo2 back only when it is non-zero. */
	if (g->exitinfo2 == 0)
		return kagi_err_set(
			reterr, -err, "sev_guest.ioctl", KAGI_ERR_NO_OFFSET,
			"%s on '%s' failed: %s: fw_error 0x0, vmm_error 0x0 (no firmware "
			"or host error reported)%s",
			op, dev, strerror(err), hint);
	return kagi_err_set(reterr, -err, "sev_guest.ioctl", KAGI_ERR_NO_OFFSET,
			    "%s on '%s' failed: %s: fw_error 0x%x (%s), vmm_error 0x%x (%s)%s", op,
			    dev, strerror(err), g->fw_error, sev_guest_fw_error_str(g->fw_error),
			    g->vmm_error, sev_guest_vmm_error_str(g->vmm_error), hint);
}

static int open_device(const char *dev, struct kagi_err *reterr)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC | O_NOCTTY);
	int r;

	if (fd >= 0)
		return fd;
	r = errno;
	if (r == ENOENT)
		return kagi_err_set(reterr, -r, "sev_guest.open", KAGI_ERR_NO_OFFSET,
				    "'%s' does not exist (not an SEV-SNP guest, or the sev-guest "
				    "module is not loaded)",
				    dev);
	if (r == EACCES || r == EPERM)
		return kagi_err_set(reterr, -r, "sev_guest.open", KAGI_ERR_NO_OFFSET,
				    "opening '%s': permission denied (needs root)", dev);
	return kagi_err_set(reterr, -r, "sev_guest.open", KAGI_ERR_NO_OFFSET,
			    "opening '%s' failed: %s", dev, strerror(r));
}

static uint8_t *certs_alloc(size_t len)
{
	uint8_t *p = aligned_alloc(SEV_GUEST_PAGE_SIZE, len);

	if (p)
		memset(p, 0, len);
	return p;
}

int sev_guest_get_report(const char *dev, const uint8_t *user_data, size_t user_data_len,
			 unsigned vmpl, bool extended, struct sev_guest_result *ret,
			 struct kagi_err *reterr)
{
	_cleanup_free_ struct sev_guest_report_resp *resp = NULL;
	_cleanup_free_ uint8_t *certs = NULL, *report_copy = NULL;
	_cleanup_close_ int fd = -1;
	struct sev_guest_ext_report_req ext = { 0 };
	struct sev_guest_request_ioctl g;
	const uint8_t *report;
	size_t report_len, certs_len = SEV_GUEST_CERTS_MAX;
	const char *op = extended ? "SNP_GET_EXT_REPORT" : "SNP_GET_REPORT";
	unsigned ioctls = 0;
	int r;

	/* Validate everything before the device is touched: a failed request burns the VMPCK. */
	r = sev_guest_validate_request(user_data, user_data_len, vmpl, reterr);
	if (r < 0)
		return r;
	if (!dev)
		dev = SEV_GUEST_DEVICE;

	resp = calloc(1, sizeof(*resp));
	if (!resp)
		return kagi_err_set(reterr, -ENOMEM, "sev_guest.alloc", KAGI_ERR_NO_OFFSET,
				    "out of memory");
	memcpy(ext.data.user_data, user_data, SEV_GUEST_USER_DATA_SIZE);
	ext.data.vmpl = vmpl;

	fd = open_device(dev, reterr);
	if (fd < 0)
		return fd;

	for (;;) {
		if (extended) {
			free(certs);
			certs = certs_alloc(certs_len);
			if (!certs)
				return kagi_err_set(reterr, -ENOMEM, "sev_guest.alloc",
						    KAGI_ERR_NO_OFFSET, "out of memory");
			ext.certs_address = (uint64_t)(uintptr_t)certs;
			ext.certs_len = (uint32_t)certs_len;
		}
		memset(resp, 0, sizeof(*resp));
		g = (struct sev_guest_request_ioctl){
			.msg_version = 1,
			.req_data = extended ? (uint64_t)(uintptr_t)&ext
					     : (uint64_t)(uintptr_t)&ext.data,
			.resp_data = (uint64_t)(uintptr_t)resp,
			.exitinfo2 = 0,
		};
		ioctls++;
		if (ioctl(fd, extended ? SEV_GUEST_GET_EXT_REPORT : SEV_GUEST_GET_REPORT, &g) == 0)
			break;
		r = errno;
		/*
		 * The one failure that is safe to retry: the host needs a bigger certificate
		 * buffer; the driver reported the size in certs_len and kept the VMPCK.
		 */
		if (extended && r == EIO && g.vmm_error == SEV_GUEST_VMM_ERR_INVALID_LEN &&
		    ioctls == 1) {
			size_t need = ext.certs_len;

			if (need == 0 || need % SEV_GUEST_PAGE_SIZE || need > SEV_GUEST_CERTS_MAX)
				return kagi_err_set(
					reterr, -E2BIG, "sev_guest.certs_len", KAGI_ERR_NO_OFFSET,
					"the host needs a %zu-byte certificate buffer, "
					"expected a multiple of %d up to %d (the driver "
					"limit); fetch the certificates from the AMD KDS",
					need, SEV_GUEST_PAGE_SIZE, SEV_GUEST_CERTS_MAX);
			certs_len = need;
			continue;
		}
		return ioctl_failed(dev, op, r, &g, reterr);
	}

	r = sev_guest_decode_report_resp(resp->data, sizeof(resp->data), &report, &report_len,
					 reterr);
	if (r < 0)
		return kagi_err_prefix(reterr, r, "%s on '%s'", op, dev);
	report_copy = malloc(report_len);
	if (!report_copy)
		return kagi_err_set(reterr, -ENOMEM, "sev_guest.alloc", KAGI_ERR_NO_OFFSET,
				    "out of memory");
	memcpy(report_copy, report, report_len);

	*ret = (struct sev_guest_result){
		.report = report_copy,
		.report_len = report_len,
		.ioctls = ioctls,
	};
	report_copy = NULL;
	if (extended && !mem_is_zero(certs, certs_len)) {
		ret->certs = certs;
		ret->certs_len = certs_len;
		certs = NULL;
	}
	return 0;
}
