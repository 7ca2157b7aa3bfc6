// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz-tpm-quote.c: every TPM quote decoder on the same input: TPMS_ATTEST (and its rendering),
 * TPMT_PUBLIC/TPM2B_PUBLIC (and the key built from it, its Name, the AK checks), TPMT_SIGNATURE
 * (and a verification with a fixed key, which must fail cleanly), the AK loader (PEM/DER/TPM), and
 * the PCR-values JSON loader (then the pcrDigest of a fixed quote over the values loaded).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "tpm-quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tpm_pcr_values *v;
	struct kagi_err e;
	TPMS_ATTEST a;
	TPMT_PUBLIC pub;
	TPMT_SIGNATURE sig;
	EVP_PKEY *k = NULL;
	bool has_tpmt = false, raw = false, have_attest = false;
	json_object *o;
	char *text;

	/* tss2-mu logs what it refuses to stderr: keep the fuzzer quiet */
	setenv("TSS2_LOG", "all+none", 0);

	if (tpm_attest_decode(data, size, &a, &e) == 0) {
		json_object *j = NULL;

		have_attest = true;
		if (tpm_attest_to_json(&a, &j) == 0)
			json_object_put(j);
		(void)tpm_quote_check_nonce(&a, data, size > 8 ? 8 : size, &e);
	}

	if (tpm_public_decode(data, size, &pub, &e) == 0) {
		uint8_t name[TPM_NAME_MAX];
		size_t nl;

		(void)tpm_public_name(&pub, name, &nl);
		(void)tpm_public_check_ak(&pub, &e);
		if (tpm_public_to_evp(&pub, &k, &e) == 0) {
			EVP_PKEY_free(k);
			k = NULL;
		}
	}

	if (tpm_ak_load(data, size, &k, &pub, &has_tpmt, &e) == 0) {
		if (tpm_signature_decode_any(data, size, k, &sig, &raw, &e) == 0)
			(void)tpm_quote_verify_signature(data, size, &sig, k, &e);
		EVP_PKEY_free(k);
		k = NULL;
	}

	if (tpm_signature_decode(data, size, &sig, &e) == 0) {
		char d[48];
		TPMI_ALG_HASH h;

		tpm_signature_describe(&sig, d, sizeof(d));
		(void)tpm_signature_hash(&sig, &h);
	}

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	o = json_tokener_parse(text);
	free(text);
	v = calloc(1, sizeof(*v));
	if (o && v && tpm_pcr_values_from_json(o, v, &e) == 0) {
		if (!have_attest) {
			/* a quote over sha256 and sha1 PCRs 0-7 and 16-23 */
			memset(&a, 0, sizeof(a));
			a.magic = TPM2_GENERATED_VALUE;
			a.type = TPM2_ST_ATTEST_QUOTE;
			a.attested.quote.pcrSelect.count = 2;
			a.attested.quote.pcrSelect.pcrSelections[0] =
				(TPMS_PCR_SELECTION){ TPM2_ALG_SHA256, 3, { 0xff, 0, 0xff } };
			a.attested.quote.pcrSelect.pcrSelections[1] =
				(TPMS_PCR_SELECTION){ TPM2_ALG_SHA1, 3, { 0xff, 0, 0xff } };
			a.attested.quote.pcrDigest.size = 32;
		}
		(void)tpm_quote_check_pcrs(&a, v, TPM2_ALG_SHA256, &e);
	}
	json_object_put(o);
	free(v);
	return 0;
}
