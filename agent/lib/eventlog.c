// SPDX-License-Identifier: Apache-2.0
/*
 * eventlog.c: TCG PC Client event log decoder, replay and rendering (shared/spec section 7).
 *
 * Layout of this file: tables; the decoder (Spec ID header, TCG_PCR_EVENT, TCG_PCR_EVENT2);
 * replay; decoders for event data layouts; JSON rendering; text rendering.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <openssl/evp.h>

#include "eventlog.h"
#include "reader.h"
#include "util.h"

/* ---------------------------------------------------------------------------------------- */
/* Tables */

static const struct {
	uint16_t alg;
	uint16_t size;
	const char *name;
	const char *evp_name;
} algs[] = {
	{ EVENTLOG_ALG_SHA1, 20, "sha1", "SHA1" },
	{ EVENTLOG_ALG_SHA256, 32, "sha256", "SHA256" },
	{ EVENTLOG_ALG_SHA384, 48, "sha384", "SHA384" },
	{ EVENTLOG_ALG_SHA512, 64, "sha512", "SHA512" },
	{ EVENTLOG_ALG_SM3_256, 32, "sm3_256", "SM3" },
	{ EVENTLOG_ALG_SHA3_256, 32, "sha3_256", "SHA3-256" },
	{ EVENTLOG_ALG_SHA3_384, 48, "sha3_384", "SHA3-384" },
	{ EVENTLOG_ALG_SHA3_512, 64, "sha3_512", "SHA3-512" },
};

const char *eventlog_alg_name(uint16_t alg)
{
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++)
		if (algs[i].alg == alg)
			return algs[i].name;
	return NULL;
}

unsigned eventlog_alg_size(uint16_t alg)
{
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++)
		if (algs[i].alg == alg)
			return algs[i].size;
	return 0;
}

int eventlog_alg_from_name(const char *name, uint16_t *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++)
		if (streq(algs[i].name, name)) {
			*ret = algs[i].alg;
			return 0;
		}
	return -EINVAL;
}

static const char *alg_evp_name(uint16_t alg)
{
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++)
		if (algs[i].alg == alg)
			return algs[i].evp_name;
	return NULL;
}

/* "sha256", or "alg_0x1234" for an algorithm we do not know */
static const char *alg_label(uint16_t alg, char buf[16])
{
	const char *n = eventlog_alg_name(alg);

	if (n)
		return n;
	snprintf(buf, 16, "alg_0x%04x", alg);
	return buf;
}

