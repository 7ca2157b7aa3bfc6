// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz-proto-response.c: the verifier -> agent messages (challenge and attest responses), which
 * the agent decodes before anything authenticates them. Accepted input must encode again and
 * decode to the same struct; the re-encoding is canonical.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool blob_eq(const struct proto_blob *a, const struct proto_blob *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool response_eq(const struct proto_attest_response *a,
			const struct proto_attest_response *b)
{
	if (a->granted != b->granted || strcmp(a->group, b->group) != 0 ||
	    a->has_credential != b->has_credential || !blob_eq(&a->cred_blob, &b->cred_blob) ||
	    !blob_eq(&a->cred_secret, &b->cred_secret) || a->has_ecdh != b->has_ecdh ||
	    !blob_eq(&a->ecdh_public, &b->ecdh_public) || a->nkeys != b->nkeys ||
	    a->nreasons != b->nreasons)
		return false;
	for (size_t i = 0; i < a->nkeys; i++) {
		const struct proto_sealed_key *x = &a->keys[i], *y = &b->keys[i];

		if (strcmp(x->volume, y->volume) != 0 || memcmp(x->iv, y->iv, sizeof(x->iv)) != 0 ||
		    memcmp(x->tag, y->tag, sizeof(x->tag)) != 0 ||
		    !blob_eq(&x->ciphertext, &y->ciphertext))
			return false;
	}
	for (size_t i = 0; i < a->nreasons; i++)
		if (strcmp(a->reasons[i].code, b->reasons[i].code) != 0 ||
		    strcmp(a->reasons[i].message, b->reasons[i].message) != 0)
			return false;
	return true;
}

static void challenge(const uint8_t *data, size_t size)
{
	struct proto_challenge a, b;
	struct kagi_err e;
	char *s = NULL;
	int r;

	if (proto_challenge_decode((const char *)data, size, &a, &e) < 0)
		return;
	r = proto_challenge_encode(&a, &s);
	if (r == -ENOMEM)
		return;
	if (r < 0 || proto_challenge_decode(s, strlen(s), &b, &e) < 0)
		abort();
	if (memcmp(a.nonce, b.nonce, sizeof(a.nonce)) != 0 || strcmp(a.token, b.token) != 0 ||
	    a.expires != b.expires)
		abort();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_attest_response *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct kagi_err e;
	char *s = NULL, *s2 = NULL;
	int r;

	/* tss2-mu logs what it refuses to stderr: keep the fuzzer quiet */
	setenv("TSS2_LOG", "all+none", 0);
	challenge(data, size);
	if (!a || !b)
		goto out;
	if (proto_attest_response_decode((const char *)data, size, a, &e) < 0)
		goto out;
	r = proto_attest_response_encode(a, &s);
	if (r == -ENOMEM)
		goto out_done;
	if (r < 0)
		abort();
	if (proto_attest_response_decode(s, strlen(s), b, &e) < 0)
		abort();
	if (!response_eq(a, b))
		abort();
	r = proto_attest_response_encode(b, &s2);
	if (r == 0 && strcmp(s, s2) != 0)
		abort();
	proto_attest_response_done(b);
out_done:
	proto_attest_response_done(a);
out:
	free(s);
	free(s2);
	free(a);
	free(b);
	return 0;
}
