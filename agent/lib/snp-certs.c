// SPDX-License-Identifier: Apache-2.0
/* snp-certs.c: the GHCB certificate table (auxblob / SNP_GET_EXT_REPORT), spec section 2.5. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"
#include "snp-certs.h"
#include "util.h"

#define ENTRY_SIZE 24

/* RFC 4122 byte order ("big-endian string order"), as GSG and virtee use. */
static const struct {
	enum snp_cert_kind kind;
	const char *name;
	uint8_t guid[16];
} known[] = {
	{ SNP_CERT_ARK,
	  "ARK",
	  { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c,
	    0xd0, 0xae } },
	{ SNP_CERT_ASK,
	  "ASK",
	  { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27,
	    0xc7, 0x82 } },
	{ SNP_CERT_VCEK,
	  "VCEK",
	  { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8,
	    0xac, 0xcd } },
	{ SNP_CERT_VLEK,
	  "VLEK",
	  { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0,
	    0xb8, 0xa1 } },
};

/* The same GUID in the mixed-endian (UEFI guid_t) layout: first three groups byte-swapped. */
static void guid_swap(const uint8_t in[16], uint8_t out[16])
{
	out[0] = in[3], out[1] = in[2], out[2] = in[1], out[3] = in[0];
	out[4] = in[5], out[5] = in[4];
	out[6] = in[7], out[7] = in[6];
	memcpy(out + 8, in + 8, 8);
}

static enum snp_cert_kind classify(const uint8_t guid[16])
{
	uint8_t swapped[16];

	guid_swap(guid, swapped);
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (!memcmp(guid, known[i].guid, 16) || !memcmp(swapped, known[i].guid, 16))
			return known[i].kind;
	return SNP_CERT_OTHER;
}

const uint8_t *snp_cert_kind_guid(enum snp_cert_kind k)
{
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (known[i].kind == k)
			return known[i].guid;
	return NULL;
}

const char *snp_cert_kind_name(enum snp_cert_kind k)
{
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (known[i].kind == k)
			return known[i].name;
	return "other";
}

int snp_certs_decode(const uint8_t *buf, size_t len, struct snp_cert_table *ret,
		     struct kagi_err *reterr)
{
	struct reader r = reader_init(buf, len);
	struct snp_cert_table t = { 0 };
	size_t offs[SNP_CERTS_MAX_ENTRIES];
	size_t table_end;

	if (len > SNP_CERTS_MAX_SIZE)
		return kagi_err_set(reterr, -EBADMSG, "certs.size", 0,
				    "certificate table is %zu bytes, more than the %d allowed", len,
				    SNP_CERTS_MAX_SIZE);
	if (len == 0) {
		*ret = t;
		return 0;
	}
	for (;;) {
		const uint8_t *guid;
		uint32_t off, clen;
		size_t entry_off = r.off;

		if (reader_take(&r, 16, &guid) < 0 || reader_le32(&r, &off) < 0 ||
		    reader_le32(&r, &clen) < 0)
			return kagi_err_set(reterr, -EBADMSG, "certs.terminator", entry_off,
					    "table ends inside entry %zu without the all-zero "
					    "terminating entry",
					    t.n);
		if (mem_is_zero(guid, 16) && off == 0 && clen == 0)
			break;
		if (t.n == SNP_CERTS_MAX_ENTRIES)
			return kagi_err_set(reterr, -EBADMSG, "certs.count", entry_off,
					    "more than %d entries", SNP_CERTS_MAX_ENTRIES);
		t.e[t.n].kind = classify(guid);
		memcpy(t.e[t.n].guid, guid, 16);
		offs[t.n] = off; /* validated below, once the entry array's end is known */
		t.e[t.n].len = clen;
		t.n++;
	}
	table_end = r.off;
	for (size_t i = 0; i < t.n; i++) {
		size_t off = offs[i], clen = t.e[i].len;
		size_t entry_off = i * ENTRY_SIZE;

		if (clen == 0)
			return kagi_err_set(reterr, -EBADMSG, "certs.entry.length", entry_off + 20,
					    "entry %zu (%s) has length 0", i,
					    snp_cert_kind_name(t.e[i].kind));
		if (off < table_end)
			return kagi_err_set(reterr, -EBADMSG, "certs.entry.offset", entry_off + 16,
					    "entry %zu (%s) points at offset %zu, inside the "
					    "entry array (which ends at %zu)",
					    i, snp_cert_kind_name(t.e[i].kind), off, table_end);
		if (off >= len)
			return kagi_err_set(
				reterr, -EBADMSG, "certs.entry.offset", entry_off + 16,
				"entry %zu (%s) points at offset %zu, past the end of the "
				"%zu-byte table",
				i, snp_cert_kind_name(t.e[i].kind), off, len);
		if (clen > len - off)
			return kagi_err_set(reterr, -EBADMSG, "certs.entry.length", entry_off + 20,
					    "entry %zu (%s) covers bytes %zu..%zu, past the end of "
					    "the %zu-byte table",
					    i, snp_cert_kind_name(t.e[i].kind), off, off + clen,
					    len);
		if (t.e[i].kind != SNP_CERT_OTHER)
			for (size_t j = 0; j < i; j++)
				if (t.e[j].kind == t.e[i].kind)
					return kagi_err_set(reterr, -EBADMSG,
							    "certs.entry.duplicate", entry_off,
							    "entries %zu and %zu are both %s", j, i,
							    snp_cert_kind_name(t.e[i].kind));
		t.e[i].der = buf + off;
	}
	*ret = t;
	return 0;
}

int snp_certs_encode(const struct snp_cert_table *t, uint8_t **ret, size_t *ret_len)
{
	size_t hdr = (t->n + 1) * ENTRY_SIZE, total = hdr, off;
	uint8_t *buf;

	if (t->n > SNP_CERTS_MAX_ENTRIES)
		return -EINVAL;
	for (size_t i = 0; i < t->n; i++)
		total += t->e[i].len;
	if (total > SNP_CERTS_MAX_SIZE)
		return -EFBIG;
	buf = calloc(1, total);
	if (!buf)
		return -ENOMEM;
	off = hdr;
	for (size_t i = 0; i < t->n; i++) {
		const uint8_t *g = snp_cert_kind_guid(t->e[i].kind);

		memcpy(buf + i * ENTRY_SIZE, g ? g : t->e[i].guid, 16);
		put_le32(buf + i * ENTRY_SIZE + 16, (uint32_t)off);
		put_le32(buf + i * ENTRY_SIZE + 20, (uint32_t)t->e[i].len);
		memcpy(buf + off, t->e[i].der, t->e[i].len);
		off += t->e[i].len;
	}
	*ret = buf;
	*ret_len = total;
	return 0;
}

const struct snp_cert_entry *snp_certs_find(const struct snp_cert_table *t, enum snp_cert_kind k)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].kind == k)
			return &t->e[i];
	return NULL;
}
