/* auth.h — who a request is: API tokens and their roles, and the short-lived
 * session-scoped tokens put in a session's urls. Owns the cryptography
 * (OpenSSL libcrypto: SHA-256, HMAC-SHA256, random bytes); no other module
 * includes an OpenSSL header.
 *
 * Tokens are kept only as SHA-256 hashes (the keyring, the store). A
 * presented token is hashed and compared with every hash in constant time.
 * Scoped tokens are "st2.<session id>.<scope>.<expiry, epoch s>.<mac>", mac
 * being base64url(HMAC-SHA256(secret, "st2.<session id>.<scope>.<expiry>")):
 * the scope is inside the MACed string, so changing it breaks the MAC, and
 * verifying one needs no state but the secret. The older "st1." tokens (no
 * scope) are not accepted. */
#ifndef BH_AUTH_H
#define BH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "lib/scope.h"
#include "lib/err.h"

#define BH_HASH_LEN 32 /* SHA-256 */
#define BH_HASH_HEX (2 * BH_HASH_LEN + 1)
#define BH_SECRET_LEN 32    /* the HMAC key of scoped tokens */
#define BH_ADMIN_ID "admin" /* id (and name) of the operator's bootstrap token */
#define BH_TOKEN_NAME_MAX 64

/* Constant-time comparison of a presented token with the expected one: its
 * time depends only on the expected length. NULL is never equal. */
int bh_token_equal(const char *presented, const char *expected);

/* SHA-256 of data. */
void bh_sha256(const void *data, size_t len, unsigned char out[BH_HASH_LEN]);
/* SHA-256 as lowercase hex (out: BH_HASH_HEX bytes). */
void bh_sha256_hex(const void *data, size_t len, char out[BH_HASH_HEX]);
/* HMAC-SHA256(key, msg). */
void bh_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                    unsigned char out[BH_HASH_LEN]);
/* base64url without padding of in[n] into out (room for 4*ceil(n/3)+1). */
void bh_base64url(const unsigned char *in, size_t n, char *out);
/* n cryptographically random bytes. */
int bh_random_bytes(void *out, size_t n, bh_err_t *err);
/* A new API token secret: "bhk_" + base64url(32 random bytes). Caller frees
 * (with bh_secret_free). NULL on failure. */
char *bh_token_generate(bh_err_t *err);
/* Wipe and free a string that held a secret. */
void bh_secret_free(char *s);

/* ---------------------------------------------------------------- scoped */

/* "view" | "control" | "cdp" -> scope, else BH_SCOPE_NONE. */
enum bh_scope bh_scope_parse(const char *s);
/* The scope's name ("view", "control", "cdp"), "none" otherwise. */
const char *bh_scope_name(enum bh_scope s);

/* "st2.<session_id>.<scope>.<expiry_s>.<mac>". Caller frees. scope must be
 * one of view, control, cdp (NULL otherwise). */
char *bh_scoped_mint(const unsigned char key[BH_SECRET_LEN], const char *session_id,
                     enum bh_scope scope, int64_t expiry_s);
/* The scope of token if it is a scoped token for session_id signed with key
 * and not expired at now_s; BH_SCOPE_NONE otherwise (wrong session, expired,
 * tampered, an st1 token, not one). */
enum bh_scope bh_scoped_verify(const unsigned char key[BH_SECRET_LEN], const char *token,
                               const char *session_id, int64_t now_s);
/* 1 if token has the shape of a scoped token (says nothing of validity). */
int bh_scoped_like(const char *token);

/* ---------------------------------------------------------------- roles */

enum bh_role {
    BH_ROLE_NONE,   /* no or an unknown credential */
    BH_ROLE_SCOPED, /* a scoped token: one session's endpoints, if valid for it */
    BH_ROLE_USER,   /* its own sessions */
    BH_ROLE_ADMIN,  /* everything */
};

/* "admin" | "user" -> role, else BH_ROLE_NONE. */
enum bh_role bh_role_parse(const char *s);
const char *bh_role_name(enum bh_role r);

struct bh_identity {
    enum bh_role role;
    char id[40]; /* token id ("admin" for the bootstrap token) */
    char name[BH_TOKEN_NAME_MAX + 1];
    int max_sessions;   /* 0: no per-token limit of its own */
    const char *scoped; /* BH_ROLE_SCOPED: the presented token (borrowed) */
};

/* 1 if who may see (and act on, as its role allows) a session owned by
 * owner with id session_id. A scoped identity is checked against key and
 * now_s, and must have one of scopes (the bits of the scopes that open the
 * route); API tokens ignore scopes. */
int bh_may_access(const struct bh_identity *who, const unsigned char key[BH_SECRET_LEN],
                  const char *session_id, const char *owner, unsigned scopes, int64_t now_s);

/* The tokens in force, as hashes. */
typedef struct bh_keyring bh_keyring_t;

bh_keyring_t *bh_keyring_new(void);
void bh_keyring_free(bh_keyring_t *k);
/* Add (or replace, by id) a token given its hash as hex. -1 if the hex is
 * not a SHA-256. */
int bh_keyring_put(bh_keyring_t *k, const char *id, const char *name, enum bh_role role,
                   const char *hash_hex, int max_sessions);
/* Remove token id; 1 if it was there. */
int bh_keyring_remove(bh_keyring_t *k, const char *id);
/* Who presented is: fills *out and returns its role (BH_ROLE_NONE when no
 * token matches; then out->scoped is set if it looks like a scoped token
 * and the role is BH_ROLE_SCOPED). Compares presented's hash with every
 * token's in constant time, so timing tells nothing about which matched. */
enum bh_role bh_keyring_identify(const bh_keyring_t *k, const char *presented,
                                 struct bh_identity *out);

#endif
