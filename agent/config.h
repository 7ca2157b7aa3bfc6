/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h: the agent's configuration, from the kernel command line (rd.kagi.*, which wins) and
 * /etc/kagi/kagi.conf (`key = value`, the same names without the prefix).
 *
 * Both texts are untrusted and parsed strictly with hard caps on size, line length and the
 * number of options. An unknown rd.kagi. option or a bad value is an error that names the
 * option and the value ("rd.kagi.timeout: '12x' is not a number of seconds"); words of the
 * kernel command line that are not ours are ignored. No I/O except in config_load().
 *
 * (Not to be confused with the build's generated config.h in the build root.)
 */
#ifndef KAGI_AGENT_CONFIG_H
#define KAGI_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define KAGI_CONFIG_PATH  "/etc/kagi/kagi.conf"
#define KAGI_CMDLINE_PATH "/proc/cmdline"

#define CONFIG_PREFIX         "rd.kagi."
#define CONFIG_CMDLINE_MAX    (64 * 1024) /* bytes of kernel command line text */
#define CONFIG_FILE_MAX       (64 * 1024) /* bytes of kagi.conf */
#define CONFIG_LINE_MAX       2048        /* one kagi.conf line, one command line word */
#define CONFIG_ENTRIES_MAX    128         /* kagi options per source */
#define CONFIG_URLS_MAX       8
#define CONFIG_URL_MAX        512
#define CONFIG_VOLUMES_MAX    16 /* = PROTO_MAX_VOLUMES */
#define CONFIG_UUID_LEN       36
#define CONFIG_NAME_MAX       127 /* device-mapper name (DM_NAME_LEN - 1) */
#define CONFIG_PATH_MAX       1024
#define CONFIG_PIN_MAX        1024
#define CONFIG_TCTI_MAX       256
#define CONFIG_PCR_MAX        24
#define CONFIG_TIMEOUT_MAX    86400
#define CONFIG_BOOT_PHASE_PCR 15 /* = BINDING_BOOT_PHASE_PCR: must be quoted */

#define CONFIG_DEFAULT_TIMEOUT         300
#define CONFIG_DEFAULT_ATTEMPT_TIMEOUT 10
#define CONFIG_DEFAULT_RETRIES         5
#define CONFIG_DEFAULT_TCTI            "device:/dev/tpmrm0"
#define CONFIG_DEFAULT_TSM_DIR         "/sys/kernel/config/tsm/report"
#define CONFIG_DEFAULT_SEV_GUEST       "/dev/sev-guest"
#define CONFIG_DEFAULT_EVENTLOG        "/sys/kernel/security/tpm0/binary_bios_measurements"
#define CONFIG_DEFAULT_PCRS            0xffffu /* 0-15 */

enum config_on_failure {
	CONFIG_ON_FAILURE_POWEROFF = 0,
	CONFIG_ON_FAILURE_HALT,
	CONFIG_ON_FAILURE_SHELL,
	CONFIG_ON_FAILURE_PASSPHRASE,
};

/* Bit per option: which ones a source set (config_merge() takes the command line's). */
enum config_option {
	CONFIG_OPT_URL = 0,
	CONFIG_OPT_CA,
	CONFIG_OPT_PIN,
	CONFIG_OPT_CERT,
	CONFIG_OPT_KEY,
	CONFIG_OPT_VOLUME,
	CONFIG_OPT_TIMEOUT,
	CONFIG_OPT_ATTEMPT_TIMEOUT,
	CONFIG_OPT_RETRIES,
	CONFIG_OPT_ON_FAILURE,
	CONFIG_OPT_TCTI,
	CONFIG_OPT_TSM_DIR,
	CONFIG_OPT_SEV_GUEST,
	CONFIG_OPT_EVENTLOG,
	CONFIG_OPT_PCRS,
	CONFIG_OPT_NO_TPM,
	CONFIG_OPT_DEBUG,
	CONFIG_OPT_COUNT
};

struct config_volume {
	char uuid[CONFIG_UUID_LEN + 1]; /* canonical, lowercase */
	char name[CONFIG_NAME_MAX + 1]; /* device-mapper name; "" = none given */
};

struct kagi_config {
	uint32_t set; /* bit (1u << enum config_option) per option given */

	size_t nurls;
	char urls[CONFIG_URLS_MAX]
		 [CONFIG_URL_MAX + 1]; /* https://host[:port][/path], no '/' at the end */
	char ca[CONFIG_PATH_MAX + 1];
	char pin[CONFIG_PIN_MAX + 1];   /* "" = none; else sha256//b64[;sha256//b64...] */
	char cert[CONFIG_PATH_MAX + 1]; /* "" = ephemeral self-signed identity */
	char key[CONFIG_PATH_MAX + 1];
	size_t nvolumes;
	struct config_volume volumes[CONFIG_VOLUMES_MAX];
	unsigned timeout;         /* seconds, whole unlock */
	unsigned attempt_timeout; /* seconds, one HTTPS exchange */
	unsigned retries;         /* attempts in total */
	enum config_on_failure on_failure;
	char tcti[CONFIG_TCTI_MAX + 1];
	char tsm_dir[CONFIG_PATH_MAX + 1];
	char sev_guest[CONFIG_PATH_MAX + 1];
	char eventlog[CONFIG_PATH_MAX + 1];
	uint32_t pcrs; /* sha256 bank, bit n = PCR n; always includes CONFIG_BOOT_PHASE_PCR */
	bool no_tpm;
	bool debug;
};

/* Defaults; nothing marked as set. */
void config_init(struct kagi_config *c);

/*
 * Parse kernel command line text (as in /proc/cmdline: words separated by whitespace, double
 * quotes may wrap a value or a whole word containing spaces). Only words rd.kagi.* are used;
 * options go into *c on top of what it has (a repeated single-value option: the last one wins;
 * url and volume accumulate). *c is unchanged on failure.
 */
int config_parse_cmdline(const char *text, size_t len, struct kagi_config *c,
			 struct kagi_err *reterr);

/*
 * Parse kagi.conf text: `key = value` lines, `#` comment lines, blank lines; a value may be
 * wrapped in double quotes. `source` names the file in messages ("/etc/kagi/kagi.conf").
 * Same accumulation rules; *c is unchanged on failure.
 */
int config_parse_file(const char *text, size_t len, const char *source, struct kagi_config *c,
		      struct kagi_err *reterr);

/* Every option set in `over` replaces the one in `base` (url and volume lists as a whole). */
void config_merge(struct kagi_config *base, const struct kagi_config *over);

/* What an unlock needs: at least one url and volume, ca, cert and key together or neither. */
int config_check(const struct kagi_config *c, struct kagi_err *reterr);

/*
 * Read and parse both sources and merge them (command line wins), then config_check().
 * cmdline_path NULL = /proc/cmdline; conf_path NULL = /etc/kagi/kagi.conf, which may be
 * missing (an explicitly given file may not).
 */
int config_load(const char *cmdline_path, const char *conf_path, struct kagi_config *ret,
		struct kagi_err *reterr);

const char *config_on_failure_name(enum config_on_failure f);

#endif