static const struct {
	uint32_t type;
	const char *name;
} types[] = {
	{ EV_PREBOOT_CERT, "EV_PREBOOT_CERT" },
	{ EV_POST_CODE, "EV_POST_CODE" },
	{ EV_UNUSED, "EV_UNUSED" },
	{ EV_NO_ACTION, "EV_NO_ACTION" },
	{ EV_SEPARATOR, "EV_SEPARATOR" },
	{ EV_ACTION, "EV_ACTION" },
	{ EV_EVENT_TAG, "EV_EVENT_TAG" },
	{ EV_S_CRTM_CONTENTS, "EV_S_CRTM_CONTENTS" },
	{ EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION" },
	{ EV_CPU_MICROCODE, "EV_CPU_MICROCODE" },
	{ EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS" },
	{ EV_TABLE_OF_DEVICES, "EV_TABLE_OF_DEVICES" },
	{ EV_COMPACT_HASH, "EV_COMPACT_HASH" },
	{ EV_IPL, "EV_IPL" },
	{ EV_IPL_PARTITION_DATA, "EV_IPL_PARTITION_DATA" },
	{ EV_NONHOST_CODE, "EV_NONHOST_CODE" },
	{ EV_NONHOST_CONFIG, "EV_NONHOST_CONFIG" },
	{ EV_NONHOST_INFO, "EV_NONHOST_INFO" },
	{ EV_OMIT_BOOT_DEVICE_EVENTS, "EV_OMIT_BOOT_DEVICE_EVENTS" },
	{ EV_EFI_EVENT_BASE, "EV_EFI_EVENT_BASE" },
	{ EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG" },
	{ EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT" },
	{ EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION" },
	{ EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER" },
	{ EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER" },
	{ EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT" },
	{ EV_EFI_ACTION, "EV_EFI_ACTION" },
	{ EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB" },
	{ EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES" },
	{ EV_EFI_PLATFORM_FIRMWARE_BLOB2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2" },
	{ EV_EFI_HANDOFF_TABLES2, "EV_EFI_HANDOFF_TABLES2" },
	{ EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2" },
	{ EV_EFI_GPT_EVENT2, "EV_EFI_GPT_EVENT2" },
	{ EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT" },
	{ EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY" },
	{ EV_EFI_SPDM_FIRMWARE_BLOB, "EV_EFI_SPDM_FIRMWARE_BLOB" },
	{ EV_EFI_SPDM_FIRMWARE_CONFIG, "EV_EFI_SPDM_FIRMWARE_CONFIG" },
};

const char *eventlog_type_name(uint32_t type)
{
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (types[i].type == type)
			return types[i].name;
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Decoder */

#define SPECID_SIG_PREFIX     "Spec ID Event"
#define SPECID_SIG_PREFIX_LEN 13
#define SPECID_SIG_LEN        16
#define SHA1_RECORD_HEADER    32 /* pcr, type, 20-byte digest, size */
#define EVENT2_FIXED_HEADER   12 /* pcr, type, digest count */

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/*
 * Is the reader at the start of trailing padding? Zero padding: index, type (and digest count,
 * or digest and size for TCG_PCR_EVENT) zero. Erased padding: index and type 0xffffffff. A tail
 * too short for a record header is padding if it is all 0x00 or all 0xff.
 */
static bool at_padding(const struct reader *r, bool agile)
{
	size_t hdr = agile ? EVENT2_FIXED_HEADER : SHA1_RECORD_HEADER;

	if (r->left < hdr)
		return all_bytes(r->p, r->left, 0) || all_bytes(r->p, r->left, 0xff);
	if (all_bytes(r->p, 8, 0xff))
		return true;
	return all_bytes(r->p, hdr, 0);
}

static int events_append(struct eventlog *log, size_t *cap, const struct eventlog_event *e,
			 struct kagi_err *reterr)
{
	if (log->nevents >= EVENTLOG_MAX_EVENTS)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.event.count", e->offset,
				    "more than %u events in the log", EVENTLOG_MAX_EVENTS);
	if (log->nevents == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct eventlog_event *n = realloc(log->events, ncap * sizeof(*n));

		if (!n)
			return kagi_err_set(reterr, -ENOMEM, "eventlog.alloc", KAGI_ERR_NO_OFFSET,
					    "out of memory for %zu events", ncap);
		log->events = n;
		*cap = ncap;
	}
	log->events[log->nevents++] = *e;
	return 0;
}

/* The u32 event data size and the data itself, common to both record formats. */
static int read_event_data(struct reader *r, struct eventlog_event *e, struct kagi_err *reterr)
{
	size_t off = r->off;
	uint32_t size;

	if (reader_le32(r, &size) < 0)
		return kagi_err_set(
			reterr, -EBADMSG, "eventlog.event.truncated", off,
			"record ends before its event size field (%zu bytes left, need 4)",
			r->left);
	if (size > EVENTLOG_MAX_EVENT_DATA)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.event.data_size", off,
				    "event data size %" PRIu32 " exceeds the limit of %u bytes",
				    size, EVENTLOG_MAX_EVENT_DATA);
	if (reader_take(r, size, &e->data) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.event.data_size", off,
				    "event data size %" PRIu32 " exceeds the %zu bytes left", size,
				    r->left);
	if (size == 0)
		e->data = NULL;
	e->data_len = size;
	return 0;
}

/* TCG_PCR_EVENT (SHA-1 format): the first record of every log and every record of a SHA-1 log */
static int read_sha1_record(struct reader *r, struct eventlog_event *e, struct kagi_err *reterr)
{
	struct eventlog_event ev = { .offset = r->off, .ndigests = 1 };

	if (r->left < SHA1_RECORD_HEADER)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.event.truncated", r->off,
				    "TCG_PCR_EVENT header needs %d bytes, %zu left",
				    SHA1_RECORD_HEADER, r->left);
	(void)reader_le32(r, &ev.pcr);
	(void)reader_le32(r, &ev.type);
	ev.digests[0].alg = EVENTLOG_ALG_SHA1;
	ev.digests[0].size = 20;
	(void)reader_take(r, 20, &ev.digests[0].bytes);
	if (read_event_data(r, &ev, reterr) < 0)
		return -EBADMSG;
	*e = ev;
	return 0;
}

static int decode_specid(const struct eventlog_event *rec, struct eventlog *log,
			 struct kagi_err *reterr)
{
	/* offsets of the fields in the record, for messages */
	size_t base = rec->offset, doff = base + SHA1_RECORD_HEADER;
	struct reader r = { .p = rec->data, .left = rec->data_len, .off = doff };
	const uint8_t *sig;
	uint32_t nalgs;
	size_t off;

	if (rec->pcr != 0 && rec->pcr != 1)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.pcr", base,
				    "Spec ID event index is %" PRIu32
				    ", expected 0 (or 1 in a CC event log)",
				    rec->pcr);
	if (rec->type != EV_NO_ACTION)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.type", base + 4,
				    "Spec ID event type is 0x%" PRIx32
				    ", expected EV_NO_ACTION (0x3)",
				    rec->type);
	if (!mem_is_zero(rec->digests[0].bytes, 20))
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.digest", base + 8,
				    "Spec ID event digest is not all zero");

	(void)reader_take(&r, SPECID_SIG_LEN, &sig); /* checked by the caller */
	if (memcmp(sig, "Spec ID Event03", SPECID_SIG_LEN) != 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.signature", doff,
				    "Spec ID signature is not \"Spec ID Event03\\0\"");
	off = r.off;
	if (reader_le32(&r, &log->platform_class) < 0 || reader_u8(&r, &log->spec_minor) < 0 ||
	    reader_u8(&r, &log->spec_major) < 0 || reader_u8(&r, &log->spec_errata) < 0 ||
	    reader_u8(&r, &log->uintn_size) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.size", off,
				    "Spec ID event data (%" PRIu32
				    " bytes) ends inside the fixed fields",
				    rec->data_len);
	if (log->spec_major != 2)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.version", doff + 21,
				    "Spec ID specVersionMajor is %u, expected 2", log->spec_major);
	if (log->uintn_size != 1 && log->uintn_size != 2)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.uintn_size", doff + 23,
				    "Spec ID uintnSize is %u, expected 1 or 2", log->uintn_size);
	off = r.off;
	if (reader_le32(&r, &nalgs) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.size", off,
				    "Spec ID event data ends before numberOfAlgorithms");
	if (nalgs == 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.algorithm_count", off,
				    "Spec ID declares no digest algorithm");
	if (nalgs > EVENTLOG_MAX_BANKS)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.algorithm_count", off,
				    "Spec ID declares %" PRIu32
				    " digest algorithms, at most %d allowed",
				    nalgs, EVENTLOG_MAX_BANKS);
	for (uint32_t i = 0; i < nalgs; i++) {
		uint16_t alg, size;
		unsigned known;

		off = r.off;
		if (reader_le16(&r, &alg) < 0 || reader_le16(&r, &size) < 0)
			return kagi_err_set(
				reterr, -EBADMSG, "eventlog.specid.size", off,
				"Spec ID event data ends inside algorithm entry %" PRIu32
				" of %" PRIu32,
				i, nalgs);
		known = eventlog_alg_size(alg);
		if (known && size != known)
			return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.digest_size",
					    off + 2, "Spec ID gives %s digest size %u, expected %u",
					    eventlog_alg_name(alg), size, known);
		if (size == 0 || size > EVENTLOG_MAX_DIGEST_SIZE)
			return kagi_err_set(
				reterr, -EBADMSG, "eventlog.specid.digest_size", off + 2,
				"Spec ID gives algorithm 0x%04x digest size %u, expected "
				"1..%d",
				alg, size, EVENTLOG_MAX_DIGEST_SIZE);
		for (size_t j = 0; j < log->nbanks; j++)
			if (log->banks[j].alg == alg)
				return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.algorithm",
						    off, "Spec ID declares algorithm 0x%04x twice",
						    alg);
		log->banks[log->nbanks].alg = alg;
		log->banks[log->nbanks].size = size;
		log->nbanks++;
	}
	off = r.off;
	if (reader_u8(&r, &log->vendor_info_len) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.size", off,
				    "Spec ID event data ends before vendorInfoSize");
	if (reader_take(&r, log->vendor_info_len, &log->vendor_info) < 0)
		return kagi_err_set(
			reterr, -EBADMSG, "eventlog.specid.vendor_info", off,
			"Spec ID vendorInfoSize %u exceeds the %zu bytes left in the event",
			log->vendor_info_len, r.left);
	if (!reader_empty(&r))
		return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.size", r.off,
				    "%zu unexpected bytes after the Spec ID vendor info", r.left);
	log->specid_pcr = rec->pcr;
	log->crypto_agile = true;
	return 0;
}

static const struct eventlog_bank *find_bank(const struct eventlog *log, uint16_t alg)
{
	for (size_t i = 0; i < log->nbanks; i++)
		if (log->banks[i].alg == alg)
			return &log->banks[i];
	return NULL;
}

/* TCG_PCR_EVENT2 */
static int read_event2(struct reader *r, const struct eventlog *log, struct eventlog_event *e,
		       struct kagi_err *reterr)
{
	struct eventlog_event ev = { .offset = r->off };
	size_t off = r->off;
	uint32_t count;

	if (reader_le32(r, &ev.pcr) < 0 || reader_le32(r, &ev.type) < 0 ||
	    reader_le32(r, &count) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.event.truncated", off,
				    "TCG_PCR_EVENT2 header needs %d bytes, %zu left",
				    EVENT2_FIXED_HEADER, r->left);
	if (count > log->nbanks)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.event2.digest_count", off + 8,
				    "event has %" PRIu32
				    " digests, the Spec ID declares %zu algorithms",
				    count, log->nbanks);
	for (uint32_t i = 0; i < count; i++) {
		const struct eventlog_bank *b;
		struct eventlog_digest *d = &ev.digests[i];
		char lb[16];

		off = r->off;
		if (reader_le16(r, &d->alg) < 0)
			return kagi_err_set(reterr, -EBADMSG, "eventlog.event2.digest", off,
					    "record ends before the algorithm of digest %" PRIu32,
					    i);
		b = find_bank(log, d->alg);
		if (!b)
			return kagi_err_set(
				reterr, -EBADMSG, "eventlog.event2.digest_alg", off,
				"digest algorithm %s (0x%04x) is not declared in the Spec ID "
				"event",
				alg_label(d->alg, lb), d->alg);
		for (uint32_t j = 0; j < i; j++)
			if (ev.digests[j].alg == d->alg)
				return kagi_err_set(
					reterr, -EBADMSG, "eventlog.event2.digest_alg", off,
					"digest algorithm %s appears twice in one event",
					alg_label(d->alg, lb));
		d->size = b->size;
		if (reader_take(r, d->size, &d->bytes) < 0)
			return kagi_err_set(reterr, -EBADMSG, "eventlog.event2.digest", off + 2,
					    "%s digest needs %u bytes, %zu left",
					    alg_label(d->alg, lb), d->size, r->left);
	}
	ev.ndigests = count;
	if (read_event_data(r, &ev, reterr) < 0)
		return -EBADMSG;
	*e = ev;
	return 0;
}

/* Does the first record carry a Spec ID event ("Spec ID Event" + 2 digits + NUL)? */
static int classify_first(const struct eventlog_event *rec, bool *ret_agile,
			  struct kagi_err *reterr)
{
	const uint8_t *d = rec->data;

	*ret_agile = false;
	if (rec->data_len < SPECID_SIG_PREFIX_LEN ||
	    memcmp(d, SPECID_SIG_PREFIX, SPECID_SIG_PREFIX_LEN) != 0)
		return 0; /* an ordinary first event: SHA-1 log */
	if (rec->data_len >= SPECID_SIG_LEN && d[15] == 0) {
		if (memcmp(d, "Spec ID Event03", SPECID_SIG_LEN) == 0) {
			*ret_agile = true;
			return 0;
		}
		/* TCG_EfiSpecIdEventStruct of SHA-1 logs (PFP for TPM 1.2, EFI TCG 1.x) */
		if (memcmp(d, "Spec ID Event00", SPECID_SIG_LEN) == 0 ||
		    memcmp(d, "Spec ID Event02", SPECID_SIG_LEN) == 0)
			return 0;
	}
	return kagi_err_set(reterr, -EBADMSG, "eventlog.specid.signature",
			    rec->offset + SHA1_RECORD_HEADER,
			    "first event starts with \"Spec ID Event\" but is not a known Spec ID "
			    "signature (Event03, Event02 or Event00, NUL-terminated)");
}

int eventlog_decode(const uint8_t *buf, size_t len, struct eventlog *ret, struct kagi_err *reterr)
{
	struct eventlog log = { 0 };
	struct reader r = reader_init(buf, len);
	struct eventlog_event first, ev;
	size_t cap = 0;
	bool agile;
	int k;

	if (!buf || len == 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.empty", 0, "empty event log");

	k = read_sha1_record(&r, &first, reterr);
	if (k < 0)
		return k;
	k = classify_first(&first, &agile, reterr);
	if (k < 0)
		return k;
	if (agile) {
		k = decode_specid(&first, &log, reterr);
		if (k < 0)
			return k;
	} else {
		log.nbanks = 1;
		log.banks[0].alg = EVENTLOG_ALG_SHA1;
		log.banks[0].size = 20;
		/* re-read the first record as an ordinary event, unless it is padding */
		r = reader_init(buf, len);
		if (at_padding(&r, false))
			return kagi_err_set(reterr, -EBADMSG, "eventlog.empty", 0,
					    "event log holds no event, only %zu bytes of padding",
					    len);
	}

	while (!reader_empty(&r)) {
		if (at_padding(&r, log.crypto_agile))
			break;
		if (log.crypto_agile)
			k = read_event2(&r, &log, &ev, reterr);
		else
			k = read_sha1_record(&r, &ev, reterr);
		if (k >= 0)
			k = events_append(&log, &cap, &ev, reterr);
		if (k < 0) {
			free(log.events);
			return k;
		}
	}
	log.end = r.off;
	log.trailing_len = r.left;
	*ret = log;
	return 0;
}

void eventlog_done(struct eventlog *log)
{
	if (!log)
		return;
	free(log->events);
	log->events = NULL;
	log->nevents = 0;
}

const struct eventlog_digest *eventlog_event_digest(const struct eventlog_event *e, uint16_t alg)
{
	for (size_t i = 0; i < e->ndigests; i++)
		if (e->digests[i].alg == alg)
			return &e->digests[i];
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Replay */

#define STARTUP_LOCALITY_SIG "StartupLocality"

static bool is_startup_locality(const struct eventlog_event *e, uint8_t *ret_locality)
{
	if (e->type != EV_NO_ACTION || e->pcr != 0 || e->data_len != 17 ||
	    memcmp(e->data, STARTUP_LOCALITY_SIG, sizeof(STARTUP_LOCALITY_SIG)) != 0)
		return false;
	*ret_locality = e->data[16];
	return true;
}

static void pcr0_set_start(struct eventlog_pcrs *p, uint8_t locality)
{
	p->locality = locality;
	for (size_t b = 0; b < p->nbanks; b++) {
		memset(p->bank[b].value[0], 0, sizeof(p->bank[b].value[0]));
		p->bank[b].value[0][p->bank[b].size - 1] = locality;
	}
}

int eventlog_replay(const struct eventlog *log, struct eventlog_pcrs *ret, struct kagi_err *reterr)
{
	EVP_MD *md[EVENTLOG_MAX_BANKS] = { 0 };
	EVP_MD_CTX *ctx = NULL;
	struct eventlog_pcrs *p;
	bool pcr0_extended = false;
	int k = 0;

	p = calloc(1, sizeof(*p));
	ctx = EVP_MD_CTX_new();
	if (!p || !ctx) {
		k = kagi_err_set(reterr, -ENOMEM, "eventlog.alloc", KAGI_ERR_NO_OFFSET,
				 "out of memory for the replay");
		goto out;
	}

	p->nbanks = log->nbanks;
	for (size_t b = 0; b < log->nbanks; b++) {
		struct eventlog_bank_pcrs *bank = &p->bank[b];
		const char *name = alg_evp_name(log->banks[b].alg);

		bank->alg = log->banks[b].alg;
		bank->size = log->banks[b].size;
		if (name)
			md[b] = EVP_MD_fetch(NULL, name, NULL);
		bank->available = md[b] && (size_t)EVP_MD_get_size(md[b]) == bank->size;
		for (unsigned i = 0; i < EVENTLOG_NUM_PCRS; i++)
			memset(bank->value[i], i >= 17 && i <= 22 ? 0xff : 0, bank->size);
	}

	for (size_t i = 0; i < log->nevents; i++) {
		const struct eventlog_event *e = &log->events[i];
		uint8_t loc;

		if (e->type == EV_NO_ACTION) {
			if (is_startup_locality(e, &loc) && !pcr0_extended && !p->hcrtm)
				pcr0_set_start(p, loc);
			continue;
		}
		if (e->pcr >= EVENTLOG_NUM_PCRS) {
			p->nskipped++;
			continue;
		}
		if (e->pcr == 0 && e->type == EV_EFI_HCRTM_EVENT && !pcr0_extended) {
			p->hcrtm = true;
			pcr0_set_start(p, 4);
		}
		for (size_t b = 0; b < p->nbanks; b++) {
			struct eventlog_bank_pcrs *bank = &p->bank[b];
			const struct eventlog_digest *d = eventlog_event_digest(e, bank->alg);
			uint8_t *v = bank->value[e->pcr];
			unsigned outlen = 0;

			if (!d) {
				bank->nmissing++;
				continue;
			}
			bank->extended[e->pcr] = true;
			if (!bank->available)
				continue;
			if (EVP_DigestInit_ex(ctx, md[b], NULL) != 1 ||
			    EVP_DigestUpdate(ctx, v, bank->size) != 1 ||
			    EVP_DigestUpdate(ctx, d->bytes, d->size) != 1 ||
			    EVP_DigestFinal_ex(ctx, v, &outlen) != 1 || outlen != bank->size) {
				k = kagi_err_set(reterr, -EIO, "eventlog.replay.hash", e->offset,
						 "%s extend failed in OpenSSL",
						 eventlog_alg_name(bank->alg));
				goto out;
			}
		}
		if (e->pcr == 0)
			pcr0_extended = true;
	}
	*ret = *p;
out:
	for (size_t b = 0; b < EVENTLOG_MAX_BANKS; b++)
		EVP_MD_free(md[b]);
	EVP_MD_CTX_free(ctx);
	free(p);
	return k;
}

const struct eventlog_bank_pcrs *eventlog_pcrs_bank(const struct eventlog_pcrs *p, uint16_t alg)
{
	for (size_t b = 0; b < p->nbanks; b++)
		if (p->bank[b].alg == alg)
			return &p->bank[b];
	return NULL;
}

const uint8_t *eventlog_pcrs_get(const struct eventlog_pcrs *p, uint16_t alg, unsigned pcr)
{
	const struct eventlog_bank_pcrs *b = eventlog_pcrs_bank(p, alg);

	if (!b || !b->available || pcr >= EVENTLOG_NUM_PCRS)
		return NULL;
	return b->value[pcr];
}

/* ---------------------------------------------------------------------------------------- */
/* Event data layouts */

char *eventlog_guid_str(const uint8_t g[16], char out[37])
{
	snprintf(out, 37, "%08" PRIx32 "-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", get_le32(g),
		 get_le16(g + 4), get_le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14],
		 g[15]);
	return out;
}

static size_t utf8_put(char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

char *eventlog_utf16_to_utf8(const uint8_t *p, size_t n)
{
	/* at most 3 bytes of UTF-8 per code unit (a surrogate pair gives 4 for 2 units) */
	char *s, *o;

	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	s = malloc(3 * n + 1);
	if (!s)
		return NULL;
	o = s;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = get_le16(p + 2 * i);

		if (c == 0)
			break;
		if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
			uint32_t lo = get_le16(p + 2 * (i + 1));

			if (lo >= 0xdc00 && lo <= 0xdfff) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				i++;
				o += utf8_put(o, c);
				continue;
			}
		}
		if (c >= 0xd800 && c <= 0xdfff)
			c = '?';
		o += utf8_put(o, c);
	}
	*o = '\0';
	return s;
}

int eventlog_variable_decode(const uint8_t *buf, size_t len, struct eventlog_variable *ret,
			     struct kagi_err *reterr)
{
	struct reader r = reader_init(buf, len);
	struct eventlog_variable v = { 0 };
	size_t off;

	if (reader_copy(&r, v.guid, 16) < 0 || reader_le64(&r, &v.name_len) < 0 ||
	    reader_le64(&r, &v.data_len) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.variable.header", r.off,
				    "%zu bytes, the UEFI_VARIABLE_DATA header needs 32", len);
	off = r.off;
	if (v.name_len > r.left / 2 || reader_take(&r, (size_t)v.name_len * 2, &v.name_utf16) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.variable.name_length", 16,
				    "UnicodeNameLength %" PRIu64 " (UTF-16 units) exceeds the %zu "
				    "bytes left",
				    v.name_len, len - off);
	off = r.off;
	if (v.data_len > r.left || reader_take(&r, (size_t)v.data_len, &v.data) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.variable.data_length", 24,
				    "VariableDataLength %" PRIu64 " exceeds the %zu bytes left",
				    v.data_len, len - off);
	v.trailing = r.left;
	*ret = v;
	return 0;
}

char *eventlog_variable_name(const struct eventlog_variable *v)
{
	return eventlog_utf16_to_utf8(v->name_utf16, (size_t)v->name_len);
}

int eventlog_image_load_decode(const uint8_t *buf, size_t len, struct eventlog_image_load *ret,
			       struct kagi_err *reterr)
{
	struct reader r = reader_init(buf, len);
	struct eventlog_image_load im = { 0 };

	if (reader_le64(&r, &im.location) < 0 || reader_le64(&r, &im.length) < 0 ||
	    reader_le64(&r, &im.link_address) < 0 || reader_le64(&r, &im.device_path_len) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.image_load.header", r.off,
				    "%zu bytes, the UEFI_IMAGE_LOAD_EVENT header needs 32", len);
	if (im.device_path_len > r.left)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.image_load.device_path_length", 24,
				    "LengthOfDevicePath %" PRIu64 " exceeds the %zu bytes left",
				    im.device_path_len, r.left);
	(void)reader_take(&r, (size_t)im.device_path_len, &im.device_path);
	im.trailing = r.left; /* some firmware pads the event */
	*ret = im;
	return 0;
}

