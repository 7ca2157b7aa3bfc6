/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h: the verifier's persistent state: wrapped volume keys and used challenge tokens.
 * Backend: SQLite (one file, WAL, busy timeout). Keys are stored only wrapped by the KEK
 * (kek.h): AES-256-GCM with AAD = "kagi-store-v1\0" || volume uuid. Plain keys exist only in
 * locked memory (struct secret) and never reach the database, logs or errors.
 */
#ifndef KAGI_STORE_H
#define KAGI_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "kek.h"
#include "secret.h"

struct store;

/* "sqlite:/path/to/kagi.db" (or a bare path). Creates the schema if missing. */
int store_open(const char *url, struct kek *kek, struct store **ret, struct kagi_err *reterr);
void store_close(struct store *s);

/* -EEXIST if the volume already has a key (revoked or not). key: 16..64 bytes. */
int store_key_add(struct store *s, const char *uuid, const struct secret *key, const char *label,
		  struct kagi_err *reterr);
/* -ENOENT unknown volume, -EKEYREVOKED revoked; else a new locked secret. */
int store_key_get(struct store *s, const char *uuid, struct secret **ret, struct kagi_err *reterr);
int store_key_revoke(struct store *s, const char *uuid, struct kagi_err *reterr);

struct store_key_info {
	char uuid[37];
	char label[128];
	time_t created;
	bool revoked;
	time_t revoked_at;
};
/* Calls cb for every key (no key material). */
int store_key_list(struct store *s, int (*cb)(const struct store_key_info *info, void *userdata),
		   void *userdata, struct kagi_err *reterr);

/* Record a token id as used; -EALREADY if it was used before. Expired entries are purged. */
int store_token_use(struct store *s, const uint8_t token_id[16], time_t expires,
		    struct kagi_err *reterr);

#endif
