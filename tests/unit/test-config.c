// SPDX-License-Identifier: Apache-2.0
/* test-config.c: rd.kagi.* and kagi.conf parsing, one named failing input per rule. */
#include "testutil.h"

#include <errno.h>
#include <unistd.h>

/* the agent's config.h, not the build's generated one */
#include "config.h"

#define UUID1 "0f2d7c1e-6a53-4c1b-9b7e-3d2a1c0b9e8f"
#define UUID2 "a1b2c3d4-e5f6-4789-8abc-def012345678"
#define PIN1  "sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE="

struct fixture {
	struct kagi_config c;
	struct kagi_err e;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	config_init(&f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static int cmdline(struct fixture *f, const char *text)
{
	memset(&f->e, 0, sizeof(f->e));
	return config_parse_cmdline(text, strlen(text), &f->c, &f->e);
}

static int file(struct fixture *f, const char *text)
{
	memset(&f->e, 0, sizeof(f->e));
	return config_parse_file(text, strlen(text), "test.conf", &f->c, &f->e);
}

/* fail with r, what, and a message containing `msg` */
#define assert_fails(f, call, r, w_, m_)                                                           \
	do {                                                                                       \
		assert_int_equal((call), (r));                                                     \
		assert_non_null((f)->e.what);                                                      \
		assert_string_equal((f)->e.what, (w_));                                            \
		if (!strstr((f)->e.msg, (m_)))                                                     \
			fail_msg("message '%s' lacks '%s'", (f)->e.msg, (m_));                     \
	} while (0)

/* ---- good input ---------------------------------------------------------------------------- */

static void test_config_defaults(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(f->c.timeout, 300);
	assert_int_equal(f->c.attempt_timeout, 10);
	assert_int_equal(f->c.retries, 5);
	assert_int_equal(f->c.on_failure, CONFIG_ON_FAILURE_POWEROFF);
	assert_string_equal(f->c.tcti, "device:/dev/tpmrm0");
	assert_int_equal(f->c.pcrs, 0xffff);
	assert_false(f->c.no_tpm);
	assert_int_equal(f->c.set, 0);
	assert_string_equal(config_on_failure_name(CONFIG_ON_FAILURE_PASSPHRASE), "passphrase");
}

static void test_cmdline_all_options(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
		cmdline(f, "BOOT_IMAGE=/vmlinuz root=/dev/mapper/root ro quiet "
			   "rd.kagi.url=https://10.0.2.2:8443 rd.kagi.ca=/etc/kagi/ca.pem "
			   "rd.kagi.pin=" PIN1
			   " rd.kagi.cert=/etc/kagi/c.pem rd.kagi.key=/etc/kagi/k.pem "
			   "rd.kagi.volume=" UUID1 ":root rd.kagi.volume=" UUID2 " "
			   "rd.kagi.timeout=600 rd.kagi.attempt-timeout=20 rd.kagi.retries=7 "
			   "rd.kagi.on-failure=shell rd.kagi.tcti=swtpm:host=127.0.0.1,port=2321 "
			   "rd.kagi.tsm-dir=/tmp/tsm rd.kagi.sev-guest=/dev/null "
			   "rd.kagi.eventlog=/tmp/log rd.kagi.pcrs=sha256:0-7,9,15 rd.kagi.no-tpm "
			   "rd.kagi.debug=0\n"),
		0);
	assert_int_equal(f->c.nurls, 1);
	assert_string_equal(f->c.urls[0], "https://10.0.2.2:8443");
	assert_string_equal(f->c.ca, "/etc/kagi/ca.pem");
	assert_string_equal(f->c.pin, PIN1);
	assert_string_equal(f->c.cert, "/etc/kagi/c.pem");
	assert_string_equal(f->c.key, "/etc/kagi/k.pem");
	assert_int_equal(f->c.nvolumes, 2);
	assert_string_equal(f->c.volumes[0].uuid, UUID1);
	assert_string_equal(f->c.volumes[0].name, "root");
	assert_string_equal(f->c.volumes[1].uuid, UUID2);
	assert_string_equal(f->c.volumes[1].name, "");
	assert_int_equal(f->c.timeout, 600);
	assert_int_equal(f->c.attempt_timeout, 20);
	assert_int_equal(f->c.retries, 7);
	assert_int_equal(f->c.on_failure, CONFIG_ON_FAILURE_SHELL);
	assert_string_equal(f->c.tcti, "swtpm:host=127.0.0.1,port=2321");
	assert_string_equal(f->c.tsm_dir, "/tmp/tsm");
	assert_string_equal(f->c.sev_guest, "/dev/null");
	assert_string_equal(f->c.eventlog, "/tmp/log");
	assert_int_equal(f->c.pcrs, 0x82ff);
	assert_true(f->c.no_tpm);
	assert_false(f->c.debug);
	assert_int_equal(f->c.set, (1u << CONFIG_OPT_COUNT) - 1);
	assert_int_equal(config_check(&f->c, &f->e), 0);
}

static void test_cmdline_quoting(void **state)
{
	struct fixture *f = *state;

	/* a quoted value, a fully quoted word, and a quoted foreign word that looks like ours */
	assert_int_equal(cmdline(f, "rd.kagi.ca=\"/etc/my ca.pem\" \"rd.kagi.cert=/a b/c.pem\" "
				    "foo=\"rd.kagi.bogus=1 x\" rd.kagi.key=\"/k\"\t"),
			 0);
	assert_string_equal(f->c.ca, "/etc/my ca.pem");
	assert_string_equal(f->c.cert, "/a b/c.pem");
	assert_string_equal(f->c.key, "/k");
}

static void test_cmdline_ignores_other_words(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmdline(f, "rd.kagix=1 rd.luks.uuid=" UUID1 " kagi.url=http://x "
				    "rd.kag.url=1 -- rd.kagi.retries=3"),
			 0);
	assert_int_equal(f->c.retries, 3);
	assert_int_equal(f->c.set, 1u << CONFIG_OPT_RETRIES);
	assert_int_equal(cmdline(f, ""), 0);
	assert_int_equal(cmdline(f, "   \n"), 0);
}