int eventlog_tagged_decode(const uint8_t *buf, size_t len, struct eventlog_tagged *ret,
			   struct kagi_err *reterr)
{
	struct reader r = reader_init(buf, len);
	struct eventlog_tagged t = { 0 };

	if (reader_le32(&r, &t.id) < 0 || reader_le32(&r, &t.data_len) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.tagged.header", r.off,
				    "%zu bytes, the TCG_PCClientTaggedEvent header needs 8", len);
	if (reader_take(&r, t.data_len, &t.data) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.tagged.data_size", 4,
				    "taggedEventDataSize %" PRIu32 " exceeds the %zu bytes left",
				    t.data_len, r.left);
	if (!reader_empty(&r))
		return kagi_err_set(reterr, -EBADMSG, "eventlog.tagged.size", r.off,
				    "%zu bytes after the tagged event data", r.left);
	*ret = t;
	return 0;
}

int eventlog_blob_decode(const uint8_t *buf, size_t len, bool blob2, struct eventlog_blob *ret,
			 struct kagi_err *reterr)
{
	struct reader r = reader_init(buf, len);
	struct eventlog_blob b = { 0 };

	if (blob2) {
		if (reader_u8(&r, &b.desc_len) < 0 || reader_take(&r, b.desc_len, &b.desc) < 0)
			return kagi_err_set(reterr, -EBADMSG, "eventlog.blob.description", 0,
					    "BlobDescriptionSize exceeds the %zu bytes of data",
					    len);
	}
	if (reader_le64(&r, &b.base) < 0 || reader_le64(&r, &b.length) < 0)
		return kagi_err_set(reterr, -EBADMSG, "eventlog.blob.size", r.off,
				    "%zu bytes, the blob base and length need 16 more", len);
	if (!reader_empty(&r))
		return kagi_err_set(reterr, -EBADMSG, "eventlog.blob.size", r.off,
				    "%zu bytes after the blob length", r.left);
	*ret = b;
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* JSON rendering */

/* Strict UTF-8 without overlongs or surrogates. */
static bool utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		uint32_t cp, min;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* Length without trailing NULs. */
static size_t strip_nuls(const uint8_t *p, size_t n)
{
	while (n > 0 && p[n - 1] == 0)
		n--;
	return n;
}

/* Printable text: no NUL or other C0 control except tab/newline/CR, no DEL. */
static bool text_printable(const uint8_t *p, size_t n, bool ascii_only)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0x7f || (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r'))
			return false;
		if (ascii_only && p[i] >= 0x80)
			return false;
	}
	return ascii_only || utf8_valid(p, n);
}

