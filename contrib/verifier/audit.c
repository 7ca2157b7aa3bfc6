// SPDX-License-Identifier: Apache-2.0
/* audit.c: append-only JSON-lines decision log (see audit.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "util.h"

struct audit {
	int fd;
	char *path;
};

const char *audit_decision_name(enum audit_decision d)
{
	switch (d) {
	case AUDIT_GRANTED:
		return "granted";
	case AUDIT_REFUSED:
		return "refused";
	case AUDIT_ERROR:
		break;
	}
	return "error";
}

void audit_record_add_reason(struct audit_record *rec, const char *code)
{
	if (rec->nreasons >= PROTO_MAX_REASONS)
		return;
	snprintf(rec->reasons[rec->nreasons], sizeof(rec->reasons[0]), "%s", code);
	rec->nreasons++;
}

int audit_open(const char *path, struct audit **ret, struct kagi_err *reterr)
{
	struct audit *a;
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return kagi_err_set(reterr, -errno, "audit.open", KAGI_ERR_NO_OFFSET,
				    "cannot open the audit log '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))) {
		close(fd);
		return kagi_err_set(reterr, -EINVAL, "audit.open", KAGI_ERR_NO_OFFSET,
				    "the audit log '%s' is not a regular file", path);
	}
	a = calloc(1, sizeof(*a));
	if (!a || !(a->path = strdup(path))) {
		free(a);
		close(fd);
		return kagi_err_set(reterr, -ENOMEM, "audit.open", KAGI_ERR_NO_OFFSET,
				    "out of memory");
	}
	a->fd = fd;
	*ret = a;
	return 0;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	free(a->path);
	free(a);
}

static int add_str(json_object *o, const char *key, const char *v)
{
	json_object *s = json_object_new_string(v ? v : "");

	if (!s)
		return -ENOMEM;
	if (json_object_object_add(o, key, s) < 0) {
		json_object_put(s);
		return -ENOMEM;
	}
	return 0;
}

static int add_list(json_object *o, const char *key, const char *base, size_t stride, size_t n)
{
	json_object *a = json_object_new_array();

	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_new_string(base + i * stride);

		if (!s || json_object_array_add(a, s) < 0) {
			json_object_put(s);
			json_object_put(a);
			return -ENOMEM;
		}
	}
	if (json_object_object_add(o, key, a) < 0) {
		json_object_put(a);
		return -ENOMEM;
	}
	return 0;
}

int audit_record_format(const struct audit_record *rec, char **ret)
{
	json_object *o = json_object_new_object();
	char when[32];
	struct tm tm;
	time_t t = rec->time ? rec->time : time(NULL);
	const char *text;
	char *out;
	int r = -ENOMEM;

	if (!o)
		return -ENOMEM;
	if (!gmtime_r(&t, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "@%lld", (long long)t);
	if (add_str(o, "time", when) < 0 || add_str(o, "peer", rec->peer) < 0 ||
	    add_str(o, "client_cert_sha256", rec->client_cert_sha256) < 0 ||
	    add_str(o, "route", rec->route) < 0 ||
	    add_str(o, "decision", audit_decision_name(rec->decision)) < 0 ||
	    add_list(o, "reasons", rec->reasons[0], sizeof(rec->reasons[0]),
		     rec->nreasons > PROTO_MAX_REASONS ? PROTO_MAX_REASONS : rec->nreasons) < 0 ||
	    add_list(o, "volumes", rec->volumes[0], sizeof(rec->volumes[0]),
		     rec->nvolumes > PROTO_MAX_VOLUMES ? PROTO_MAX_VOLUMES : rec->nvolumes) < 0 ||
	    add_str(o, "group", rec->group) < 0 ||
	    add_str(o, "measurement", rec->measurement) < 0 ||
	    add_str(o, "chip_id", rec->chip_id) < 0 || add_str(o, "report_id", rec->report_id) < 0)
		goto out;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		goto out;
	out = strdup(text);
	if (!out)
		goto out;
	*ret = out;
	r = 0;
out:
	json_object_put(o);
	return r;
}

int audit_write(struct audit *a, const struct audit_record *rec, struct kagi_err *reterr)
{
	_cleanup_free_ char *line = NULL;
	size_t len;
	int r;

	if (!a)
		return kagi_err_set(reterr, -EBADF, "audit.write", KAGI_ERR_NO_OFFSET,
				    "no audit log");
	r = audit_record_format(rec, &line);
	if (r < 0)
		return kagi_err_set(reterr, r, "audit.write", KAGI_ERR_NO_OFFSET,
				    "cannot format the audit record");
	len = strlen(line);
	line[len] = '\n'; /* replaces the NUL; written with its length */
	r = write_all(a->fd, line, len + 1);
	if (r < 0)
		return kagi_err_set(reterr, r, "audit.write", KAGI_ERR_NO_OFFSET,
				    "cannot write to the audit log '%s': %s", a->path,
				    strerror(-r));
	if (fsync(a->fd) < 0 && errno != EINVAL)
		return kagi_err_set(reterr, -errno, "audit.fsync", KAGI_ERR_NO_OFFSET,
				    "cannot fsync the audit log '%s': %s", a->path,
				    strerror(errno));
	return 0;
}
