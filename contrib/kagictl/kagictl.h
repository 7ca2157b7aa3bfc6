/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kagictl.h: sub-command entry points. Each takes the arguments after its group word
 * (argv[0] is the verb, e.g. "show"), prints its result on stdout and its errors on stderr,
 * and returns the process exit code: 0 valid/ok, 1 rejected (evidence checked and refused),
 * 2 usage or input error (file missing, unparsable input).
 */
#ifndef KAGICTL_H
#define KAGICTL_H

enum {
	KAGICTL_OK = 0,
	KAGICTL_REJECTED = 1,
	KAGICTL_USAGE = 2,
};

int cmd_report(int argc, char **argv);
int cmd_eventlog(int argc, char **argv);
int cmd_quote(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_kek(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_kds(int argc, char **argv);

#endif