static int json_add(json_object *o, const char *key, json_object *v)
{
	if (!v)
		return -ENOMEM;
	return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

static int json_add_str_n(json_object *o, const char *key, const uint8_t *p, size_t n)
{
	return json_add(o, key, json_object_new_string_len((const char *)p, (int)n));
}

static int json_add_str(json_object *o, const char *key, const char *s)
{
	return json_add(o, key, json_object_new_string(s));
}

static int json_add_hex(json_object *o, const char *key, const uint8_t *p, size_t n)
{
	_cleanup_free_ char *h = hex_encode_alloc(p ? p : (const uint8_t *)"", p ? n : 0);

	if (!h)
		return -ENOMEM;
	return json_add_str(o, key, h);
}

static int json_add_u64(json_object *o, const char *key, uint64_t v)
{
	return json_add(o, key, json_object_new_uint64(v));
}

static int json_add_x64(json_object *o, const char *key, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%" PRIx64, v);
	return json_add_str(o, key, b);
}

static int json_add_guid(json_object *o, const char *key, const uint8_t *g)
{
	char s[37];

	return json_add_str(o, key, eventlog_guid_str(g, s));
}

static int json_add_utf16(json_object *o, const char *key, const uint8_t *p, size_t n)
{
	_cleanup_free_ char *s = eventlog_utf16_to_utf8(p, n);

	if (!s)
		return -ENOMEM;
	return json_add_str(o, key, s);
}

/* A decoder fills `o` and returns 0, or returns -EBADMSG with a reason in note. */
typedef int (*data_decoder)(const struct eventlog_event *e, json_object *o, char *note,
			    size_t notelen);

#define NOTE(...) (snprintf(note, notelen, __VA_ARGS__), -EBADMSG)

static int dec_string(const struct eventlog_event *e, json_object *o, char *note, size_t notelen)
{
	size_t n = strip_nuls(e->data, e->data_len);

	if (n == 0 && e->data_len > 0)
		return NOTE("event data is %" PRIu32 " NUL bytes", e->data_len);
	if (!text_printable(e->data, n, e->type == EV_EFI_ACTION || e->type == EV_ACTION))
		return NOTE("event data is not printable %s text",
			    e->type == EV_IPL ? "UTF-8" : "ASCII");
	return json_add_str_n(o, "string", e->data, n);
}

/* EV_IPL: GRUB and shim log UTF-8/ASCII (with or without NUL); systemd-stub logs UTF-16LE. */
static bool utf16_printable(const uint8_t *p, size_t nunits)
{
	if (nunits == 0)
		return false;
	for (size_t i = 0; i < nunits; i++) {
		uint16_t c = get_le16(p + 2 * i);

		if (c == 0)
			return i + 1 == nunits; /* only a final NUL */
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static int dec_ipl(const struct eventlog_event *e, json_object *o, char *note, size_t notelen)
{
	size_t n = strip_nuls(e->data, e->data_len);
	int k;

	if (n > 0 && text_printable(e->data, n, false))
		return json_add_str_n(o, "string", e->data, n);
	/* an odd final NUL byte is tolerated: old systemd-boot logs a truncated UTF-16 NUL */
	if ((e->data_len % 2 == 0 || e->data[e->data_len - 1] == 0) &&
	    utf16_printable(e->data, e->data_len / 2)) {
		k = json_add_utf16(o, "string", e->data, e->data_len / 2);
		return k < 0 ? k : json_add_str(o, "encoding", "utf-16le");
	}
	return NOTE("event data is neither a UTF-8 nor a UTF-16LE string");
}

static int dec_crtm_version(const struct eventlog_event *e, json_object *o, char *note,
			    size_t notelen)
{
	if (e->data_len % 2 != 0 || !utf16_printable(e->data, e->data_len / 2))
		return NOTE("event data (%" PRIu32 " bytes) is not a UTF-16LE string", e->data_len);
	return json_add_utf16(o, "string", e->data, e->data_len / 2);
}

static int dec_separator(const struct eventlog_event *e, json_object *o, char *note, size_t notelen)
{
	uint32_t v;
	char b[16];
	int k;

	if (e->data_len != 4)
		return NOTE("EV_SEPARATOR data is %" PRIu32 " bytes, expected 4", e->data_len);
	v = get_le32(e->data);
	snprintf(b, sizeof(b), "0x%08" PRIx32, v);
	k = json_add_str(o, "value", b);
	if (k < 0)
		return k;
	return json_add_str(o, "meaning", v == 0 ? "normal" : v == 1 ? "error" : "non-standard");
}

static int add_text_or_hex(json_object *o, const char *key, const char *hexkey, const uint8_t *p,
			   size_t n)
{
	size_t m = strip_nuls(p, n);

	if (m > 0 && text_printable(p, m, false))
		return json_add_str_n(o, key, p, m);
	return json_add_hex(o, hexkey, p, n);
}

static int dec_tagged(const struct eventlog_event *e, json_object *o, char *note, size_t notelen)
{
	struct eventlog_tagged t;
	struct kagi_err err;
	char b[16];
	int k;

	if (eventlog_tagged_decode(e->data, e->data_len, &t, &err) < 0)
		return NOTE("event data does not decode as TCG_PCClientTaggedEvent: %s", err.msg);
	snprintf(b, sizeof(b), "0x%08" PRIx32, t.id);
	if ((k = json_add_str(o, "tag_id", b)) < 0)
		return k;
	if (t.id == EVENTLOG_TAG_LINUX_INITRD)
		k = json_add_str(o, "tag_name", "Linux initrd");
	else if (t.id == EVENTLOG_TAG_LINUX_LOAD_OPTIONS)
		k = json_add_str(o, "tag_name", "Linux LoadOptions");
	if (k < 0 || (k = json_add_u64(o, "tag_data_size", t.data_len)) < 0)
		return k;
	return add_text_or_hex(o, "tag_string", "tag_data", t.data, t.data_len);
}

static int dec_image_load(const struct eventlog_event *e, json_object *o, char *note,
			  size_t notelen)
{
	struct eventlog_image_load im;
	struct kagi_err err;
	int k;

	if (eventlog_image_load_decode(e->data, e->data_len, &im, &err) < 0)
		return NOTE("event data does not decode as UEFI_IMAGE_LOAD_EVENT: %s", err.msg);
	if ((k = json_add_x64(o, "image_location", im.location)) < 0 ||
	    (k = json_add_u64(o, "image_length", im.length)) < 0 ||
	    (k = json_add_x64(o, "link_time_address", im.link_address)) < 0 ||
	    (k = json_add_u64(o, "device_path_length", im.device_path_len)) < 0)
		return k;
	if ((k = json_add_hex(o, "device_path", im.device_path, (size_t)im.device_path_len)) < 0)
		return k;
	if (im.trailing)
		return json_add_u64(o, "trailing_bytes", im.trailing);
	return 0;
}

static const uint8_t efi_global_variable[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
						 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };

static bool is_boot_option_name(const char *n)
{
	/* Boot#### with four hex digits */
	if (strncmp(n, "Boot", 4) != 0 || strlen(n) != 8)
		return false;
	for (int i = 4; i < 8; i++)
		if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'A' && n[i] <= 'F') ||
		      (n[i] >= 'a' && n[i] <= 'f')))
			return false;
	return true;
}

