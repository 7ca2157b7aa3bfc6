/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sev-guest.h: the /dev/sev-guest ioctl backend (fallback when configfs-tsm is missing;
 * shared/spec section 2, Linux include/uapi/linux/sev-guest.h).
 *
 * The ioctl numbers and layouts are defined here, not taken from the system headers (older
 * psp-sev.h headers had wrong firmware status numbers). These structs describe the kernel ABI
 * for the ioctl itself; the firmware response is decoded field by field with a reader.
 *
 * VMPCK burn rule: after a failed guest request (other than "certificate buffer too small") the
 * kernel wipes the VMPCK and no further report can be had until reboot. So every input is
 * validated before the ioctl, and a failed request is never retried.
 */
#ifndef KAGI_SEV_GUEST_H
#define KAGI_SEV_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "lib/err.h"

#define SEV_GUEST_DEVICE "/dev/sev-guest"
/* The VMPL the guest kernel runs at (Linux >= 6.9 with SVSM support; absent = VMPL 0). */
#define SEV_GUEST_VMPL_SYSFS "/sys/devices/system/cpu/sev/vmpl"

#define SEV_GUEST_USER_DATA_SIZE 64
#define SEV_GUEST_VMPL_MAX       3
#define SEV_GUEST_RESP_SIZE      4000
#define SEV_GUEST_RESP_HDR_SIZE  0x20  /* MSG_REPORT_RSP: status, report_size, reserved */
#define SEV_GUEST_REPORT_SIZE    0x4A0 /* ATTESTATION_REPORT */
#define SEV_GUEST_PAGE_SIZE      4096
#define SEV_GUEST_CERTS_MAX      0x4000 /* SEV_FW_BLOB_MAX_SIZE: the driver's cap, 4 pages */

/* exitinfo2 upper half */
#define SEV_GUEST_VMM_ERR_INVALID_LEN 1
#define SEV_GUEST_VMM_ERR_BUSY        2
/* fw_error value the driver leaves when the request never reached the firmware/host */
#define SEV_GUEST_FW_ERR_NOT_SENT 0xff

/* struct snp_guest_request_ioctl (32 bytes) */
struct sev_guest_request_ioctl {
	uint8_t msg_version; /* 0: must be non-zero (1) */
	uint8_t pad[7];      /* 1 */
	uint64_t req_data;   /* 8: user pointer to the request */
	uint64_t resp_data;  /* 16: user pointer to the response */
	union {
		uint64_t exitinfo2; /* 24 */
		struct {
			uint32_t fw_error;  /* 24: bits 31:0 */
			uint32_t vmm_error; /* 28: bits 63:32 */
		};
	};
};

/* struct snp_report_req (96 bytes) */
struct sev_guest_report_req {
	uint8_t user_data[SEV_GUEST_USER_DATA_SIZE]; /* 0: becomes REPORT_DATA */
	uint32_t vmpl;                               /* 64 */
	uint8_t rsvd[28];                            /* 68: must be zero */
};

/* struct snp_report_resp (4000 bytes): MSG_REPORT_RSP */
struct sev_guest_report_resp {
	uint8_t data[SEV_GUEST_RESP_SIZE];
};

/* struct snp_ext_report_req (112 bytes) */
struct sev_guest_ext_report_req {
	struct sev_guest_report_req data; /* 0 */
	uint64_t certs_address;           /* 96: user pointer */
	uint32_t certs_len;               /* 104: multiple of 4096, <= 16 KiB */
	uint32_t pad;                     /* 108 */
};

#define SEV_GUEST_IOC_TYPE        'S'
#define SEV_GUEST_GET_REPORT      _IOWR(SEV_GUEST_IOC_TYPE, 0x0, struct sev_guest_request_ioctl)
#define SEV_GUEST_GET_DERIVED_KEY _IOWR(SEV_GUEST_IOC_TYPE, 0x1, struct sev_guest_request_ioctl)
#define SEV_GUEST_GET_EXT_REPORT  _IOWR(SEV_GUEST_IOC_TYPE, 0x2, struct sev_guest_request_ioctl)

struct sev_guest_result {
	uint8_t *report; /* SEV_GUEST_REPORT_SIZE bytes (MSG_REPORT_RSP header stripped) */
	size_t report_len;
	uint8_t *certs; /* extended report: the certificate table, NULL when the host gave none */
	size_t certs_len;
	unsigned ioctls; /* 1, or 2 after a "certificate buffer too small" answer */
};

/*
 * Ask the device (NULL = SEV_GUEST_DEVICE) for a report with REPORT_DATA = user_data (exactly
 * 64 bytes) at the given VMPL (0..3, at least the caller's own VMPL). extended = also fetch the
 * certificate table (SNP_GET_EXT_REPORT with a 16 KiB buffer).
 */
int sev_guest_get_report(const char *dev, const uint8_t *user_data, size_t user_data_len,
			 unsigned vmpl, bool extended, struct sev_guest_result *ret,
			 struct kagi_err *reterr);
void sev_guest_result_done(struct sev_guest_result *r);

/*
 * The VMPL this guest runs at, from sysfs (path NULL = SEV_GUEST_VMPL_SYSFS): 0 and *ret set,
 * -ENOENT if the kernel does not expose it (kernels without SVSM support only run at VMPL 0).
 */
int sev_guest_read_vmpl(const char *path, unsigned *ret, struct kagi_err *reterr);

/* Input checks done before any device access (exported for the tests). */
int sev_guest_validate_request(const uint8_t *user_data, size_t user_data_len, unsigned vmpl,
			       struct kagi_err *reterr);

/*
 * Decode MSG_REPORT_RSP: status must be 0, report_size must be 0x4A0 and lie within len.
 * *report borrows from resp.
 */
int sev_guest_decode_report_resp(const uint8_t *resp, size_t len, const uint8_t **report,
				 size_t *report_len, struct kagi_err *reterr);

/* SNP firmware status codes (fw_error / MSG_*_RSP status) and VMM errors, in words. */
const char *sev_guest_fw_error_str(uint32_t fw_error);
const char *sev_guest_vmm_error_str(uint32_t vmm_error);

#endif
