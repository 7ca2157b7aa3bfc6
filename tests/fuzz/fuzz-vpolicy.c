// SPDX-License-Identifier: Apache-2.0
/* Fuzz the verifier policy parser; every parsed group is checked against fixed TPM evidence. */
#include <string.h>

#include "vpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tpm_pcr_values pcrs;
	static uint8_t digest[32], ev_digest[32];
	struct eventlog_event ev = {
		.pcr = 9,
		.type = EV_IPL,
		.ndigests = 1,
		.digests = { { .alg = EVENTLOG_ALG_SHA256, .size = 32, .bytes = ev_digest } },
	};
	struct eventlog log = { .crypto_agile = true, .nevents = 1, .events = &ev };
	struct kagi_err e;
	struct vpolicy p;

	if (!pcrs.nbanks) {
		/* the values full.json in the corpus expects, so the passing paths run too */
		memset(digest, 0x11, sizeof(digest));
		memset(ev_digest, 0x22, sizeof(ev_digest));
		(void)tpm_pcr_values_set(&pcrs, TPM2_ALG_SHA256, 7, digest, sizeof(digest), NULL);
	}
	if (vpolicy_parse((const char *)data, size, &p, &e) < 0)
		return 0;
	for (size_t i = 0; i < p.ngroups; i++) {
		const struct vpolicy_group *g = &p.groups[i];

		(void)vpolicy_check_tpm(g, &pcrs, &log, &e);
		(void)vpolicy_check_tpm(g, NULL, NULL, &e);
		(void)vpolicy_group_has_volume(g, "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9");
	}
	vpolicy_done(&p);
	return 0;
}