/* EFI_LOAD_OPTION: u32 Attributes, u16 FilePathListLength, UTF-16 Description\0, FilePathList,
 * OptionalData. Only the description and lengths are shown. */
static int add_boot_option(json_object *o, const uint8_t *p, size_t n)
{
	struct reader r = reader_init(p, n);
	json_object *bo = json_object_new_object();
	uint32_t attrs;
	uint16_t fpl;
	size_t units = 0;
	int k;

	if (!bo)
		return -ENOMEM;
	if ((k = json_add(o, "boot_option", bo)) < 0)
		return k;
	if (reader_le32(&r, &attrs) < 0 || reader_le16(&r, &fpl) < 0)
		return json_add_str(bo, "note", "shorter than an EFI_LOAD_OPTION header");
	while (2 * (units + 1) <= r.left && get_le16(r.p + 2 * units) != 0)
		units++;
	if (2 * (units + 1) > r.left)
		return json_add_str(bo, "note", "description is not NUL-terminated");
	if ((k = json_add_x64(bo, "attributes", attrs)) < 0 ||
	    (k = json_add_utf16(bo, "description", r.p, units)) < 0 ||
	    (k = json_add_u64(bo, "file_path_list_length", fpl)) < 0)
		return k;
	(void)reader_skip(&r, 2 * (units + 1));
	if (fpl > r.left)
		return json_add_str(bo, "note", "FilePathListLength exceeds the variable data");
	(void)reader_skip(&r, fpl);
	return json_add_u64(bo, "optional_data_length", r.left);
}