static void test_cmdline_url_list(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmdline(f, "rd.kagi.url=https://a.example/,https://[fd00::1]:8443/kagi "
				    "rd.kagi.url=https://c_1.example:1//"),
			 0);
	assert_int_equal(f->c.nurls, 3);
	assert_string_equal(f->c.urls[0], "https://a.example");
	assert_string_equal(f->c.urls[1], "https://[fd00::1]:8443/kagi");
	assert_string_equal(f->c.urls[2], "https://c_1.example:1");
}

static void test_cmdline_last_single_value_wins(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmdline(f, "rd.kagi.timeout=5 rd.kagi.timeout=9"), 0);
	assert_int_equal(f->c.timeout, 9);
}

static void test_cmdline_volume_uppercase(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmdline(f, "rd.kagi.volume=0F2D7C1E-6A53-4C1B-9B7E-3D2A1C0B9E8F:luks-1"),
			 0);
	assert_string_equal(f->c.volumes[0].uuid, UUID1);
	assert_string_equal(f->c.volumes[0].name, "luks-1");
}

static void test_cmdline_bool_forms(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmdline(f, "rd.kagi.no-tpm=yes rd.kagi.debug"), 0);
	assert_true(f->c.no_tpm);
	assert_true(f->c.debug);
	assert_int_equal(cmdline(f, "rd.kagi.no-tpm=off"), 0);
	assert_false(f->c.no_tpm);
}

/* ---- command line rejections ------------------------------------------------------------- */

static void test_cmdline_bad_timeout(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.timeout=12x"), -EINVAL, "rd.kagi.timeout",
		     "rd.kagi.timeout: '12x' is not a number of seconds");
	assert_int_equal(f->e.off, 0);
	assert_fails(f, cmdline(f, "quiet rd.kagi.timeout=-1"), -EINVAL, "rd.kagi.timeout",
		     "'-1' is not a number of seconds");
	assert_int_equal(f->e.off, 6);
	assert_fails(f, cmdline(f, "rd.kagi.timeout=0x10"), -EINVAL, "rd.kagi.timeout",
		     "is not a number of seconds");
}

