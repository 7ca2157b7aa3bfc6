// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>

#include "reader.h"

static int advance(struct reader *r, size_t n, const uint8_t **ret)
{
	if (n > r->left)
		return -EBADMSG;
	if (ret)
		*ret = r->p;
	r->p += n;
	r->left -= n;
	r->off += n;
	return 0;
}

int reader_take(struct reader *r, size_t n, const uint8_t **ret)
{
	return advance(r, n, ret);
}

int reader_skip(struct reader *r, size_t n)
{
	return advance(r, n, NULL);
}

int reader_copy(struct reader *r, void *dst, size_t n)
{
	const uint8_t *p;

	if (advance(r, n, &p) < 0)
		return -EBADMSG;
	if (n)
		memcpy(dst, p, n);
	return 0;
}

int reader_sub(struct reader *r, size_t n, struct reader *ret)
{
	size_t off = r->off;
	const uint8_t *p;

	if (advance(r, n, &p) < 0)
		return -EBADMSG;
	ret->p = p;
	ret->left = n;
	ret->off = off;
	return 0;
}

int reader_u8(struct reader *r, uint8_t *ret)
{
	const uint8_t *p;

	if (advance(r, 1, &p) < 0)
		return -EBADMSG;
	*ret = p[0];
	return 0;
}

#define DEFINE_READER_INT(name, type, size, load)                                                  \
	int name(struct reader *r, type *ret)                                                      \
	{                                                                                          \
		const uint8_t *p;                                                                  \
		if (advance(r, size, &p) < 0)                                                      \
			return -EBADMSG;                                                           \
		*ret = load(p);                                                                    \
		return 0;                                                                          \
	}

static inline uint64_t get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

DEFINE_READER_INT(reader_le16, uint16_t, 2, get_le16)
DEFINE_READER_INT(reader_le32, uint32_t, 4, get_le32)
DEFINE_READER_INT(reader_le64, uint64_t, 8, get_le64)
DEFINE_READER_INT(reader_be16, uint16_t, 2, get_be16)
DEFINE_READER_INT(reader_be32, uint32_t, 4, get_be32)
DEFINE_READER_INT(reader_be64, uint64_t, 8, get_be64)
