/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eventlog.h: TCG PC Client event logs (binary_bios_measurements), shared/spec section 7.
 *
 * Two formats are decoded:
 *  - SHA-1 ("legacy") logs: every record is a TCG_PCR_EVENT
 *      { u32 pcrIndex; u32 eventType; u8 digest[20]; u32 eventDataSize; u8 event[]; }
 *    A log is SHA-1 format when its first record is not a "Spec ID Event03" record. A legacy
 *    "Spec ID Event00"/"Spec ID Event02" header is kept as an ordinary EV_NO_ACTION event.
 *  - crypto-agile logs: a first TCG_PCR_EVENT whose data is a TCG_EfiSpecIDEvent
 *    ("Spec ID Event03\0"), then TCG_PCR_EVENT2 records
 *      { u32 pcrIndex; u32 eventType; u32 count; { u16 alg; u8 digest[size(alg)]; }[count];
 *        u32 eventSize; u8 event[]; }
 *    where size(alg) comes from the Spec ID table. The Spec ID record is the log header and is
 *    not part of `events`. Confidential-computing event logs (TDX CCEL, UEFI
 *    EFI_CC_MEASUREMENT_PROTOCOL) use the same layout with an MR index in place of the PCR
 *    index (1..3 = RTMR0..2); their Spec ID record carries index 1, the analogue of PCR 0.
 *
 * All integers are little-endian. Decoding is pure (no I/O), goes through `struct reader`, and
 * borrows from the caller's buffer: the buffer must outlive the decoded log. A record whose
 * index and type are both 0 (and, for TCG_PCR_EVENT2, digest count 0; for TCG_PCR_EVENT, zero
 * digest and size) or both 0xffffffff (erased flash, e.g. a CCEL region) ends the log; the
 * bytes from there on are reported as trailing padding.
 *
 * Replay follows shared/spec 7.3 and needs OpenSSL (libcrypto).
 */
#ifndef KAGI_EVENTLOG_H
#define KAGI_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "err.h"

/* Hard limits */
#define EVENTLOG_MAX_LOG_SIZE    (64u << 20) /* bytes read by tools before decoding */
#define EVENTLOG_MAX_EVENTS      (1u << 20)
#define EVENTLOG_MAX_EVENT_DATA  (16u << 20)
#define EVENTLOG_MAX_BANKS       8  /* algorithms in a Spec ID event */
#define EVENTLOG_MAX_DIGEST_SIZE 64 /* largest digest we accept, also for unknown algorithms */
#define EVENTLOG_NUM_PCRS        24 /* PCRs 0..23 are replayed */

/* TPM_ALG_ID values of the digest algorithms we know (TCG Algorithm Registry) */
#define EVENTLOG_ALG_SHA1     0x0004
#define EVENTLOG_ALG_SHA256   0x000b
#define EVENTLOG_ALG_SHA384   0x000c
#define EVENTLOG_ALG_SHA512   0x000d
#define EVENTLOG_ALG_SM3_256  0x0012
#define EVENTLOG_ALG_SHA3_256 0x0027
#define EVENTLOG_ALG_SHA3_384 0x0028
#define EVENTLOG_ALG_SHA3_512 0x0029

/* Event types (PFP section 10.4.1, shared/spec 7.4) */
#define EV_PREBOOT_CERT                  0x00000000u
#define EV_POST_CODE                     0x00000001u
#define EV_UNUSED                        0x00000002u
#define EV_NO_ACTION                     0x00000003u
#define EV_SEPARATOR                     0x00000004u
#define EV_ACTION                        0x00000005u
#define EV_EVENT_TAG                     0x00000006u
#define EV_S_CRTM_CONTENTS               0x00000007u
#define EV_S_CRTM_VERSION                0x00000008u
#define EV_CPU_MICROCODE                 0x00000009u
#define EV_PLATFORM_CONFIG_FLAGS         0x0000000au
#define EV_TABLE_OF_DEVICES              0x0000000bu
#define EV_COMPACT_HASH                  0x0000000cu
#define EV_IPL                           0x0000000du
#define EV_IPL_PARTITION_DATA            0x0000000eu
#define EV_NONHOST_CODE                  0x0000000fu
#define EV_NONHOST_CONFIG                0x00000010u
#define EV_NONHOST_INFO                  0x00000011u
#define EV_OMIT_BOOT_DEVICE_EVENTS       0x00000012u
#define EV_EFI_EVENT_BASE                0x80000000u
#define EV_EFI_VARIABLE_DRIVER_CONFIG    0x80000001u
#define EV_EFI_VARIABLE_BOOT             0x80000002u
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define EV_EFI_BOOT_SERVICES_DRIVER      0x80000004u
#define EV_EFI_RUNTIME_SERVICES_DRIVER   0x80000005u
#define EV_EFI_GPT_EVENT                 0x80000006u
#define EV_EFI_ACTION                    0x80000007u
#define EV_EFI_PLATFORM_FIRMWARE_BLOB    0x80000008u
#define EV_EFI_HANDOFF_TABLES            0x80000009u
#define EV_EFI_PLATFORM_FIRMWARE_BLOB2   0x8000000au
#define EV_EFI_HANDOFF_TABLES2           0x8000000bu
#define EV_EFI_VARIABLE_BOOT2            0x8000000cu
#define EV_EFI_GPT_EVENT2                0x8000000du
#define EV_EFI_HCRTM_EVENT               0x80000010u
#define EV_EFI_VARIABLE_AUTHORITY        0x800000e0u
#define EV_EFI_SPDM_FIRMWARE_BLOB        0x800000e1u
#define EV_EFI_SPDM_FIRMWARE_CONFIG      0x800000e2u