static void test_cmdline_bad_timeout_range(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.timeout=0"), -ERANGE, "rd.kagi.timeout",
		     "0 seconds is out of range (1..86400)");
	assert_fails(f, cmdline(f, "rd.kagi.timeout=86401"), -ERANGE, "rd.kagi.timeout",
		     "out of range");
	assert_fails(f, cmdline(f, "rd.kagi.timeout=99999999999999999999"), -EINVAL,
		     "rd.kagi.timeout", "not a number");
	assert_int_equal(cmdline(f, "rd.kagi.timeout=86400"), 0);
}

static void test_cmdline_bad_attempt_timeout(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.attempt-timeout=3601"), -ERANGE,
		     "rd.kagi.attempt-timeout", "out of range (1..3600)");
	assert_fails(f, cmdline(f, "rd.kagi.attempt-timeout=1.5"), -EINVAL,
		     "rd.kagi.attempt-timeout", "'1.5' is not a number of seconds");
}

static void test_cmdline_bad_retries(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.retries=0"), -ERANGE, "rd.kagi.retries",
		     "out of range (1..1000)");
	assert_fails(f, cmdline(f, "rd.kagi.retries=five"), -EINVAL, "rd.kagi.retries",
		     "'five' is not a number of attempts");
}

static void test_cmdline_bad_unknown_option(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "ro rd.kagi.urls=https://x"), -EINVAL, "cmdline.option",
		     "rd.kagi.urls: unknown option");
	assert_int_equal(f->e.off, 3);
	assert_fails(f, cmdline(f, "rd.kagi.=1"), -EINVAL, "cmdline.option", "unknown option");
	assert_fails(f, cmdline(f, "rd.kagi.URL=https://x"), -EINVAL, "cmdline.option",
		     "rd.kagi.URL: unknown option");
}

static void test_cmdline_bad_bare_prefix(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi=1"), -EINVAL, "cmdline.option",
		     "'rd.kagi' is not an option");
	assert_fails(f, cmdline(f, "rd.kagi"), -EINVAL, "cmdline.option", "is not an option");
}

static void test_cmdline_bad_missing_value(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.url"), -EINVAL, "rd.kagi.url",
		     "rd.kagi.url: needs a value (rd.kagi.url=...)");
	assert_fails(f, cmdline(f, "rd.kagi.ca="), -EINVAL, "rd.kagi.ca", "needs a value");
	assert_fails(f, cmdline(f, "rd.kagi.debug="), -EINVAL, "rd.kagi.debug", "needs a value");
}

static void test_cmdline_bad_url_scheme(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.url=http://10.0.2.2:8080"), -EINVAL, "rd.kagi.url",
		     "'http://10.0.2.2:8080' is not an https:// URL");
	assert_fails(f, cmdline(f, "rd.kagi.url=HTTPS://x"), -EINVAL, "rd.kagi.url",
		     "is not an https:// URL");
	assert_fails(f, cmdline(f, "rd.kagi.url=file:///etc/passwd"), -EINVAL, "rd.kagi.url",
		     "is not an https:// URL");
}

