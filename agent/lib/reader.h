/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reader.h: a bounds-checked cursor over a borrowed buffer.
 *
 * It never reads past the end and never moves on failure: every call either consumes exactly
 * what it was asked to and returns 0, or consumes nothing and returns -EBADMSG. `off` is the
 * offset of the cursor from the start of the outermost buffer (sub-readers inherit it), so
 * errors can name the byte where decoding stopped.
 */
#ifndef KAGI_READER_H
#define KAGI_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reader {
	const uint8_t *p;
	size_t left;
	size_t off;
};

static inline struct reader reader_init(const void *buf, size_t len)
{
	struct reader r = { .p = buf, .left = buf ? len : 0, .off = 0 };
	return r;
}

static inline bool reader_empty(const struct reader *r)
{
	return r->left == 0;
}

int reader_u8(struct reader *r, uint8_t *ret);
int reader_le16(struct reader *r, uint16_t *ret);
int reader_le32(struct reader *r, uint32_t *ret);
int reader_le64(struct reader *r, uint64_t *ret);
int reader_be16(struct reader *r, uint16_t *ret);
int reader_be32(struct reader *r, uint32_t *ret);
int reader_be64(struct reader *r, uint64_t *ret);
/* Borrow n bytes without copying. */
int reader_take(struct reader *r, size_t n, const uint8_t **ret);
/* Copy n bytes into dst. */
int reader_copy(struct reader *r, void *dst, size_t n);
int reader_skip(struct reader *r, size_t n);
/* A child cursor over the next n bytes; the parent moves past them. */
int reader_sub(struct reader *r, size_t n, struct reader *ret);

/* Unaligned-safe loads from a buffer the caller has already bounds-checked. */
static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}
static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32);
}
static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
	       (uint32_t)p[3];
}
static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
