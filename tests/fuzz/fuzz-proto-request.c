// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz-proto-request.c: the agent -> verifier messages (POST /v1/challenge and /v1/attest
 * request bodies). Whatever the attest decoder accepts must encode again, and the encoding must
 * decode to the same struct and re-encode to the same text (the JSON form is canonical).
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

static bool pcrs_eq(const struct tpm_pcr_values *a, const struct tpm_pcr_values *b)
{
	if (a->nbanks != b->nbanks)
		return false;
	for (size_t i = 0; i < a->nbanks; i++) {
		const struct tpm_pcr_bank *x = &a->bank[i];

		for (unsigned pcr = 0; pcr < TPM_PCR_MAX; pcr++) {
			const uint8_t *v = tpm_pcr_values_get(b, x->alg, pcr);

			if (x->present[pcr] != (v != NULL))
				return false;
			if (v && memcmp(v, x->value[pcr], tpm_hash_size(x->alg)) != 0)
				return false;
		}
	}
	return true;
}

static bool request_eq(const struct proto_attest_request *a, const struct proto_attest_request *b)
{
	const struct proto_evidence *x = &a->ev, *y = &b->ev;

	if (strcmp(a->token, b->token) != 0 || a->nvolumes != b->nvolumes)
		return false;
	for (size_t i = 0; i < a->nvolumes; i++)
		if (strcmp(a->volumes[i], b->volumes[i]) != 0)
			return false;
	return blob_eq(&x->snp_report, &y->snp_report) && blob_eq(&x->snp_certs, &y->snp_certs) &&
	       blob_eq(&x->ecdh_public, &y->ecdh_public) && x->has_svsm == y->has_svsm &&
	       blob_eq(&x->svsm_report, &y->svsm_report) &&
	       blob_eq(&x->svsm_manifest, &y->svsm_manifest) &&
	       blob_eq(&x->svsm_certs, &y->svsm_certs) && x->has_tpm == y->has_tpm &&
	       blob_eq(&x->ek_public, &y->ek_public) && blob_eq(&x->ak_public, &y->ak_public) &&
	       blob_eq(&x->quote_attest, &y->quote_attest) &&
	       blob_eq(&x->quote_sig, &y->quote_sig) && blob_eq(&x->eventlog, &y->eventlog) &&
	       pcrs_eq(&x->pcrs, &y->pcrs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_attest_request *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct kagi_err e;
	char *s = NULL, *s2 = NULL;
	int r;

	if (!a || !b)
		goto out;
	(void)proto_challenge_request_decode((const char *)data, size, &e);
	if (proto_attest_request_decode((const char *)data, size, a, &e) < 0)
		goto out;
	r = proto_attest_request_encode(a, &s);
	if (r == -ENOMEM)
		goto out_done;
	if (r < 0)
		abort(); /* accepted but cannot be sent */
	if (proto_attest_request_decode(s, strlen(s), b, &e) < 0)
		abort(); /* our own encoding is refused */
	if (!request_eq(a, b))
		abort();
	r = proto_attest_request_encode(b, &s2);
	if (r == 0 && strcmp(s, s2) != 0)
		abort();
	proto_attest_request_done(b);
out_done:
	proto_attest_request_done(a);
out:
	free(s);
	free(s2);
	free(a);
	free(b);
	return 0;
}
