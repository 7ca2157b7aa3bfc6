/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secret.h: the only type that holds key material.
 * Memory is mlock()ed, excluded from core dumps and wiped on free. A secret has no printable
 * form on purpose: never log it, never write it to a file, argv or the environment.
 */
#ifndef KAGI_SECRET_H
#define KAGI_SECRET_H

#include <stddef.h>
#include <stdint.h>

struct secret {
	uint8_t *data;
	size_t len;
};

/* Allocate len zeroed, locked bytes. NULL on failure. */
struct secret *secret_new(size_t len);
/* Wipe, unlock and free; NULL is fine. */
void secret_free(struct secret *s);
static inline void secret_freep(struct secret **s)
{
	secret_free(*s);
}
#define _cleanup_secret_ __attribute__((cleanup(secret_freep)))

/* Constant-time comparison; 0 when equal. */
int secret_memcmp(const void *a, const void *b, size_t len);
/* Wipe memory in a way the compiler cannot drop. */
void secret_wipe(void *p, size_t len);
/* Process hardening: no core dumps, not ptrace-attachable by non-root. */
void secret_harden_process(void);

#endif