static void test_cmdline_bad_url_parts(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.url=https://u:p@host"), -EINVAL, "rd.kagi.url",
		     "user info");
	assert_fails(f, cmdline(f, "rd.kagi.url=https://host/?a=1"), -EINVAL, "rd.kagi.url",
		     "query");
	assert_fails(f, cmdline(f, "rd.kagi.url=https://host#x"), -EINVAL, "rd.kagi.url",
		     "fragment");
	assert_fails(f, cmdline(f, "rd.kagi.url=https://"), -EINVAL, "rd.kagi.url", "has no host");
	assert_fails(f, cmdline(f, "rd.kagi.url=https:///path"), -EINVAL, "rd.kagi.url",
		     "has no host");
	assert_fails(f, cmdline(f, "rd.kagi.url=https://:443"), -EINVAL, "rd.kagi.url",
		     "has no host");
	assert_fails(f, cmdline(f, "rd.kagi.url=https://host:0"), -EINVAL, "rd.kagi.url",
		     "bad port number");
	assert_fails(f, cmdline(f, "rd.kagi.url=https://host:65536"), -EINVAL, "rd.kagi.url",
		     "bad port number");
	assert_fails(f, cmdline(f, "rd.kagi.url=https://host:8x"), -EINVAL, "rd.kagi.url",
		     "bad port number");
	assert_fails(f, cmdline(f, "rd.kagi.url=https://ho%st"), -EINVAL, "rd.kagi.url",
		     "bad host name");
	assert_fails(f, cmdline(f, "rd.kagi.url=https://[zz::1]"), -EINVAL, "rd.kagi.url",
		     "bad IPv6 address literal");
	assert_fails(f, cmdline(f, "rd.kagi.url=https://[::1]x"), -EINVAL, "rd.kagi.url",
		     "bad host");
	assert_fails(f, cmdline(f, "rd.kagi.url=\"https://a b\""), -EINVAL, "rd.kagi.url",
		     "character that is not allowed at position 10");
}

static void test_cmdline_bad_url_list(void **state)
{
	struct fixture *f = *state;
	char text[2048] = "rd.kagi.url=";

	assert_fails(f, cmdline(f, "rd.kagi.url=https://a,,https://b"), -EINVAL, "rd.kagi.url",
		     "has an empty URL in its list");
	assert_fails(f, cmdline(f, "rd.kagi.url=https://a,"), -EINVAL, "rd.kagi.url",
		     "has an empty URL in its list");
	for (int i = 0; i < 9; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%shttps://h%d",
			 i ? "," : "", i);
	assert_fails(f, cmdline(f, text), -E2BIG, "rd.kagi.url", "more than 8 URLs");
	assert_int_equal(f->c.nurls, 0);
}

static void test_cmdline_bad_url_length(void **state)
{
	struct fixture *f = *state;
	char text[1200] = "rd.kagi.url=https://h/";

	memset(text + strlen(text), 'a', 600);
	assert_fails(f, cmdline(f, text), -EINVAL, "rd.kagi.url", "longer than 512 characters");
}

static void test_cmdline_bad_volume(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.volume=root"), -EINVAL, "rd.kagi.volume",
		     "'root' is not a LUKS UUID");
	assert_fails(f, cmdline(f, "rd.kagi.volume=0f2d7c1e6a534c1b9b7e3d2a1c0b9e8f1234"), -EINVAL,
		     "rd.kagi.volume", "is not a LUKS UUID");
	assert_fails(f, cmdline(f, "rd.kagi.volume=0f2d7c1e-6a53-4c1b-9b7e-3d2a1c0b9e8g"), -EINVAL,
		     "rd.kagi.volume", "is not a LUKS UUID");
	assert_fails(f, cmdline(f, "rd.kagi.volume=UUID=" UUID1), -EINVAL, "rd.kagi.volume",
		     "is not a LUKS UUID");
	assert_fails(f, cmdline(f, "rd.kagi.volume=" UUID1 "," UUID2), -EINVAL, "rd.kagi.volume",
		     "is not a LUKS UUID");
}

static void test_cmdline_bad_volume_name(void **state)
{
	struct fixture *f = *state;
	char text[400];

	assert_fails(f, cmdline(f, "rd.kagi.volume=" UUID1 ":"), -EINVAL, "rd.kagi.volume",
		     "must have 1..127 characters");
	assert_fails(f, cmdline(f, "rd.kagi.volume=" UUID1 ":a/b"), -EINVAL, "rd.kagi.volume",
		     "may only have letters, digits");
	assert_fails(f, cmdline(f, "rd.kagi.volume=" UUID1 ":.."), -EINVAL, "rd.kagi.volume",
		     "is not a usable mapping name");
	assert_fails(f, cmdline(f, "rd.kagi.volume=" UUID1 ":-x"), -EINVAL, "rd.kagi.volume",
		     "is not a usable mapping name");
	snprintf(text, sizeof(text), "rd.kagi.volume=" UUID1 ":%0128d", 0);
	assert_fails(f, cmdline(f, text), -EINVAL, "rd.kagi.volume", "must have 1..127");
}

