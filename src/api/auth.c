/* auth.c — see auth.h. */
#include "api/auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

int bh_token_equal(const char *presented, const char *expected)
{
    if (!presented || !expected)
        return 0;
    size_t lp = strlen(presented), le = strlen(expected);
    /* run over the expected length whatever was presented */
    unsigned char diff = (unsigned char)(lp != le);
    for (size_t i = 0; i < le; i++) {
        unsigned char c = i < lp ? (unsigned char)presented[i] : 0;
        diff |= c ^ (unsigned char)expected[i];
    }
    return diff == 0;
}

/* ---------------------------------------------------------------- primitives */

void bh_sha256(const void *data, size_t len, unsigned char out[BH_HASH_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != BH_HASH_LEN)
        abort(); /* only fails without memory or a broken libcrypto */
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0)
            return -1;
        if (i % 2)
            out[i / 2] |= (unsigned char)v;
        else
            out[i / 2] = (unsigned char)(v << 4);
    }
    return 0;
}

void bh_sha256_hex(const void *data, size_t len, char out[BH_HASH_HEX])
{
    unsigned char h[BH_HASH_LEN];
    bh_sha256(data, len, h);
    hex(h, sizeof h, out);
}

void bh_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                    unsigned char out[BH_HASH_LEN])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &n) || n != BH_HASH_LEN)
        abort();
}

void bh_base64url(const unsigned char *in, size_t n, char *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
        out[o++] = b64[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
    }
    out[o] = 0;
}

int bh_random_bytes(void *out, size_t n, bh_err_t *err)
{
    if (RAND_bytes(out, (int)n) != 1)
        return bh_err_set(err, EIO, "no random bytes from libcrypto");
    return 0;
}

char *bh_token_generate(bh_err_t *err)
{
    unsigned char r[32];
    if (bh_random_bytes(r, sizeof r, err) < 0)
        return NULL;
    char *t = bh_xmalloc(4 + 44);
    memcpy(t, "bhk_", 4);
    bh_base64url(r, sizeof r, t + 4);
    OPENSSL_cleanse(r, sizeof r);
    return t;
}

void bh_secret_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* ---------------------------------------------------------------- scoped */

#define SCOPED_PREFIX "st2."

enum bh_scope bh_scope_parse(const char *s)
{
    if (s && !strcmp(s, "view"))
        return BH_SCOPE_VIEW;
    if (s && !strcmp(s, "control"))
        return BH_SCOPE_CONTROL;
    if (s && !strcmp(s, "cdp"))
        return BH_SCOPE_CDP;
    return BH_SCOPE_NONE;
}

const char *bh_scope_name(enum bh_scope s)
{
    switch (s) {
    case BH_SCOPE_VIEW:
        return "view";
    case BH_SCOPE_CONTROL:
        return "control";
    case BH_SCOPE_CDP:
        return "cdp";
    default:
        return "none";
    }
}

char *bh_scoped_mint(const unsigned char key[BH_SECRET_LEN], const char *session_id,
                     enum bh_scope scope, int64_t expiry_s)
{
    if (bh_scope_parse(bh_scope_name(scope)) == BH_SCOPE_NONE)
        return NULL;
    char *msg = bh_xasprintf(SCOPED_PREFIX "%s.%s.%lld", session_id, bh_scope_name(scope),
                             (long long)expiry_s);
    unsigned char mac[BH_HASH_LEN];
    bh_hmac_sha256(key, BH_SECRET_LEN, msg, strlen(msg), mac);
    char b64[48];
    bh_base64url(mac, sizeof mac, b64);
    char *t = bh_xasprintf("%s.%s", msg, b64);
    free(msg);
    return t;
}

int bh_scoped_like(const char *token)
{
    return token && !strncmp(token, SCOPED_PREFIX, sizeof SCOPED_PREFIX - 1);
}

enum bh_scope bh_scoped_verify(const unsigned char key[BH_SECRET_LEN], const char *token,
                               const char *session_id, int64_t now_s)
{
    if (!bh_scoped_like(token) || !session_id || !*session_id)
        return BH_SCOPE_NONE;
    /* "st2.<session_id>.<scope>.<expiry>.": the id checked is the one asked
     * for, so a token of another session never matches; scope and expiry
     * are read only to recompute the MAC, which covers both */
    size_t idlen = strlen(session_id);
    const char *p = token + sizeof SCOPED_PREFIX - 1;
    if (strncmp(p, session_id, idlen) != 0 || p[idlen] != '.')
        return BH_SCOPE_NONE;
    p += idlen + 1;
    size_t sl = strcspn(p, ".");
    char sname[16];
    if (!sl || sl >= sizeof sname || p[sl] != '.')
        return BH_SCOPE_NONE;
    memcpy(sname, p, sl);
    sname[sl] = 0;
    enum bh_scope scope = bh_scope_parse(sname);
    if (scope == BH_SCOPE_NONE)
        return BH_SCOPE_NONE;
    p += sl + 1;
    int64_t expiry = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 12; p++, digits++)
        expiry = expiry * 10 + (*p - '0');
    if (!digits || *p != '.')
        return BH_SCOPE_NONE;
    cleanup_free char *expected = bh_scoped_mint(key, session_id, scope, expiry);
    int ok = bh_token_equal(token, expected);
    return ok && expiry > now_s ? scope : BH_SCOPE_NONE;
}

