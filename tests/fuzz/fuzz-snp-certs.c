// SPDX-License-Identifier: Apache-2.0
/* Fuzz the GHCB certificate table decoder and the X.509 claims reader on what it yields. */
#include <stdlib.h>

#include <openssl/err.h>

#include "snp-certs.h"
#include "snp-verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snp_cert_table t;

	if (snp_certs_decode(data, size, &t, NULL) < 0)
		return 0;
	for (size_t i = 0; i < t.n; i++) {
		struct snp_cert_claims cl;
		X509 *c = NULL;

		if (t.e[i].der < data || t.e[i].der + t.e[i].len > data + size)
			abort();
		if (snp_cert_load(t.e[i].der, t.e[i].len, &c, NULL) == 0) {
			(void)snp_cert_claims_get(c, &cl, NULL);
			X509_free(c);
		}
	}
	ERR_clear_error();
	return 0;
}
