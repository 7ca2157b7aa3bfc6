/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unlock.h: the agent's protocol commands.
 *  - `kagi unlock`: attest to the verifier (contrib/verifier/PROTOCOL.md), recover the volume
 *    keys, open the LUKS2 volumes, lock this boot out of attesting again.
 *  - `kagi enroll`: add a random key to a LUKS2 volume and register it with the verifier.
 * Commands take their own argv (argv[0] = the command name) and return the exit status:
 * 0 success, 1 failure (unlock: the configured on-failure action applies), 2 usage or
 * configuration error.
 */
#ifndef KAGI_UNLOCK_H
#define KAGI_UNLOCK_H

int cmd_unlock(int argc, char **argv);
int cmd_enroll(int argc, char **argv);

#endif
