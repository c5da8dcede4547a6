/* test_auth.c — the auth module: SHA-256 and HMAC-SHA256 give the published
 * test vectors, tokens compare in constant time (whatever the lengths),
 * session tokens verify only for their session, until their expiry, and
 * not once altered; the keyring tells roles apart by hash and drops revoked
 * tokens; roles reach only what they may. */
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "t.h"
#include "lib/util.h"

static const unsigned char KEY[BH_SECRET_LEN] = "0123456789abcdef0123456789abcde";
#define SID "6ba7b886e09728630b019611f200e4c9"
#define SID2 "7ba7b886e09728630b019611f200e4c9"

static void test_vectors(void)
{
    char hex[BH_HASH_HEX];
    /* FIPS 180-2, "abc" and "" */
    bh_sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    bh_sha256_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    /* RFC 4231 test case 2 */
    unsigned char mac[BH_HASH_LEN];
    const char *msg = "what do ya want for nothing?";
    bh_hmac_sha256("Jefe", 4, msg, strlen(msg), mac);
    static const unsigned char want[BH_HASH_LEN] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                                    0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                                                    0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
                                                    0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    CHECK(memcmp(mac, want, sizeof want) == 0);

    /* base64url: RFC 4648 vectors, URL alphabet, no padding */
    char b[16];
    bh_base64url((const unsigned char *)"f", 1, b);
    CHECK_STR(b, "Zg");
    bh_base64url((const unsigned char *)"fo", 2, b);
    CHECK_STR(b, "Zm8");
    bh_base64url((const unsigned char *)"foo", 3, b);
    CHECK_STR(b, "Zm9v");
    bh_base64url((const unsigned char *)"\xfb\xff", 2, b);
    CHECK_STR(b, "-_8");
}

static void test_equal(void)
{
    CHECK(bh_token_equal("abcdef0123456789", "abcdef0123456789"));
    /* shorter, longer, a prefix, an extension, a NUL-padded match: never */
    CHECK(!bh_token_equal("abcdef012345678", "abcdef0123456789"));
    CHECK(!bh_token_equal("abcdef01234567890", "abcdef0123456789"));
    CHECK(!bh_token_equal("a", "abcdef0123456789"));
    CHECK(!bh_token_equal("abcdef0123456789abcdef0123456789", "abcdef0123456789"));
    CHECK(!bh_token_equal("bbcdef0123456789", "abcdef0123456789"));
    CHECK(!bh_token_equal("abcdef0123456788", "abcdef0123456789"));
    CHECK(!bh_token_equal("", "abcdef0123456789"));
    CHECK(!bh_token_equal("abc", ""));
    CHECK(bh_token_equal("", ""));
    CHECK(!bh_token_equal(NULL, "abcdef0123456789"));
    CHECK(!bh_token_equal("abcdef0123456789", NULL));
}

