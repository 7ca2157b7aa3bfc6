// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz-eventlog.c: decode a TCG event log, replay it, render every event to JSON and text, and
 * run the event data decoders on the raw input. No output, no leaks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void data_decoders(const uint8_t *data, size_t size)
{
	struct eventlog_variable v;
	struct eventlog_image_load im;
	struct eventlog_tagged t;
	struct eventlog_blob b;

	if (eventlog_variable_decode(data, size, &v, NULL) == 0)
		free(eventlog_variable_name(&v));
	(void)eventlog_image_load_decode(data, size, &im, NULL);
	(void)eventlog_tagged_decode(data, size, &t, NULL);
	(void)eventlog_blob_decode(data, size, false, &b, NULL);
	(void)eventlog_blob_decode(data, size, true, &b, NULL);
	free(eventlog_utf16_to_utf8(data, size / 2));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct eventlog log;
	struct eventlog_pcrs *pcrs;
	struct kagi_err err;
	json_object *j;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	data_decoders(data, size);
	if (eventlog_decode(data, size, &log, &err) < 0)
		return 0;
	pcrs = malloc(sizeof(*pcrs));
	if (pcrs && eventlog_replay(&log, pcrs, &err) == 0) {
		j = eventlog_pcrs_to_json(pcrs);
		(void)json_object_to_json_string(j);
		json_object_put(j);
		for (unsigned i = 0; i < EVENTLOG_NUM_PCRS + 1; i++)
			(void)eventlog_pcrs_get(pcrs, EVENTLOG_ALG_SHA256, i);
	}
	free(pcrs);
	for (size_t i = 0; i < log.nevents; i++) {
		j = eventlog_event_to_json(&log.events[i]);
		(void)json_object_to_json_string(j);
		json_object_put(j);
		if (devnull)
			eventlog_event_print(devnull, i, &log.events[i]);
	}
	if (devnull)
		eventlog_print_header(devnull, &log);
	j = eventlog_to_json(&log);
	(void)json_object_to_json_string(j);
	json_object_put(j);
	eventlog_done(&log);
	return 0;
}