/* TCG_PCClientTaggedEvent IDs used by the Linux EFI stub (shared/spec 7.5) */
#define EVENTLOG_TAG_LINUX_INITRD       0x8f3b22ecu
#define EVENTLOG_TAG_LINUX_LOAD_OPTIONS 0x8f3b22edu

struct eventlog_digest {
	uint16_t alg;
	uint16_t size;
	const uint8_t *bytes; /* borrowed from the input */
};

struct eventlog_event {
	size_t offset; /* of the record in the input */
	uint32_t pcr;  /* PCR index (MR index in a CC event log); may exceed 23 */
	uint32_t type;
	size_t ndigests;
	struct eventlog_digest digests[EVENTLOG_MAX_BANKS];
	const uint8_t *data; /* borrowed; NULL when data_len is 0 */
	uint32_t data_len;
};

struct eventlog_bank {
	uint16_t alg;
	uint16_t size;
};

struct eventlog {
	bool crypto_agile;
	/* Spec ID event (crypto-agile logs only) */
	uint32_t specid_pcr; /* 0, or 1 in a CC event log */
	uint32_t platform_class;
	uint8_t spec_major, spec_minor, spec_errata, uintn_size;
	const uint8_t *vendor_info; /* borrowed */
	uint8_t vendor_info_len;
	/* digest banks: from the Spec ID table, or sha1 alone for a SHA-1 log */
	size_t nbanks;
	struct eventlog_bank banks[EVENTLOG_MAX_BANKS];
	size_t nevents;
	struct eventlog_event *events;
	size_t end;          /* offset where the records end */
	size_t trailing_len; /* bytes after `end` (padding) */
};

/*
 * Decode a whole log. On success *ret owns an `events` array (free with eventlog_done()) that
 * points into buf. On failure *ret is untouched and *reterr names the failing field and its
 * offset (-EBADMSG for malformed input, -ENOMEM).
 */
int eventlog_decode(const uint8_t *buf, size_t len, struct eventlog *ret, struct kagi_err *reterr);
void eventlog_done(struct eventlog *log);

/* "sha1", "sha256", "sha384", "sha512", "sm3_256", "sha3_256", ...; NULL when unknown. */
const char *eventlog_alg_name(uint16_t alg);
/* Digest size of a known algorithm, 0 when unknown. */
unsigned eventlog_alg_size(uint16_t alg);
/* Inverse of eventlog_alg_name(); -EINVAL when unknown. */
int eventlog_alg_from_name(const char *name, uint16_t *ret);
/* "EV_SEPARATOR", ...; NULL when unknown. */
const char *eventlog_type_name(uint32_t type);

/* The digest of one bank in an event, or NULL if the event has none for that algorithm. */
const struct eventlog_digest *eventlog_event_digest(const struct eventlog_event *e, uint16_t alg);

/*
 * Replay (shared/spec 7.3) into every bank of the log. PCRs 0..16 and 23 start at zero,
 * 17..22 at all-ones. EV_NO_ACTION events are never extended; a StartupLocality event
 * ("StartupLocality\0" + 1 byte) in PCR 0 sets the last byte of PCR 0's start value, unless
 * PCR 0 was extended already or an H-CRTM event was seen; EV_EFI_HCRTM_EVENT in PCR 0 (before
 * any extend) sets it to 4 and is then extended. Events with an index above 23 are skipped.
 * A bank whose algorithm OpenSSL cannot compute is marked unavailable, not an error.
 */
