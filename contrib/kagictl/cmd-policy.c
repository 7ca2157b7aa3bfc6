// SPDX-License-Identifier: Apache-2.0
/*
 * cmd-policy.c: kagictl policy check FILE
 *
 * Loads a verifier policy file exactly as kagi-verifier does (vpolicy_load) and prints a
 * summary, or the first problem with its JSON path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kagictl.h"
#include "util.h"
#include "vpolicy.h"

static void policy_usage(FILE *f)
{
	fputs("Usage: kagictl policy check FILE\n"
	      "\n"
	      "Validate a kagi-verifier policy file and summarize it: groups, volumes and rules.\n"
	      "\n"
	      "Exit status: 0 valid, 2 invalid or unreadable (the first problem is printed with\n"
	      "its JSON path, e.g. groups[1].volumes[0]).\n",
	      f);
}

/* SNP rules a group sets beyond the defaults (reserved bit 17 set, DEBUG and MIGRATE_MA
 * refused, SMT allowed). */
static unsigned snp_rules(const struct snp_policy *s)
{
	return (s->measurements.n > 0) + (s->chip_ids.n > 0) + (s->id_key_digests.n > 0) +
	       (s->author_key_digests.n > 0) + s->has_min_tcb + (s->require_policy_bits != 0) +
	       (s->forbid_policy_bits != 0) + s->has_min_abi + (s->vmpl_mask != 0) +
	       (s->platform_required != 0) + (s->platform_forbidden != 0) + s->has_host_data +
	       s->has_family_id + s->has_image_id + s->has_report_data + s->require_id_block +
	       s->require_author_key + s->has_min_fw + s->has_min_fw_build + s->has_min_guest_svn +
	       !s->allow_smt;
}

static unsigned pcr_values(const struct tpm_pcr_values *v)
{
	unsigned n = 0;

	for (size_t b = 0; b < v->nbanks; b++)
		for (unsigned i = 0; i < TPM_PCR_MAX; i++)
			n += v->bank[b].present[i];
	return n;
}

static int cmp_uuid(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static size_t distinct_volumes(const struct vpolicy *p)
{
	size_t total = 0, k = 0, n = 0;
	const char **all;

	for (size_t g = 0; g < p->ngroups; g++)
		total += p->groups[g].nvolumes;
	all = calloc(total ? total : 1, sizeof(*all));
	if (!all)
		return total;
	for (size_t g = 0; g < p->ngroups; g++)
		for (size_t i = 0; i < p->groups[g].nvolumes; i++)
			all[k++] = p->groups[g].volumes[i];
	qsort(all, total, sizeof(*all), cmp_uuid);
	for (size_t i = 0; i < total; i++)
		n += i == 0 || strcmp(all[i - 1], all[i]) != 0;
	free(all);
	return n;
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static int policy_check(const char *path)
{
	struct vpolicy p;
	struct kagi_err e = { 0 };
	unsigned rules = 0;
	char buf[768];

	if (vpolicy_load(path, &p, &e) < 0) {
		fprintf(stderr, "kagictl: %s: invalid policy: %s\n", path,
			e.off != KAGI_ERR_NO_OFFSET ? kagi_err_str(&e, buf, sizeof(buf)) : e.msg);
		return KAGICTL_USAGE;
	}
	for (size_t g = 0; g < p.ngroups; g++) {
		const struct vpolicy_group *gr = &p.groups[g];

		rules += snp_rules(&gr->snp) + pcr_values(&gr->pcrs) + (unsigned)gr->nevents +
			 gr->require_vtpm;
	}
	printf("%s: valid: %zu group%s, %zu volume%s, %u rule%s; boot-phase PCR %u\n", path,
	       p.ngroups, plural(p.ngroups), distinct_volumes(&p), plural(distinct_volumes(&p)),
	       rules, plural(rules), p.boot_phase_pcr);
	for (size_t g = 0; g < p.ngroups; g++) {
		const struct vpolicy_group *gr = &p.groups[g];
		unsigned sr = snp_rules(&gr->snp), pv = pcr_values(&gr->pcrs);

		printf("  group '%s': %zu volume%s; SNP: %u rule%s", gr->name, gr->nvolumes,
		       plural(gr->nvolumes), sr, plural(sr));
		if (gr->snp.measurements.n)
			printf(" (%zu allowed measurement%s)", gr->snp.measurements.n,
			       plural(gr->snp.measurements.n));
		if (gr->require_vtpm)
			printf("; vTPM required");
		if (pv)
			printf("; %u PCR value%s", pv, plural(pv));
		if (gr->nevents)
			printf("; %zu required event%s", gr->nevents, plural(gr->nevents));
		putchar('\n');
		if (!gr->snp.measurements.n && !gr->snp.has_host_data && !pv && !gr->nevents)
			printf("  warning: group '%s' accepts any launch measurement and has no "
			       "PCR "
			       "or event rules\n",
			       gr->name);
		if (gr->snp.allow_debug)
			printf("  warning: group '%s' accepts DEBUG guests, whose memory the host "
			       "can read\n",
			       gr->name);
		if ((pv || gr->nevents) && !gr->require_vtpm)
			printf("  note: group '%s' has PCR or event rules, so only guests with a "
			       "vTPM "
			       "can pass it\n",
			       gr->name);
	}
	vpolicy_done(&p);
	return KAGICTL_OK;
}

int cmd_policy(int argc, char **argv)
{
	if (argc < 1) {
		policy_usage(stderr);
		return KAGICTL_USAGE;
	}
	if (streq(argv[0], "--help") || streq(argv[0], "-h")) {
		policy_usage(stdout);
		return KAGICTL_OK;
	}
	if (!streq(argv[0], "check")) {
		fprintf(stderr, "kagictl: unknown verb 'policy %s'\n", argv[0]);
		policy_usage(stderr);
		return KAGICTL_USAGE;
	}
	if (argc == 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
		policy_usage(stdout);
		return KAGICTL_OK;
	}
	if (argc != 2 || (argv[1][0] == '-' && argv[1][1])) {
		fprintf(stderr, "kagictl: 'policy check' takes exactly one FILE\n");
		return KAGICTL_USAGE;
	}
	return policy_check(argv[1]);
}