/* ---------------------------------------------------------------- roles */

enum bh_role bh_role_parse(const char *s)
{
    if (s && !strcmp(s, "admin"))
        return BH_ROLE_ADMIN;
    if (s && !strcmp(s, "user"))
        return BH_ROLE_USER;
    return BH_ROLE_NONE;
}

const char *bh_role_name(enum bh_role r)
{
    switch (r) {
    case BH_ROLE_ADMIN:
        return "admin";
    case BH_ROLE_USER:
        return "user";
    case BH_ROLE_SCOPED:
        return "scoped";
    default:
        return "none";
    }
}

int bh_may_access(const struct bh_identity *who, const unsigned char key[BH_SECRET_LEN],
                  const char *session_id, const char *owner, unsigned scopes, int64_t now_s)
{
    switch (who->role) {
    case BH_ROLE_ADMIN:
        return 1;
    case BH_ROLE_USER:
        return owner && !strcmp(owner, who->id);
    case BH_ROLE_SCOPED:
        return (bh_scoped_verify(key, who->scoped, session_id, now_s) & scopes) != 0;
    default:
        return 0;
    }
}

struct key {
    char id[40];
    char name[BH_TOKEN_NAME_MAX + 1];
    enum bh_role role;
    int max_sessions;
    unsigned char hash[BH_HASH_LEN];
};

struct bh_keyring {
    struct key *v;
    int n, cap;
};

bh_keyring_t *bh_keyring_new(void) { return bh_xcalloc(1, sizeof(struct bh_keyring)); }

void bh_keyring_free(bh_keyring_t *k)
{
    if (!k)
        return;
    if (k->v)
        OPENSSL_cleanse(k->v, (size_t)k->cap * sizeof *k->v);
    free(k->v);
    free(k);
}

int bh_keyring_put(bh_keyring_t *k, const char *id, const char *name, enum bh_role role,
                   const char *hash_hex, int max_sessions)
{
    struct key nk;
    memset(&nk, 0, sizeof nk);
    if (unhex(hash_hex, nk.hash, sizeof nk.hash) < 0)
        return -1;
    snprintf(nk.id, sizeof nk.id, "%s", id);
    snprintf(nk.name, sizeof nk.name, "%s", name);
    nk.role = role;
    nk.max_sessions = max_sessions;
    for (int i = 0; i < k->n; i++)
        if (!strcmp(k->v[i].id, id)) {
            k->v[i] = nk;
            return 0;
        }
    if (k->n == k->cap) {
        int cap = k->cap ? k->cap * 2 : 8;
        struct key *nv = bh_xcalloc((size_t)cap, sizeof *nv);
        if (k->n)
            memcpy(nv, k->v, (size_t)k->n * sizeof *nv);
        if (k->v)
            OPENSSL_cleanse(k->v, (size_t)k->cap * sizeof *k->v);
        free(k->v);
        k->v = nv;
        k->cap = cap;
    }
    k->v[k->n++] = nk;
    return 0;
}

int bh_keyring_remove(bh_keyring_t *k, const char *id)
{
    for (int i = 0; i < k->n; i++)
        if (!strcmp(k->v[i].id, id)) {
            k->v[i] = k->v[--k->n];
            OPENSSL_cleanse(&k->v[k->n], sizeof k->v[k->n]);
            return 1;
        }
    return 0;
}

enum bh_role bh_keyring_identify(const bh_keyring_t *k, const char *presented,
                                 struct bh_identity *out)
{
    memset(out, 0, sizeof *out);
    out->role = BH_ROLE_NONE;
    if (!presented || !*presented)
        return BH_ROLE_NONE;
    unsigned char h[BH_HASH_LEN];
    bh_sha256(presented, strlen(presented), h);
    int match = -1;
    /* every hash is compared, and the loop does not stop at a match */
    for (int i = 0; i < k->n; i++) {
        int eq = CRYPTO_memcmp(h, k->v[i].hash, BH_HASH_LEN) == 0;
        match = eq ? i : match;
    }
    OPENSSL_cleanse(h, sizeof h);
    if (match >= 0) {
        const struct key *m = &k->v[match];
        out->role = m->role;
        snprintf(out->id, sizeof out->id, "%s", m->id);
        snprintf(out->name, sizeof out->name, "%s", m->name);
        out->max_sessions = m->max_sessions;
        return out->role;
    }
    if (bh_scoped_like(presented)) {
        out->role = BH_ROLE_SCOPED;
        out->scoped = presented;
    }
    return out->role;
}
