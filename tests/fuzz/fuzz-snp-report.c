// SPDX-License-Identifier: Apache-2.0
/* Fuzz the SNP report decoder, its renderings and the encoder round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snp-report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snp_report rep;
	uint8_t out[SNP_REPORT_SIZE];
	json_object *o;
	FILE *f;

	if (snp_report_decode(data, size, &rep, NULL) < 0)
		return 0;
	snp_report_encode(&rep, out);
	if (memcmp(out, data, SNP_REPORT_SIZE))
		abort(); /* a decodable report must encode back to the same bytes */
	o = snp_report_to_json(&rep, snp_report_product(&rep));
	json_object_put(o);
	f = fopen("/dev/null", "w");
	if (f) {
		snp_report_print(f, &rep, snp_report_product(&rep));
		fclose(f);
	}
	return 0;
}