static void test_cmdline_bad_volume_twice(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.volume=" UUID1 " rd.kagi.volume=" UUID1 ":x"), -EEXIST,
		     "rd.kagi.volume", "volume " UUID1 " is given twice");
}

static void test_cmdline_bad_volume_count(void **state)
{
	struct fixture *f = *state;
	char text[2048] = "";

	for (int i = 0; i < 17; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "rd.kagi.volume=0f2d7c1e-6a53-4c1b-9b7e-3d2a1c0b9e%02d ", i);
	assert_fails(f, cmdline(f, text), -E2BIG, "rd.kagi.volume", "more than 16 volumes");
}

static void test_cmdline_bad_pin(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.pin=YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE="),
		     -EINVAL, "rd.kagi.pin", "is not a public key pin of the form sha256//BASE64");
	assert_fails(f, cmdline(f, "rd.kagi.pin=sha256//YhKJKSzo"), -EINVAL, "rd.kagi.pin",
		     "44 characters");
	assert_fails(f, cmdline(f, "rd.kagi.pin=" PIN1 ";"), -EINVAL, "rd.kagi.pin",
		     "pins are separated by ';'");
	assert_fails(f, cmdline(f, "rd.kagi.pin=" PIN1 "x"), -EINVAL, "rd.kagi.pin",
		     "pins are separated by ';'");
	assert_int_equal(cmdline(f, "rd.kagi.pin=" PIN1 ";" PIN1), 0);
}

static void test_cmdline_bad_pcrs(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.pcrs=0-7"), -EINVAL, "rd.kagi.pcrs",
		     "'0-7' does not include PCR 15, the boot-phase PCR");
	assert_fails(f, cmdline(f, "rd.kagi.pcrs=0-24"), -EINVAL, "rd.kagi.pcrs",
		     "is not a list of PCRs 0..23");
	assert_fails(f, cmdline(f, "rd.kagi.pcrs=7-3,15"), -EINVAL, "rd.kagi.pcrs",
		     "is not a list of PCRs");
	assert_fails(f, cmdline(f, "rd.kagi.pcrs=0,,15"), -EINVAL, "rd.kagi.pcrs",
		     "is not a list of PCRs");
	assert_fails(f, cmdline(f, "rd.kagi.pcrs=15,"), -EINVAL, "rd.kagi.pcrs",
		     "is not a list of PCRs");
	assert_fails(f, cmdline(f, "rd.kagi.pcrs=sha1:0-15"), -EINVAL, "rd.kagi.pcrs",
		     "only the sha256 bank is supported");
	assert_int_equal(cmdline(f, "rd.kagi.pcrs=15"), 0);
	assert_int_equal(f->c.pcrs, 1u << 15);
	assert_int_equal(cmdline(f, "rd.kagi.pcrs=0-23"), 0);
	assert_int_equal(f->c.pcrs, 0xffffff);
}

static void test_cmdline_bad_on_failure(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.on-failure=reboot"), -EINVAL, "rd.kagi.on-failure",
		     "'reboot' is not one of poweroff, halt, shell, passphrase");
}

static void test_cmdline_bad_bool(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.no-tpm=maybe"), -EINVAL, "rd.kagi.no-tpm",
		     "'maybe' is not a boolean");
}

static void test_cmdline_bad_text(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.ca=/a\x01"), -EINVAL, "rd.kagi.ca",
		     "'/a\\x01' has a character that is not allowed at position 3");
	assert_fails(f, cmdline(f, "rd.kagi.tcti=\"device:/dev/tpm rm0\""), -EINVAL, "rd.kagi.tcti",
		     "not allowed");
	assert_fails(f, cmdline(f, "rd.kagi.ca=/a\"b\""), -EINVAL, "rd.kagi.ca", "not allowed");
}

static void test_cmdline_bad_unterminated_quote(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, cmdline(f, "rd.kagi.ca=\"/etc/ca.pem quiet"), -EINVAL, "cmdline.quote",
		     "has an unterminated double quote");
	/* a foreign word's open quote swallows the rest, as in the kernel: no error, no option */
	assert_int_equal(cmdline(f, "foo=\"bar rd.kagi.retries=2"), 0);
	assert_int_equal(f->c.retries, 5);
}

