// SPDX-License-Identifier: Apache-2.0
/* Fuzz the SNP policy parser; a parsed policy is checked against a fixed report. */
#include <string.h>

#include "snp-policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snp_report rep = { .version = 2, .policy = 0x30000, .sig_algo = 1 };
	struct snp_policy pol;

	if (snp_policy_parse((const char *)data, size, &pol, NULL) < 0)
		return 0;
	(void)snp_policy_check(&pol, &rep, SNP_PRODUCT_MILAN, NULL);
	(void)snp_policy_check(&pol, &rep, SNP_PRODUCT_TURIN, NULL);
	snp_policy_done(&pol);
	return 0;
}