static int dec_variable(const struct eventlog_event *e, json_object *o, char *note, size_t notelen)
{
	struct eventlog_variable v;
	struct kagi_err err;
	_cleanup_free_ char *name = NULL;
	int k;

	if (eventlog_variable_decode(e->data, e->data_len, &v, &err) < 0)
		return NOTE("event data does not decode as UEFI_VARIABLE_DATA: %s", err.msg);
	name = eventlog_variable_name(&v);
	if (!name)
		return -ENOMEM;
	if ((k = json_add_guid(o, "variable_guid", v.guid)) < 0 ||
	    (k = json_add_str(o, "variable_name", name)) < 0 ||
	    (k = json_add_u64(o, "name_length", v.name_len)) < 0 ||
	    (k = json_add_u64(o, "data_length", v.data_len)) < 0)
		return k;
	if (v.trailing && (k = json_add_u64(o, "trailing_bytes", v.trailing)) < 0)
		return k;
	if (memcmp(v.guid, efi_global_variable, 16) != 0 || e->type == EV_EFI_VARIABLE_AUTHORITY)
		return 0;
	if (streq(name, "BootOrder")) {
		json_object *a;

		if (v.data_len % 2)
			return json_add_str(o, "boot_order_note", "odd BootOrder length");
		a = json_object_new_array();
		if ((k = json_add(o, "boot_order", a)) < 0)
			return k;
		for (size_t i = 0; i + 1 < v.data_len; i += 2) {
			char b[8];

			snprintf(b, sizeof(b), "%04X", get_le16(v.data + i));
			if (json_object_array_add(a, json_object_new_string(b)) < 0)
				return -ENOMEM;
		}
		return 0;
	}
	if (is_boot_option_name(name))
		return add_boot_option(o, v.data, (size_t)v.data_len);
	if ((streq(name, "SecureBoot") || streq(name, "SetupMode") || streq(name, "AuditMode") ||
	     streq(name, "DeployedMode")) &&
	    v.data_len == 1)
		return json_add_u64(o, "value", v.data[0]);
	return 0;
}

static int add_blob(json_object *o, const struct eventlog_blob *b)
{
	int k;

	if (b->desc &&
	    (k = add_text_or_hex(o, "description", "description_hex", b->desc, b->desc_len)) < 0)
		return k;
	if ((k = json_add_x64(o, "blob_base", b->base)) < 0)
		return k;
	return json_add_x64(o, "blob_length", b->length);
}

static int dec_blob(const struct eventlog_event *e, json_object *o, char *note, size_t notelen)
{
	bool two = e->type == EV_EFI_PLATFORM_FIRMWARE_BLOB2;
	struct eventlog_blob b;
	struct kagi_err err;

	if (eventlog_blob_decode(e->data, e->data_len, two, &b, &err) < 0)
		return NOTE("event data does not decode as UEFI_PLATFORM_FIRMWARE_BLOB%s: %s",
			    two ? "2" : "", err.msg);
	return add_blob(o, &b);
}

/* EV_POST_CODE: a UEFI_PLATFORM_FIRMWARE_BLOB (16 bytes) or an ASCII string (PFP 10.4.1) */
static int dec_post_code(const struct eventlog_event *e, json_object *o, char *note, size_t notelen)
{
	struct eventlog_blob b;

	if (e->data_len == 16 && eventlog_blob_decode(e->data, e->data_len, false, &b, NULL) == 0)
		return add_blob(o, &b);
	return dec_string(e, o, note, notelen);
}

/* UEFI_GPT_DATA: EFI_PARTITION_TABLE_HEADER (92 bytes), u64 NumberOfPartitions, entries */
static int dec_gpt(const struct eventlog_event *e, json_object *o, char *note, size_t notelen)
{
	struct reader r = reader_init(e->data, e->data_len);
	const uint8_t *sig, *disk_guid;
	uint32_t rev, hsize, crc, nentries, esize, ecrc;
	uint64_t my_lba, alt_lba, first, last, entry_lba, nparts;
	json_object *parts;
	int k;

	if (reader_take(&r, 8, &sig) < 0 || reader_le32(&r, &rev) < 0 ||
	    reader_le32(&r, &hsize) < 0 || reader_le32(&r, &crc) < 0 || reader_skip(&r, 4) < 0 ||
	    reader_le64(&r, &my_lba) < 0 || reader_le64(&r, &alt_lba) < 0 ||
	    reader_le64(&r, &first) < 0 || reader_le64(&r, &last) < 0 ||
	    reader_take(&r, 16, &disk_guid) < 0 || reader_le64(&r, &entry_lba) < 0 ||
	    reader_le32(&r, &nentries) < 0 || reader_le32(&r, &esize) < 0 ||
	    reader_le32(&r, &ecrc) < 0 || reader_le64(&r, &nparts) < 0)
		return NOTE("event data does not decode as UEFI_GPT_DATA: %" PRIu32
			    " bytes, the header and partition count need 100",
			    e->data_len);
	if (memcmp(sig, "EFI PART", 8) != 0)
		return NOTE("event data does not decode as UEFI_GPT_DATA: signature is not "
			    "\"EFI PART\"");
	if (esize < 128 || nparts > r.left / esize || nparts * esize != r.left)
		return NOTE("event data does not decode as UEFI_GPT_DATA: %" PRIu64
			    " partitions of %" PRIu32 " bytes do not fill the %zu bytes left",
			    nparts, esize, r.left);
	if ((k = json_add_str_n(o, "signature", sig, 8)) < 0 ||
	    (k = json_add_x64(o, "revision", rev)) < 0 ||
	    (k = json_add_u64(o, "header_size", hsize)) < 0 ||
	    (k = json_add_x64(o, "my_lba", my_lba)) < 0 ||
	    (k = json_add_x64(o, "alternate_lba", alt_lba)) < 0 ||
	    (k = json_add_x64(o, "first_usable_lba", first)) < 0 ||
	    (k = json_add_x64(o, "last_usable_lba", last)) < 0 ||
	    (k = json_add_guid(o, "disk_guid", disk_guid)) < 0 ||
	    (k = json_add_x64(o, "partition_entry_lba", entry_lba)) < 0 ||
	    (k = json_add_u64(o, "number_of_partition_entries", nentries)) < 0 ||
	    (k = json_add_u64(o, "partition_entry_size", esize)) < 0 ||
	    (k = json_add_u64(o, "number_of_partitions", nparts)) < 0)
		return k;
	parts = json_object_new_array();
	if ((k = json_add(o, "partitions", parts)) < 0)
		return k;
	for (uint64_t i = 0; i < nparts; i++) {
		json_object *p = json_object_new_object();
		const uint8_t *ent;
		struct reader pr;
		const uint8_t *type_guid, *uniq, *name;
		uint64_t plba, llba, attr;

		(void)reader_take(&r, esize, &ent);
		pr = reader_init(ent, esize);
		(void)reader_take(&pr, 16, &type_guid);
		(void)reader_take(&pr, 16, &uniq);
		(void)reader_le64(&pr, &plba);
		(void)reader_le64(&pr, &llba);
		(void)reader_le64(&pr, &attr);
		(void)reader_take(&pr, 72, &name);
		if (!p || json_object_array_add(parts, p) < 0) {
			json_object_put(p);
			return -ENOMEM;
		}
		if ((k = json_add_guid(p, "type_guid", type_guid)) < 0 ||
		    (k = json_add_guid(p, "unique_guid", uniq)) < 0 ||
		    (k = json_add_x64(p, "first_lba", plba)) < 0 ||
		    (k = json_add_x64(p, "last_lba", llba)) < 0 ||
		    (k = json_add_x64(p, "attributes", attr)) < 0 ||
		    (k = json_add_utf16(p, "name", name, 36)) < 0)
			return k;
	}
	return 0;
}