static void test_cmdline_bad_nul(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "ro\0rd.kagi.retries=2";

	memset(&f->e, 0, sizeof(f->e));
	assert_int_equal(config_parse_cmdline(text, sizeof(text) - 1, &f->c, &f->e), -EINVAL);
	assert_string_equal(f->e.what, "cmdline.nul");
	assert_int_equal(f->e.off, 2);
}

static void test_cmdline_bad_size(void **state)
{
	struct fixture *f = *state;
	size_t len = CONFIG_CMDLINE_MAX + 1;
	char *text = malloc(len);

	assert_non_null(text);
	memset(text, ' ', len);
	memset(&f->e, 0, sizeof(f->e));
	assert_int_equal(config_parse_cmdline(text, len, &f->c, &f->e), -EINVAL);
	assert_string_equal(f->e.what, "cmdline.size");
	assert_int_equal(config_parse_cmdline(text, len - 1, &f->c, &f->e), 0);
	free(text);
}

static void test_cmdline_bad_word_length(void **state)
{
	struct fixture *f = *state;
	char *text = calloc(1, CONFIG_LINE_MAX + 64);

	assert_non_null(text);
	strcpy(text, "rd.kagi.ca=/");
	memset(text + strlen(text), 'a', CONFIG_LINE_MAX);
	assert_fails(f, cmdline(f, text), -EINVAL, "cmdline.word", "longer than 2048 bytes");
	/* a long foreign word is fine */
	text[0] = 'x';
	assert_int_equal(cmdline(f, text), 0);
	free(text);
}

static void test_cmdline_bad_count(void **state)
{
	struct fixture *f = *state;
	char *text = calloc(1, 129 * 24 + 1);

	assert_non_null(text);
	for (int i = 0; i < 129; i++)
		strcat(text, "rd.kagi.retries=3 ");
	assert_fails(f, cmdline(f, text), -EINVAL, "cmdline.count",
		     "more than 128 rd.kagi options");
	free(text);
}

static void test_cmdline_unchanged_on_failure(void **state)
{
	struct fixture *f = *state;
	struct kagi_config before = f->c;

	assert_int_equal(cmdline(f, "rd.kagi.retries=3 rd.kagi.url=https://a rd.kagi.timeout=x"),
			 -EINVAL);
	assert_memory_equal(&before, &f->c, sizeof(before));
}

/* ---- kagi.conf ----------------------------------------------------------------------------- */

static void test_file_basic(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(file(f, "# kagi.conf\n"
				 "\n"
				 "url = https://verifier.example:8443\r\n"
				 "  url=https://backup.example  \n"
				 "ca = \"/etc/kagi/ca bundle.pem\"\n"
				 "volume = " UUID1 ":root\n"
				 "\t# indented comment\n"
				 "timeout = 120\n"
				 "no-tpm = no\n"
				 "on-failure = halt"),
			 0);
	assert_int_equal(f->c.nurls, 2);
	assert_string_equal(f->c.urls[0], "https://verifier.example:8443");
	assert_string_equal(f->c.urls[1], "https://backup.example");
	assert_string_equal(f->c.ca, "/etc/kagi/ca bundle.pem");
	assert_string_equal(f->c.volumes[0].name, "root");
	assert_int_equal(f->c.timeout, 120);
	assert_int_equal(f->c.on_failure, CONFIG_ON_FAILURE_HALT);
	assert_int_equal(config_check(&f->c, &f->e), 0);
}

static void test_file_bad_value(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, file(f, "# x\ntimeout = 12x\n"), -EINVAL, "kagi.conf.timeout",
		     "test.conf:2: timeout: '12x' is not a number of seconds");
	assert_int_equal(f->e.off, 4);
	assert_fails(f, file(f, "url = http://x\n"), -EINVAL, "kagi.conf.url",
		     "test.conf:1: url: 'http://x' is not an https:// URL");
	assert_fails(f, file(f, "retries =\n"), -EINVAL, "kagi.conf.retries", "needs a value");
}

