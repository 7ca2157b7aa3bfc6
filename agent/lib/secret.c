// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <openssl/crypto.h>

#include "secret.h"

struct secret *secret_new(size_t len)
{
	struct secret *s;
	size_t pagesz = 4096, alloc = (len + pagesz - 1) / pagesz * pagesz;

	if (len == 0 || alloc < len)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	/* Own pages: mlock and MADV_DONTDUMP apply to whole pages. */
	s->data = mmap(NULL, alloc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->data == MAP_FAILED) {
		free(s);
		return NULL;
	}
	(void)madvise(s->data, alloc, MADV_DONTDUMP);
	if (mlock(s->data, alloc) < 0) {
		munmap(s->data, alloc);
		free(s);
		return NULL;
	}
	s->len = len;
	return s;
}

void secret_free(struct secret *s)
{
	size_t pagesz = 4096;

	if (!s)
		return;
	if (s->data) {
		size_t alloc = (s->len + pagesz - 1) / pagesz * pagesz;

		OPENSSL_cleanse(s->data, alloc);
		munlock(s->data, alloc);
		munmap(s->data, alloc);
	}
	free(s);
}

int secret_memcmp(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len);
}

void secret_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

void secret_harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &rl);
}