/* UEFI_HANDOFF_TABLE_POINTERS(2): [u8 desc size, desc,] u64 count, { GUID, u64 pointer }[] */
static int dec_handoff(const struct eventlog_event *e, json_object *o, char *note, size_t notelen)
{
	struct reader r = reader_init(e->data, e->data_len);
	bool two = e->type == EV_EFI_HANDOFF_TABLES2;
	const uint8_t *desc = NULL;
	uint8_t dlen = 0;
	uint64_t n;
	json_object *a;
	int k;

	if (two && (reader_u8(&r, &dlen) < 0 || reader_take(&r, dlen, &desc) < 0))
		return NOTE("event data does not decode as UEFI_HANDOFF_TABLE_POINTERS2: "
			    "TableDescriptionSize exceeds the data");
	if (reader_le64(&r, &n) < 0 || n > r.left / 24 || n * 24 != r.left)
		return NOTE("event data does not decode as UEFI_HANDOFF_TABLE_POINTERS%s: table "
			    "count does not match the %" PRIu32 " bytes of data",
			    two ? "2" : "", e->data_len);
	if (desc && (k = add_text_or_hex(o, "description", "description_hex", desc, dlen)) < 0)
		return k;
	if ((k = json_add_u64(o, "number_of_tables", n)) < 0)
		return k;
	a = json_object_new_array();
	if ((k = json_add(o, "tables", a)) < 0)
		return k;
	for (uint64_t i = 0; i < n; i++) {
		json_object *t = json_object_new_object();
		const uint8_t *g;
		uint64_t ptr;

		(void)reader_take(&r, 16, &g);
		(void)reader_le64(&r, &ptr);
		if (!t || json_object_array_add(a, t) < 0) {
			json_object_put(t);
			return -ENOMEM;
		}
		if ((k = json_add_guid(t, "vendor_guid", g)) < 0 ||
		    (k = json_add_x64(t, "vendor_table", ptr)) < 0)
			return k;
	}
	return 0;
}

/* A size-prefixed string of the SP800-155 event */
static int sp800_155_string(struct reader *r, json_object *o, const char *key)
{
	const uint8_t *p;
	uint8_t n;

	if (reader_u8(r, &n) < 0 || reader_take(r, n, &p) < 0)
		return -EBADMSG;
	return add_text_or_hex(o, key, key, p, n);
}

static int dec_no_action(const struct eventlog_event *e, json_object *o, char *note, size_t notelen)
{
	struct reader r = reader_init(e->data, e->data_len);
	const uint8_t *sig, *guid;
	size_t n;
	uint32_t vendor;
	int k;

	if (reader_take(&r, 16, &sig) < 0 || memchr(sig, 0, 16) == NULL)
		return dec_string(e, o, note, notelen);
	n = strlen((const char *)sig);
	if (n == 0 || !text_printable(sig, n, true))
		return NOTE("EV_NO_ACTION data does not start with a signature");
	if ((k = json_add_str_n(o, "signature", sig, n)) < 0)
		return k;
	if (streq((const char *)sig, STARTUP_LOCALITY_SIG)) {
		if (e->data_len != 17)
			return NOTE("StartupLocality event data is %" PRIu32 " bytes, expected 17",
				    e->data_len);
		return json_add_u64(o, "startup_locality", e->data[16]);
	}
	if (streq((const char *)sig, "SP800-155 Event")) {
		/* TCG_Sp800_155_PlatformId_Event2/3: the fields common to both */
		if (reader_le32(&r, &vendor) < 0 || reader_take(&r, 16, &guid) < 0)
			return NOTE("SP800-155 event data ends before ReferenceManifestGuid");
		if ((k = json_add_x64(o, "platform_manufacturer_id", vendor)) < 0 ||
		    (k = json_add_guid(o, "reference_manifest_guid", guid)) < 0)
			return k;
		if ((k = sp800_155_string(&r, o, "platform_manufacturer")) < 0 ||
		    (k = sp800_155_string(&r, o, "platform_model")) < 0 ||
		    (k = sp800_155_string(&r, o, "platform_version")) < 0)
			return k == -EBADMSG ? NOTE("SP800-155 event strings exceed the data") : k;
		return 0;
	}
	return 0;
}

static data_decoder decoder_for(uint32_t type)
{
	switch (type) {
	case EV_IPL:
		return dec_ipl;
	case EV_EFI_ACTION:
	case EV_ACTION:
		return dec_string;
	case EV_S_CRTM_VERSION:
		return dec_crtm_version;
	case EV_SEPARATOR:
		return dec_separator;
	case EV_EVENT_TAG:
		return dec_tagged;
	case EV_EFI_BOOT_SERVICES_APPLICATION:
	case EV_EFI_BOOT_SERVICES_DRIVER:
	case EV_EFI_RUNTIME_SERVICES_DRIVER:
		return dec_image_load;
	case EV_EFI_VARIABLE_DRIVER_CONFIG:
	case EV_EFI_VARIABLE_BOOT:
	case EV_EFI_VARIABLE_BOOT2:
	case EV_EFI_VARIABLE_AUTHORITY:
		return dec_variable;
	case EV_EFI_PLATFORM_FIRMWARE_BLOB:
	case EV_EFI_PLATFORM_FIRMWARE_BLOB2:
		return dec_blob;
	case EV_POST_CODE:
		return dec_post_code;
	case EV_EFI_GPT_EVENT:
		return dec_gpt;
	case EV_EFI_HANDOFF_TABLES:
	case EV_EFI_HANDOFF_TABLES2:
		return dec_handoff;
	case EV_NO_ACTION:
		return dec_no_action;
	default:
		return NULL;
	}
}

/*
 * Add "decoded" (or "note") to an event object. Types without a decoder get a "string" when the
 * data is printable ASCII. Returns -ENOMEM only.
 */
static int add_decoded(const struct eventlog_event *e, json_object *ev)
{
	data_decoder dec = decoder_for(e->type);
	json_object *o;
	char note[400] = "";
	int k;

	if (!dec && e->data_len > 0) {
		size_t n = strip_nuls(e->data, e->data_len);

		if (n == 0 || !text_printable(e->data, n, true))
			return 0;
		dec = dec_string;
	}
	if (!dec)
		return 0;
	if (e->data_len == 0)
		return json_add_str(ev, "note", "no event data");
	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	k = dec(e, o, note, sizeof(note));
	if (k == -EBADMSG) {
		json_object_put(o);
		return json_add_str(ev, "note", note);
	}
	if (k < 0) {
		json_object_put(o);
		return k;
	}
	return json_add(ev, "decoded", o);
}

static int event_fill_json(const struct eventlog_event *e, json_object *o)
{
	json_object *digests;
	const char *tn = eventlog_type_name(e->type);
	char b[16];
	int k;

	snprintf(b, sizeof(b), "0x%08" PRIx32, e->type);
	if ((k = json_add_u64(o, "offset", e->offset)) < 0 ||
	    (k = json_add_u64(o, "pcr", e->pcr)) < 0 || (k = json_add_str(o, "type", b)) < 0 ||
	    (k = json_add_str(o, "type_name", tn ? tn : "unknown")) < 0)
		return k;
	digests = json_object_new_array();
	if ((k = json_add(o, "digests", digests)) < 0)
		return k;
	for (size_t i = 0; i < e->ndigests; i++) {
		json_object *d = json_object_new_object();
		char lb[16];

		if (!d || json_object_array_add(digests, d) < 0) {
			json_object_put(d);
			return -ENOMEM;
		}
		if ((k = json_add_str(d, "alg", alg_label(e->digests[i].alg, lb))) < 0 ||
		    (k = json_add_hex(d, "digest", e->digests[i].bytes, e->digests[i].size)) < 0)
			return k;
	}
	if ((k = json_add_u64(o, "data_size", e->data_len)) < 0 ||
	    (k = json_add_hex(o, "data", e->data, e->data_len)) < 0)
		return k;
	return add_decoded(e, o);
}

