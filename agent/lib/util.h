/* SPDX-License-Identifier: Apache-2.0 */
/* util.h: small helpers shared by every part of kagi (no parsing of structured input here). */
#ifndef KAGI_UTIL_H
#define KAGI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f)  __attribute__((cleanup(f)))

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_close_  _cleanup_(closep)

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* Lowercase hex of len bytes into out (2*len+1 bytes). Returns out. */
char *hex_encode(const uint8_t *buf, size_t len, char *out);
/* Newly allocated lowercase hex string, or NULL on ENOMEM. */
char *hex_encode_alloc(const uint8_t *buf, size_t len);
/* Decode exactly: text must be 2*n hex digits (either case). -EINVAL otherwise. */
int hex_decode(const char *text, uint8_t *out, size_t n);
/* Decode any even-length hex string up to max bytes into a new buffer. */
int hex_decode_alloc(const char *text, size_t max, uint8_t **ret, size_t *ret_len);

bool mem_is_zero(const void *p, size_t n);

/* Read a whole file (or "-" for stdin), refusing more than max bytes (-EFBIG). */
int read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len);
/* Read a whole fd until EOF with the same cap. */
int read_fd(int fd, size_t max, uint8_t **ret, size_t *ret_len);
/* write() all of buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);

/* Strict unsigned parse: whole string, base 0 (dec/0x/0 octal not allowed: base 10 or 0x hex). */
int parse_u64(const char *s, uint64_t *ret);
/* RFC 3339 / ISO 8601 UTC time: 2025-08-01T00:00:00Z (also "+00:00"), or "@<unix seconds>". */
int parse_time(const char *s, time_t *ret);

#endif