struct eventlog_bank_pcrs {
	uint16_t alg;
	uint16_t size;
	bool available;                   /* false: no hash implementation, values unset */
	size_t nmissing;                  /* replayed events without a digest for this bank */
	bool extended[EVENTLOG_NUM_PCRS]; /* at least one event extended this PCR */
	uint8_t value[EVENTLOG_NUM_PCRS][EVENTLOG_MAX_DIGEST_SIZE];
};

struct eventlog_pcrs {
	size_t nbanks;
	struct eventlog_bank_pcrs bank[EVENTLOG_MAX_BANKS];
	uint8_t locality; /* start locality applied to PCR 0: 0, a StartupLocality, or 4 */
	bool hcrtm;       /* an H-CRTM event was seen */
	size_t nskipped;  /* events not replayed because their index is above 23 */
};

int eventlog_replay(const struct eventlog *log, struct eventlog_pcrs *ret, struct kagi_err *reterr);
/* The replayed value (`size` bytes of the bank) or NULL (no such bank, bank unavailable,
 * pcr > 23). */
const uint8_t *eventlog_pcrs_get(const struct eventlog_pcrs *p, uint16_t alg, unsigned pcr);
const struct eventlog_bank_pcrs *eventlog_pcrs_bank(const struct eventlog_pcrs *p, uint16_t alg);

/*
 * Structured event data (UEFI and PFP layouts). Each decoder takes the event data bytes,
 * borrows from them, and fails with -EBADMSG and a reason (offsets relative to the data).
 */
struct eventlog_variable { /* UEFI_VARIABLE_DATA */
	uint8_t guid[16];
	uint64_t name_len; /* UTF-16 code units */
	const uint8_t *name_utf16;
	uint64_t data_len;
	const uint8_t *data;
	size_t trailing; /* bytes after the variable data */
};
int eventlog_variable_decode(const uint8_t *buf, size_t len, struct eventlog_variable *ret,
			     struct kagi_err *reterr);
/* The variable name as UTF-8 (newly allocated; unpaired surrogates become '?'), or NULL. */
char *eventlog_variable_name(const struct eventlog_variable *v);

struct eventlog_image_load { /* UEFI_IMAGE_LOAD_EVENT */
	uint64_t location;
	uint64_t length;
	uint64_t link_address;
	uint64_t device_path_len;
	const uint8_t *device_path;
	size_t trailing; /* bytes after the device path */
};
int eventlog_image_load_decode(const uint8_t *buf, size_t len, struct eventlog_image_load *ret,
			       struct kagi_err *reterr);

struct eventlog_tagged { /* TCG_PCClientTaggedEvent */
	uint32_t id;
	uint32_t data_len;
	const uint8_t *data;
};
int eventlog_tagged_decode(const uint8_t *buf, size_t len, struct eventlog_tagged *ret,
			   struct kagi_err *reterr);

struct eventlog_blob {       /* UEFI_PLATFORM_FIRMWARE_BLOB and BLOB2 */
	const uint8_t *desc; /* BLOB2 only */
	uint8_t desc_len;
	uint64_t base;
	uint64_t length;
};
int eventlog_blob_decode(const uint8_t *buf, size_t len, bool blob2, struct eventlog_blob *ret,
			 struct kagi_err *reterr);

/* Canonical (mixed-endian) text of an EFI_GUID: 36 characters + NUL. */
char *eventlog_guid_str(const uint8_t guid[16], char out[37]);
/* UTF-16LE (n code units) to newly allocated UTF-8; stops at a NUL unit; unpaired surrogates
 * become '?'. NULL on ENOMEM. */
char *eventlog_utf16_to_utf8(const uint8_t *p, size_t n);

/*
 * Rendering. eventlog_event_to_json() gives { offset, pcr, type, type_name, digests[], data_size,
 * data (hex), decoded{...} and/or note }. Event data that does not decode as the layout its type
 * calls for is not an error: the event is shown raw with a "note". NULL only on ENOMEM.
 */
json_object *eventlog_event_to_json(const struct eventlog_event *e);
/* { format, spec_id{...}, banks[], events[], end, trailing_bytes } */
json_object *eventlog_to_json(const struct eventlog *log);
/* { "<bank>": { "0": hex, ..., "23": hex }, ... } for every available bank */
json_object *eventlog_pcrs_to_json(const struct eventlog_pcrs *p);

/* Human-readable listing. */
void eventlog_print_header(FILE *f, const struct eventlog *log);
void eventlog_event_print(FILE *f, size_t index, const struct eventlog_event *e);

#endif
