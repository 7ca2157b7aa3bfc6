// SPDX-License-Identifier: Apache-2.0
/* kagictl eventlog show|replay FILE [--json]: offline view of a TCG event log. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "eventlog.h"
#include "kagictl.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("Usage: kagictl eventlog show FILE [--json]\n"
	      "       kagictl eventlog replay FILE [--json]\n",
	      f);
}

static int print_json(json_object *o)
{
	const char *s;

	if (!o) {
		fprintf(stderr, "kagictl: out of memory\n");
		return KAGICTL_USAGE;
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
	puts(s);
	json_object_put(o);
	return KAGICTL_OK;
}

static int do_show(const char *path, const struct eventlog *log, bool json)
{
	if (json)
		return print_json(eventlog_to_json(log));
	printf("File: %s\n", path);
	eventlog_print_header(stdout, log);
	for (size_t i = 0; i < log->nevents; i++) {
		putchar('\n');
		eventlog_event_print(stdout, i, &log->events[i]);
	}
	return KAGICTL_OK;
}

/* Warnings about the replay, also put in the JSON output under "warnings". */
static int replay_warnings(const char *path, const struct eventlog_pcrs *p, json_object *arr)
{
	char msg[256];

	for (size_t b = 0; b < p->nbanks; b++) {
		const struct eventlog_bank_pcrs *bank = &p->bank[b];
		const char *name = eventlog_alg_name(bank->alg);
		char lb[16];

		if (!name) {
			snprintf(lb, sizeof(lb), "alg_0x%04x", bank->alg);
			name = lb;
		}
		msg[0] = '\0';
		if (!bank->available)
			snprintf(msg, sizeof(msg), "bank %s not replayed: no hash implementation",
				 name);
		else if (bank->nmissing)
			snprintf(msg, sizeof(msg), "bank %s: %zu events have no digest for it",
				 name, bank->nmissing);
		if (msg[0]) {
			fprintf(stderr, "kagictl: eventlog '%s': warning: %s\n", path, msg);
			if (arr && json_object_array_add(arr, json_object_new_string(msg)) < 0)
				return -ENOMEM;
		}
	}
	if (p->nskipped) {
		snprintf(msg, sizeof(msg), "%zu events with an index above 23 not replayed",
			 p->nskipped);
		fprintf(stderr, "kagictl: eventlog '%s': warning: %s\n", path, msg);
		if (arr && json_object_array_add(arr, json_object_new_string(msg)) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int do_replay(const char *path, const struct eventlog *log, bool json)
{
	struct eventlog_pcrs *p = calloc(1, sizeof(*p));
	struct kagi_err err;
	char buf[640];
	int r;

	if (!p) {
		fprintf(stderr, "kagictl: out of memory\n");
		return KAGICTL_USAGE;
	}
	r = eventlog_replay(log, p, &err);
	if (r < 0) {
		fprintf(stderr, "kagictl: eventlog '%s': %s\n", path,
			kagi_err_str(&err, buf, sizeof(buf)));
		free(p);
		return KAGICTL_USAGE;
	}
	if (json) {
		json_object *o = eventlog_pcrs_to_json(p);
		json_object *w = json_object_new_array();

		if (o && w && replay_warnings(path, p, w) == 0 && json_object_array_length(w) > 0) {
			json_object_object_add(o, "warnings", w);
			w = NULL;
		}
		json_object_put(w);
		free(p);
		return print_json(o);
	}
	(void)replay_warnings(path, p, NULL);
	for (size_t b = 0; b < p->nbanks; b++) {
		const struct eventlog_bank_pcrs *bank = &p->bank[b];
		const char *name = eventlog_alg_name(bank->alg);

		if (!bank->available)
			continue;
		for (unsigned i = 0; i < EVENTLOG_NUM_PCRS; i++) {
			char hex[2 * EVENTLOG_MAX_DIGEST_SIZE + 1];

			if (name)
				printf("%-8s %2u %s\n", name, i,
				       hex_encode(bank->value[i], bank->size, hex));
			else
				printf("alg_0x%04x %2u %s\n", bank->alg, i,
				       hex_encode(bank->value[i], bank->size, hex));
		}
	}
	free(p);
	return KAGICTL_OK;
}

int cmd_eventlog(int argc, char **argv)
{
	const char *verb, *path = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct eventlog log;
	struct kagi_err err;
	bool json = false;
	char msg[640];
	size_t len = 0;
	int r;

	if (argc < 1) {
		usage(stderr);
		return KAGICTL_USAGE;
	}
	verb = argv[0];
	if (!streq(verb, "show") && !streq(verb, "replay")) {
		fprintf(stderr, "kagictl: unknown eventlog verb '%s'\n", verb);
		usage(stderr);
		return KAGICTL_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json")) {
			json = true;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "kagictl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return KAGICTL_USAGE;
		} else if (!path) {
			path = argv[i];
		} else {
			fprintf(stderr, "kagictl: unexpected argument '%s'\n", argv[i]);
			usage(stderr);
			return KAGICTL_USAGE;
		}
	}
	if (!path) {
		usage(stderr);
		return KAGICTL_USAGE;
	}

	r = read_file(path, EVENTLOG_MAX_LOG_SIZE, &buf, &len);
	if (r < 0) {
		if (r == -EFBIG)
			fprintf(stderr, "kagictl: eventlog '%s': larger than %u bytes\n", path,
				EVENTLOG_MAX_LOG_SIZE);
		else
			fprintf(stderr, "kagictl: eventlog '%s': cannot read: %s\n", path,
				strerror(-r));
		return KAGICTL_USAGE;
	}
	r = eventlog_decode(buf, len, &log, &err);
	if (r < 0) {
		fprintf(stderr, "kagictl: eventlog '%s': %s\n", path,
			kagi_err_str(&err, msg, sizeof(msg)));
		return KAGICTL_USAGE;
	}
	if (streq(verb, "show"))
		r = do_show(path, &log, json);
	else
		r = do_replay(path, &log, json);
	eventlog_done(&log);
	return r;
}