static void test_file_bad_line(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, file(f, "url https://x\n"), -EINVAL, "kagi.conf.line",
		     "test.conf:1: 'url https://x' is not of the form 'key = value'");
	assert_fails(f, file(f, "debug\n"), -EINVAL, "kagi.conf.line", "is not of the form");
}

static void test_file_bad_unknown_option(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, file(f, "rd.kagi.url = https://x\n"), -EINVAL, "kagi.conf.option",
		     "test.conf:1: rd.kagi.url: unknown option");
	assert_fails(f, file(f, "= 1\n"), -EINVAL, "kagi.conf.option", "unknown option");
}

static void test_file_bad_unterminated_quote(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, file(f, "ca = \"/etc/ca.pem\n"), -EINVAL, "kagi.conf.ca",
		     "test.conf:1: ca: unterminated double quote");
	assert_fails(f, file(f, "ca = \"\n"), -EINVAL, "kagi.conf.ca", "unterminated");
}

static void test_file_bad_size(void **state)
{
	struct fixture *f = *state;
	size_t len = CONFIG_FILE_MAX + 1;
	char *text = malloc(len);

	assert_non_null(text);
	memset(text, '\n', len);
	memset(&f->e, 0, sizeof(f->e));
	assert_int_equal(config_parse_file(text, len, "t", &f->c, &f->e), -EINVAL);
	assert_string_equal(f->e.what, "kagi.conf.size");
	free(text);
}

static void test_file_bad_line_length(void **state)
{
	struct fixture *f = *state;
	char *text = calloc(1, CONFIG_LINE_MAX + 64);

	assert_non_null(text);
	memset(text, '#', CONFIG_LINE_MAX + 1);
	assert_fails(f, file(f, text), -EINVAL, "kagi.conf.line", "longer than 2048 bytes");
	free(text);
}

static void test_file_bad_count(void **state)
{
	struct fixture *f = *state;
	char *text = calloc(1, 129 * 16 + 1);

	assert_non_null(text);
	for (int i = 0; i < 129; i++)
		strcat(text, "retries = 2\n");
	assert_fails(f, file(f, text), -EINVAL, "kagi.conf.count", "more than 128 options");
	free(text);
}

static void test_file_bad_nul(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "retries = 2\n\0";

	memset(&f->e, 0, sizeof(f->e));
	assert_int_equal(config_parse_file(text, sizeof(text) - 1, "t", &f->c, &f->e), -EINVAL);
	assert_string_equal(f->e.what, "kagi.conf.nul");
	assert_int_equal(f->e.off, 12);
}

/* ---- merge, check, load -------------------------------------------------------------------- */

static void test_merge_cmdline_wins(void **state)
{
	struct fixture *f = *state;
	struct kagi_config cmd;

	assert_int_equal(file(f, "url = https://a\nurl = https://b\nca = /ca\ntimeout = 30\n"
				 "volume = " UUID1 "\nretries = 9\n"),
			 0);
	config_init(&cmd);
	assert_int_equal(
		config_parse_cmdline("rd.kagi.url=https://c rd.kagi.retries=2", 39, &cmd, &f->e),
		0);
	config_merge(&f->c, &cmd);
	assert_int_equal(f->c.nurls, 1); /* the command line's list replaces the file's */
	assert_string_equal(f->c.urls[0], "https://c");
	assert_int_equal(f->c.retries, 2);
	assert_int_equal(f->c.timeout, 30); /* not on the command line: the file's */
	assert_string_equal(f->c.ca, "/ca");
	assert_int_equal(f->c.nvolumes, 1);
}

