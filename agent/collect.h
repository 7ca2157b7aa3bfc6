/* SPDX-License-Identifier: Apache-2.0 */
/*
 * collect.h: `kagi collect`, a debugging aid that gathers the evidence a running VM can give
 * (SNP report, SVSM vTPM binding, TPM EK/AK/quote/PCRs, event log) and prints or stores it.
 * Commands take their own argv (argv[0] = the command name) and return the exit status.
 */
#ifndef KAGI_COLLECT_H
#define KAGI_COLLECT_H

int cmd_collect(int argc, char **argv);
/* Hidden test/debug helpers for the TPM (extend a PCR, activate a credential). */
int cmd_tpm_debug(int argc, char **argv);

#endif