json_object *eventlog_event_to_json(const struct eventlog_event *e)
{
	json_object *o = json_object_new_object();

	if (o && event_fill_json(e, o) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int log_fill_json(const struct eventlog *log, json_object *o)
{
	json_object *banks, *events;
	char lb[16];
	int k;

	if ((k = json_add_str(o, "format", log->crypto_agile ? "crypto-agile" : "sha1")) < 0)
		return k;
	if (log->crypto_agile) {
		json_object *s = json_object_new_object();
		char ver[16];

		snprintf(ver, sizeof(ver), "%u.%u", log->spec_major, log->spec_minor);
		if ((k = json_add(o, "spec_id", s)) < 0 ||
		    (k = json_add_str(s, "signature", "Spec ID Event03")) < 0 ||
		    (k = json_add_u64(s, "pcr", log->specid_pcr)) < 0 ||
		    (k = json_add_u64(s, "platform_class", log->platform_class)) < 0 ||
		    (k = json_add_str(s, "spec_version", ver)) < 0 ||
		    (k = json_add_u64(s, "spec_errata", log->spec_errata)) < 0 ||
		    (k = json_add_u64(s, "uintn_size", log->uintn_size)) < 0 ||
		    (k = json_add_hex(s, "vendor_info", log->vendor_info, log->vendor_info_len)) <
			    0)
			return k;
	}
	banks = json_object_new_array();
	if ((k = json_add(o, "banks", banks)) < 0)
		return k;
	for (size_t i = 0; i < log->nbanks; i++) {
		json_object *b = json_object_new_object();

		if (!b || json_object_array_add(banks, b) < 0) {
			json_object_put(b);
			return -ENOMEM;
		}
		if ((k = json_add_str(b, "alg", alg_label(log->banks[i].alg, lb))) < 0 ||
		    (k = json_add_u64(b, "alg_id", log->banks[i].alg)) < 0 ||
		    (k = json_add_u64(b, "digest_size", log->banks[i].size)) < 0)
			return k;
	}
	if ((k = json_add_u64(o, "event_count", log->nevents)) < 0)
		return k;
	events = json_object_new_array_ext((int)log->nevents);
	if ((k = json_add(o, "events", events)) < 0)
		return k;
	for (size_t i = 0; i < log->nevents; i++) {
		json_object *e = json_object_new_object();

		if (!e || json_object_array_add(events, e) < 0) {
			json_object_put(e);
			return -ENOMEM;
		}
		if ((k = json_add_u64(e, "index", i)) < 0 ||
		    (k = event_fill_json(&log->events[i], e)) < 0)
			return k;
	}
	if ((k = json_add_u64(o, "end", log->end)) < 0)
		return k;
	return json_add_u64(o, "trailing_bytes", log->trailing_len);
}

json_object *eventlog_to_json(const struct eventlog *log)
{
	json_object *o = json_object_new_object();

	if (o && log_fill_json(log, o) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *eventlog_pcrs_to_json(const struct eventlog_pcrs *p)
{
	json_object *o = json_object_new_object();
	char lb[16];

	if (!o)
		return NULL;
	for (size_t b = 0; b < p->nbanks; b++) {
		const struct eventlog_bank_pcrs *bank = &p->bank[b];
		json_object *m;

		if (!bank->available)
			continue;
		m = json_object_new_object();
		if (json_add(o, alg_label(bank->alg, lb), m) < 0)
			goto fail;
		for (unsigned i = 0; i < EVENTLOG_NUM_PCRS; i++) {
			char key[4];

			snprintf(key, sizeof(key), "%u", i);
			if (json_add_hex(m, key, bank->value[i], bank->size) < 0)
				goto fail;
		}
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Text rendering */

/* Untrusted text goes to a terminal: replace C0, DEL and (UTF-8 encoded) C1 controls. */
static void print_safe(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++) {
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', f);
			p++;
		} else {
			fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
		}
	}
}

static void print_hex_capped(FILE *f, const uint8_t *p, size_t n, size_t cap)
{
	for (size_t i = 0; i < n && i < cap; i++)
		fprintf(f, "%02x", p[i]);
	if (n > cap)
		fprintf(f, "... (%zu bytes)", n);
}

static void print_json_value(FILE *f, json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		print_safe(f, json_object_get_string(v));
	else
		print_safe(f, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

static void print_json_object(FILE *f, json_object *o, int indent)
{
	json_object_object_foreach(o, key, val)
	{
		fprintf(f, "%*s%s:", indent, "", key);
		if (json_object_is_type(val, json_type_array)) {
			size_t n = json_object_array_length(val);
			bool objs = n > 0 && json_object_is_type(json_object_array_get_idx(val, 0),
								 json_type_object);

			if (!objs) {
				for (size_t i = 0; i < n; i++) {
					fputs(i ? ", " : " ", f);
					print_json_value(f, json_object_array_get_idx(val, i));
				}
				fputc('\n', f);
				continue;
			}
			fputc('\n', f);
			for (size_t i = 0; i < n; i++) {
				fprintf(f, "%*s- [%zu]\n", indent + 2, "", i);
				print_json_object(f, json_object_array_get_idx(val, i), indent + 4);
			}
		} else if (json_object_is_type(val, json_type_object)) {
			fputc('\n', f);
			print_json_object(f, val, indent + 2);
		} else {
			fputc(' ', f);
			print_json_value(f, val);
			fputc('\n', f);
		}
	}
}

void eventlog_print_header(FILE *f, const struct eventlog *log)
{
	char lb[16];

	fprintf(f, "Format: %s\n",
		log->crypto_agile ? "crypto-agile (TCG_PCR_EVENT2)" : "SHA-1 (TCG_PCR_EVENT)");
	if (log->crypto_agile) {
		fprintf(f,
			"Spec ID: \"Spec ID Event03\" in index %" PRIu32 ", platform class %" PRIu32
			", version %u.%u errata %u, uintn size %u\n",
			log->specid_pcr, log->platform_class, log->spec_major, log->spec_minor,
			log->spec_errata, log->uintn_size);
		if (log->vendor_info_len) {
			fputs("Vendor info: ", f);
			print_hex_capped(f, log->vendor_info, log->vendor_info_len, 255);
			fputc('\n', f);
		}
	}
	fputs("Banks:", f);
	for (size_t i = 0; i < log->nbanks; i++)
		fprintf(f, " %s (%u bytes)", alg_label(log->banks[i].alg, lb), log->banks[i].size);
	fprintf(f, "\nEvents: %zu\n", log->nevents);
	if (log->trailing_len)
		fprintf(f, "Padding: %zu bytes from offset 0x%zx\n", log->trailing_len, log->end);
}

void eventlog_event_print(FILE *f, size_t index, const struct eventlog_event *e)
{
	const char *tn = eventlog_type_name(e->type);
	json_object *o = json_object_new_object();
	json_object *dec = NULL, *note = NULL;
	char lb[16];

	fprintf(f, "Event %zu at 0x%zx: PCR %" PRIu32 ", %s (0x%08" PRIx32 "), %" PRIu32 " bytes\n",
		index, e->offset, e->pcr, tn ? tn : "unknown type", e->type, e->data_len);
	for (size_t i = 0; i < e->ndigests; i++) {
		fprintf(f, "  %s: ", alg_label(e->digests[i].alg, lb));
		print_hex_capped(f, e->digests[i].bytes, e->digests[i].size, 64);
		fputc('\n', f);
	}
	if (o && add_decoded(e, o) == 0) {
		json_object_object_get_ex(o, "decoded", &dec);
		json_object_object_get_ex(o, "note", &note);
	}
	if (dec)
		print_json_object(f, dec, 2);
	if (note) {
		fputs("  note: ", f);
		print_safe(f, json_object_get_string(note));
		fputc('\n', f);
	}
	if (!dec && e->data_len) {
		fputs("  data: ", f);
		print_hex_capped(f, e->data, e->data_len, 64);
		fputc('\n', f);
	}
	json_object_put(o);
}