static void test_check_bad_missing(void **state)
{
	struct fixture *f = *state;

	assert_fails(f, config_check(&f->c, &f->e), -EINVAL, "config.url", "no verifier URL");
	assert_int_equal(cmdline(f, "rd.kagi.url=https://a"), 0);
	assert_fails(f, config_check(&f->c, &f->e), -EINVAL, "config.ca", "no CA bundle");
	assert_int_equal(cmdline(f, "rd.kagi.ca=/ca"), 0);
	assert_fails(f, config_check(&f->c, &f->e), -EINVAL, "config.volume", "no volume");
	assert_int_equal(cmdline(f, "rd.kagi.volume=" UUID1 " rd.kagi.cert=/c"), 0);
	assert_fails(f, config_check(&f->c, &f->e), -EINVAL, "config.cert",
		     "cert and key go together");
	assert_int_equal(cmdline(f, "rd.kagi.key=/k"), 0);
	assert_int_equal(config_check(&f->c, &f->e), 0);
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_load(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/kagi-test-config.XXXXXX", cmd[64], conf[64], missing[64];
	struct kagi_config c;

	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s/cmdline", dir);
	snprintf(conf, sizeof(conf), "%s/kagi.conf", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	write_text(cmd, "root=/dev/mapper/root rd.kagi.url=https://cmd rd.kagi.timeout=77\n");
	write_text(conf, "url = https://file\nca = /ca\nvolume = " UUID2 "\ntimeout = 5\n");
	assert_int_equal(config_load(cmd, conf, &c, &f->e), 0);
	assert_string_equal(c.urls[0], "https://cmd");
	assert_int_equal(c.nurls, 1);
	assert_int_equal(c.timeout, 77);
	assert_string_equal(c.volumes[0].uuid, UUID2);

	/* an explicitly named kagi.conf must exist; the error names it */
	assert_fails(f, config_load(cmd, missing, &c, &f->e), -ENOENT, "kagi.conf.read", missing);
	assert_fails(f, config_load(missing, conf, &c, &f->e), -ENOENT, "cmdline.read", missing);
	/* a parse error in either source fails the load; the result is then incomplete */
	write_text(cmd, "rd.kagi.timeout=12x\n");
	assert_fails(f, config_load(cmd, conf, &c, &f->e), -EINVAL, "rd.kagi.timeout", "12x");
	write_text(cmd, "quiet\n");
	write_text(conf, "url = https://file\n");
	assert_fails(f, config_load(cmd, conf, &c, &f->e), -EINVAL, "config.ca", "no CA bundle");
	unlink(cmd);
	unlink(conf);
	rmdir(dir);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_config_defaults),
		T(test_cmdline_all_options),
		T(test_cmdline_quoting),
		T(test_cmdline_ignores_other_words),
		T(test_cmdline_url_list),
		T(test_cmdline_last_single_value_wins),
		T(test_cmdline_volume_uppercase),
		T(test_cmdline_bool_forms),
		T(test_cmdline_bad_timeout),
		T(test_cmdline_bad_timeout_range),
		T(test_cmdline_bad_attempt_timeout),
		T(test_cmdline_bad_retries),
		T(test_cmdline_bad_unknown_option),
		T(test_cmdline_bad_bare_prefix),
		T(test_cmdline_bad_missing_value),
		T(test_cmdline_bad_url_scheme),
		T(test_cmdline_bad_url_parts),
		T(test_cmdline_bad_url_list),
		T(test_cmdline_bad_url_length),
		T(test_cmdline_bad_volume),
		T(test_cmdline_bad_volume_name),
		T(test_cmdline_bad_volume_twice),
		T(test_cmdline_bad_volume_count),
		T(test_cmdline_bad_pin),
		T(test_cmdline_bad_pcrs),
		T(test_cmdline_bad_on_failure),
		T(test_cmdline_bad_bool),
		T(test_cmdline_bad_text),
		T(test_cmdline_bad_unterminated_quote),
		T(test_cmdline_bad_nul),
		T(test_cmdline_bad_size),
		T(test_cmdline_bad_word_length),
		T(test_cmdline_bad_count),
		T(test_cmdline_unchanged_on_failure),
		T(test_file_basic),
		T(test_file_bad_value),
		T(test_file_bad_line),
		T(test_file_bad_unknown_option),
		T(test_file_bad_unterminated_quote),
		T(test_file_bad_size),
		T(test_file_bad_line_length),
		T(test_file_bad_count),
		T(test_file_bad_nul),
		T(test_merge_cmdline_wins),
		T(test_check_bad_missing),
		T(test_load),
	};
#undef T
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
