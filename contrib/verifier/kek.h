/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kek.h: the key-encryption key that wraps volume keys in the store.
 *  - "file:/etc/kagi-verifier/kek.bin": 32 random bytes (mode 0600), read into locked memory.
 *  - "pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=kagi;object=kagi-kek;pin-file=/path":
 *    an AES-256 secret key object in a PKCS#11 token (SoftHSM2 in tests, an HSM in production);
 *    wrapping runs inside the token (CKM_AES_GCM), the KEK never leaves it.
 * Wrapped format: version byte 0x01 || iv(12) || ciphertext || tag(16).
 */
#ifndef KAGI_KEK_H
#define KAGI_KEK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "secret.h"

struct kek;

int kek_open(const char *url, struct kek **ret, struct kagi_err *reterr);
void kek_close(struct kek *k);
/* Wrap plain (a secret) with aad; *ret is malloc'd (not secret). */
int kek_wrap(struct kek *k, const struct secret *plain, const uint8_t *aad, size_t aad_len,
	     uint8_t **ret, size_t *ret_len, struct kagi_err *reterr);
int kek_unwrap(struct kek *k, const uint8_t *wrapped, size_t len, const uint8_t *aad,
	       size_t aad_len, struct secret **ret, struct kagi_err *reterr);

#endif