static void test_generate(void)
{
    bh_err_t err = BH_ERR_INIT;
    char *a = bh_token_generate(&err), *b = bh_token_generate(&err);
    CHECK(a && b);
    if (a && b) {
        CHECK(strlen(a) == 4 + 43 && !strncmp(a, "bhk_", 4));
        CHECK(strspn(a + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              43);
        CHECK(strcmp(a, b) != 0);
        CHECK(!bh_scoped_like(a));
    }
    bh_secret_free(a);
    bh_secret_free(b);
}

static void test_scoped(void)
{
    int64_t now = 1800000000;
    char *t = bh_scoped_mint(KEY, SID, BH_SCOPE_VIEW, now + 60);
    CHECK(bh_scoped_like(t));
    CHECK(!strncmp(t, "st2." SID ".view.1800000060.", strlen("st2." SID ".view.1800000060.")));
    CHECK(strlen(t) == strlen("st2." SID ".view.1800000060.") + 43);
    /* good for its session until its expiry, with its scope */
    CHECK(bh_scoped_verify(KEY, t, SID, now) == BH_SCOPE_VIEW);
    CHECK(bh_scoped_verify(KEY, t, SID, now + 59) == BH_SCOPE_VIEW);
    CHECK(!bh_scoped_verify(KEY, t, SID, now + 60));
    CHECK(!bh_scoped_verify(KEY, t, SID, now + 100000));
    /* not for another session, not under another key */
    CHECK(!bh_scoped_verify(KEY, t, SID2, now));
    unsigned char key2[BH_SECRET_LEN];
    memcpy(key2, KEY, sizeof key2);
    key2[0] ^= 1;
    CHECK(!bh_scoped_verify(key2, t, SID, now));
    /* every single-character change is refused */
    size_t n = strlen(t);
    int refused = 0;
    for (size_t i = 0; i < n; i++) {
        char *u = bh_xstrdup(t);
        u[i] = u[i] == 'A' ? 'B' : 'A';
        refused += !bh_scoped_verify(KEY, u, SID, now);
        free(u);
    }
    CHECK(refused == (int)n);
    /* another scope with the old mac, a later expiry with the old mac,
     * truncation, extension, junk */
    const char *mac = strrchr(t, '.') + 1;
    static const char *const others[] = {"control", "cdp", "admin", "", "view2"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char *u = bh_xasprintf("st2." SID ".%s.1800000060.%s", others[i], mac);
        CHECK(!bh_scoped_verify(KEY, u, SID, now));
        free(u);
    }
    char *later = bh_xasprintf("st2." SID ".view.1800009999.%s", mac);
    CHECK(!bh_scoped_verify(KEY, later, SID, now));
    free(later);
    char *cut = bh_xstrdup(t);
    cut[n - 1] = 0;
    CHECK(!bh_scoped_verify(KEY, cut, SID, now));
    free(cut);
    char *ext = bh_xasprintf("%sA", t);
    CHECK(!bh_scoped_verify(KEY, ext, SID, now));
    free(ext);
    CHECK(!bh_scoped_verify(KEY, "st2.", SID, now));
    CHECK(!bh_scoped_verify(KEY, "st2." SID "..", SID, now));
    CHECK(!bh_scoped_verify(KEY, "st2." SID ".view..", SID, now));
    CHECK(!bh_scoped_verify(KEY, "", SID, now));
    CHECK(!bh_scoped_verify(KEY, NULL, SID, now));
    CHECK(!bh_scoped_verify(KEY, t, "", now));
    /* an st1 token (no scope), correctly signed the old way, is refused */
    {
        char *msg = bh_xasprintf("st1." SID ".1800000060");
        unsigned char m[BH_HASH_LEN];
        bh_hmac_sha256(KEY, BH_SECRET_LEN, msg, strlen(msg), m);
        char b64[48];
        bh_base64url(m, sizeof m, b64);
        char *old = bh_xasprintf("%s.%s", msg, b64);
        CHECK(!bh_scoped_like(old));
        CHECK(!bh_scoped_verify(KEY, old, SID, now));
        free(old);
        free(msg);
    }
    /* a token of another session, renamed, is still refused */
    char *other = bh_scoped_mint(KEY, SID2, BH_SCOPE_VIEW, now + 60);
    CHECK(!bh_scoped_verify(KEY, other, SID, now));
    other[4] = '6'; /* SID2 -> SID, mac unchanged */
    CHECK(!bh_scoped_verify(KEY, other, SID, now));
    free(other);
    /* minting is a pure function: the same inputs give the same token */
    char *again = bh_scoped_mint(KEY, SID, BH_SCOPE_VIEW, now + 60);
    CHECK_STR(again, t);
    free(again);
    /* each scope verifies as itself; no other scope can be minted */
    static const enum bh_scope all[] = {BH_SCOPE_VIEW, BH_SCOPE_CONTROL, BH_SCOPE_CDP};
    for (size_t i = 0; i < 3; i++) {
        char *u = bh_scoped_mint(KEY, SID, all[i], now + 60);
        CHECK(bh_scoped_verify(KEY, u, SID, now) == all[i]);
        CHECK(bh_scope_parse(bh_scope_name(all[i])) == all[i]);
        free(u);
    }
    CHECK(bh_scoped_mint(KEY, SID, BH_SCOPE_NONE, now + 60) == NULL);
    CHECK(bh_scoped_mint(KEY, SID, BH_SCOPE_VIEW | BH_SCOPE_CDP, now + 60) == NULL);
    CHECK(bh_scope_parse("View") == BH_SCOPE_NONE);
    CHECK(bh_scope_parse(NULL) == BH_SCOPE_NONE);
    free(t);
}

static void test_keyring(void)
{
    char ha[BH_HASH_HEX], hu[BH_HASH_HEX], hv[BH_HASH_HEX];
    const char *admin = "the-operators-admin-token", *alice = "bhk_alice-secret-token-0000000",
               *bob = "bhk_bob-secret-token-000000000";
    bh_sha256_hex(admin, strlen(admin), ha);
    bh_sha256_hex(alice, strlen(alice), hu);
    bh_sha256_hex(bob, strlen(bob), hv);
    bh_keyring_t *k = bh_keyring_new();
    CHECK(bh_keyring_put(k, BH_ADMIN_ID, BH_ADMIN_ID, BH_ROLE_ADMIN, ha, 0) == 0);
    CHECK(bh_keyring_put(k, "aaaaaaaaaaaaaaaa", "alice", BH_ROLE_USER, hu, 2) == 0);
    CHECK(bh_keyring_put(k, "bbbbbbbbbbbbbbbb", "bob", BH_ROLE_USER, hv, 0) == 0);
    CHECK(bh_keyring_put(k, "x", "x", BH_ROLE_USER, "not-a-hash", 0) < 0);
    CHECK(bh_keyring_put(k, "x", "x", BH_ROLE_USER, "abcd", 0) < 0);

    struct bh_identity who;
    CHECK(bh_keyring_identify(k, admin, &who) == BH_ROLE_ADMIN);
    CHECK_STR(who.id, BH_ADMIN_ID);
    CHECK(bh_keyring_identify(k, alice, &who) == BH_ROLE_USER);
    CHECK_STR(who.id, "aaaaaaaaaaaaaaaa");
    CHECK_STR(who.name, "alice");
    CHECK(who.max_sessions == 2);
    CHECK(bh_keyring_identify(k, bob, &who) == BH_ROLE_USER);
    CHECK_STR(who.name, "bob");
    /* the hash is not the token, nor is a near miss */
    CHECK(bh_keyring_identify(k, ha, &who) == BH_ROLE_NONE);
    CHECK(bh_keyring_identify(k, "the-operators-admin-toke", &who) == BH_ROLE_NONE);
    CHECK(bh_keyring_identify(k, "the-operators-admin-tokenx", &who) == BH_ROLE_NONE);
    CHECK(bh_keyring_identify(k, "", &who) == BH_ROLE_NONE);
    CHECK(bh_keyring_identify(k, NULL, &who) == BH_ROLE_NONE);
    /* a session token is recognised by shape (verified per session later) */
    char *st = bh_scoped_mint(KEY, SID, BH_SCOPE_CDP, 4000000000LL);
    CHECK(bh_keyring_identify(k, st, &who) == BH_ROLE_SCOPED);
    CHECK(who.scoped == st);
    /* replace keeps one entry; remove revokes */
    CHECK(bh_keyring_put(k, "aaaaaaaaaaaaaaaa", "alice", BH_ROLE_ADMIN, hu, 0) == 0);
    CHECK(bh_keyring_identify(k, alice, &who) == BH_ROLE_ADMIN);
    CHECK(bh_keyring_remove(k, "aaaaaaaaaaaaaaaa") == 1);
    CHECK(bh_keyring_remove(k, "aaaaaaaaaaaaaaaa") == 0);
    CHECK(bh_keyring_identify(k, alice, &who) == BH_ROLE_NONE);
    CHECK(bh_keyring_identify(k, bob, &who) == BH_ROLE_USER);
    CHECK(bh_keyring_identify(k, admin, &who) == BH_ROLE_ADMIN);
    /* many tokens: each still found */
    for (int i = 0; i < 40; i++) {
        char id[20], tok[40], h[BH_HASH_HEX];
        snprintf(id, sizeof id, "t%02d", i);
        snprintf(tok, sizeof tok, "token-number-%02d-xxxxxxxx", i);
        bh_sha256_hex(tok, strlen(tok), h);
        bh_keyring_put(k, id, id, BH_ROLE_USER, h, 0);
    }
    CHECK(bh_keyring_identify(k, "token-number-37-xxxxxxxx", &who) == BH_ROLE_USER);
    CHECK_STR(who.id, "t37");
    CHECK(bh_keyring_identify(k, bob, &who) == BH_ROLE_USER);
    CHECK_STR(who.id, "bbbbbbbbbbbbbbbb");
    free(st);
    bh_keyring_free(k);
}

static void test_roles(void)
{
    const unsigned ALL = BH_SCOPE_VIEW | BH_SCOPE_CONTROL | BH_SCOPE_CDP;
    int64_t now = 1800000000;
    struct bh_identity admin = {.role = BH_ROLE_ADMIN, .id = BH_ADMIN_ID};
    struct bh_identity alice = {.role = BH_ROLE_USER, .id = "aaaaaaaaaaaaaaaa"};
    struct bh_identity nobody = {.role = BH_ROLE_NONE};
    CHECK(bh_may_access(&admin, KEY, SID, "aaaaaaaaaaaaaaaa", ALL, now));
    CHECK(bh_may_access(&admin, KEY, SID, BH_ADMIN_ID, ALL, now));
    CHECK(bh_may_access(&alice, KEY, SID, "aaaaaaaaaaaaaaaa", ALL, now));
    CHECK(!bh_may_access(&alice, KEY, SID, "bbbbbbbbbbbbbbbb", ALL, now));
    CHECK(!bh_may_access(&alice, KEY, SID, BH_ADMIN_ID, ALL, now));
    CHECK(!bh_may_access(&alice, KEY, SID, NULL, ALL, now));
    CHECK(!bh_may_access(&nobody, KEY, SID, "aaaaaaaaaaaaaaaa", ALL, now));
    char *t = bh_scoped_mint(KEY, SID, BH_SCOPE_VIEW, now + 10);
    struct bh_identity scoped = {.role = BH_ROLE_SCOPED, .scoped = t};
    /* a scoped token opens only routes of its scope; API tokens ignore it */
    CHECK(bh_may_access(&scoped, KEY, SID, "whoever", BH_SCOPE_VIEW | BH_SCOPE_CONTROL, now));
    CHECK(!bh_may_access(&scoped, KEY, SID, "whoever", BH_SCOPE_CDP, now));
    CHECK(!bh_may_access(&scoped, KEY, SID, "whoever", BH_SCOPE_CONTROL, now));
    CHECK(!bh_may_access(&scoped, KEY, SID, "whoever", BH_SCOPE_NONE, now));
    CHECK(bh_may_access(&admin, KEY, SID, "whoever", BH_SCOPE_NONE, now));
    CHECK(bh_may_access(&alice, KEY, SID, "aaaaaaaaaaaaaaaa", BH_SCOPE_NONE, now));
    CHECK(bh_may_access(&scoped, KEY, SID, "whoever", ALL, now));
    CHECK(!bh_may_access(&scoped, KEY, SID2, "whoever", ALL, now));
    CHECK(!bh_may_access(&scoped, KEY, SID, "whoever", ALL, now + 10));
    free(t);
    CHECK(bh_role_parse("admin") == BH_ROLE_ADMIN);
    CHECK(bh_role_parse("user") == BH_ROLE_USER);
    CHECK(bh_role_parse("scoped") == BH_ROLE_NONE);
    CHECK(bh_role_parse("Admin") == BH_ROLE_NONE);
    CHECK(bh_role_parse(NULL) == BH_ROLE_NONE);
    CHECK_STR(bh_role_name(BH_ROLE_USER), "user");
}

int main(void)
{
    test_vectors();
    test_equal();
    test_generate();
    test_scoped();
    test_keyring();
    test_roles();
    return T_DONE();
}
