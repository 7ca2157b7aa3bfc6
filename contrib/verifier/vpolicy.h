/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vpolicy.h: the verifier's policy file (JSON), validated at load with precise errors.
 *
 * {
 *   "boot_phase_pcr": 15,                       optional, default 15
 *   "groups": [
 *     {
 *       "name": "web",                          required, unique, [A-Za-z0-9._-]{1,63}
 *       "snp": { ...snp-policy.h members... },  required (may be {}; DEBUG is refused by default)
 *       "require_vtpm": true,                   default false
 *       "pcrs": {"sha256": {"7": "<hex>", ...}} exact PCR values the quote must carry
 *       "events": [{"pcr": 9, "type": "EV_EVENT_TAG", "digest": "<hex>"}, ...]
 *                                               events that must appear in the replayed log
 *                                               (type by name or number; digest in the bank of
 *                                               its length: 32 bytes = sha256, 20 = sha1, 48 = sha384)
 *       "volumes": ["<uuid>", ...]              required, non-empty
 *     }
 *   ]
 * }
 */
#ifndef KAGI_VPOLICY_H
#define KAGI_VPOLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "eventlog.h"
#include "snp-policy.h"
#include "tpm-quote.h"

#define VPOLICY_MAX_GROUPS 256
#define VPOLICY_MAX_EVENTS 64

struct vpolicy_event {
	uint32_t pcr;
	uint32_t type;
	uint16_t alg;
	uint8_t digest[64];
	size_t digest_len;
};

struct vpolicy_group {
	char name[64];
	struct snp_policy snp;
	bool require_vtpm;
	struct tpm_pcr_values pcrs; /* nbanks == 0: no PCR rule */
	size_t nevents;
	struct vpolicy_event events[VPOLICY_MAX_EVENTS];
	size_t nvolumes;
	char (*volumes)[37];
};

struct vpolicy {
	unsigned boot_phase_pcr;
	size_t ngroups;
	struct vpolicy_group *groups;
};

int vpolicy_load(const char *path, struct vpolicy *ret, struct kagi_err *reterr);
int vpolicy_parse(const char *text, size_t len, struct vpolicy *ret, struct kagi_err *reterr);
void vpolicy_done(struct vpolicy *p);
bool vpolicy_group_has_volume(const struct vpolicy_group *g, const char *uuid);

/* The group's PCR and event rules against verified PCR values and a replayed log (may be NULL).
 * Reason codes "policy.pcr" / "policy.event". */
int vpolicy_check_tpm(const struct vpolicy_group *g, const struct tpm_pcr_values *pcrs,
		      const struct eventlog *log, struct kagi_err *reterr);

#endif
