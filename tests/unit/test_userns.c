/* test_userns.c — the host uid ranges of sessions: the check against the
 * host's accounts (on a fake root), and leases taken concurrently by
 * processes, claimed again after a restart, released, listed (in a lease
 * dir of the test's own). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "backend/local/userns.h"
#include "lib/util.h"

#define FIRST 1073741824u
#define SZ BH_USERNS_SIZE

static void put(const char *root, const char *name, const char *text)
{
    cleanup_free char *p = bh_xasprintf("%s/etc/%s", root, name);
    CHECK(bh_write_file(p, text, strlen(text), 0644, NULL) == 0);
}

static void test_check(const char *dir)
{
    cleanup_free char *root = bh_xasprintf("%s/root", dir);
    cleanup_free char *etc = bh_xasprintf("%s/etc", root);
    CHECK(bh_mkdir_p(etc, 0755, NULL) == 0);
    struct bh_userns_config c = {FIRST, 4, NULL};
    bh_err_t e = BH_ERR_INIT;
    /* no files: nothing clashes */
    CHECK(bh_userns_check(&c, root, &e) == 0);
    put(root, "passwd", "root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n");
    put(root, "group", "root:x:0:\nu:x:1000:\n");
    put(root, "subuid", "u:100000:65536\n");
    put(root, "subgid", "u:100000:65536\n");
    CHECK(bh_userns_check(&c, root, &e) == 0);
    /* a uid, a gid, a subuid range inside [first, first + 4 * 65536) */
    put(root, "passwd", "root:x:0:0::/root:/bin/sh\nx:x:1073872000:5::/:/bin/sh\n");
    CHECK(bh_userns_check(&c, root, &e) < 0 && e.errnum == EEXIST && strstr(e.msg, "passwd"));
    bh_err_clear(&e);
    put(root, "passwd", "root:x:0:0::/root:/bin/sh\nx:x:7:1074000000::/:/bin/sh\n");
    CHECK(bh_userns_check(&c, root, &e) < 0 && e.errnum == EEXIST);
    bh_err_clear(&e);
    put(root, "passwd", "root:x:0:0::/root:/bin/sh\n");
    put(root, "group", "g:x:1073741824:\n");
    CHECK(bh_userns_check(&c, root, &e) < 0 && e.errnum == EEXIST && strstr(e.msg, "group"));
    bh_err_clear(&e);
    put(root, "group", "root:x:0:\n");
    put(root, "subuid", "u:1073000000:1000000\n"); /* ends inside range 0 */
    CHECK(bh_userns_check(&c, root, &e) < 0 && e.errnum == EEXIST && strstr(e.msg, "subuid"));
    bh_err_clear(&e);
    put(root, "subuid", "u:100000:65536\n");
    put(root, "subgid", "u:1074003968:65536\n"); /* just past range 3: fine */
    CHECK(bh_userns_check(&c, root, &e) == 0);
    put(root, "subgid", "u:1074003967:65536\n"); /* one id into range 3 */
    CHECK(bh_userns_check(&c, root, &e) < 0 && e.errnum == EEXIST);
    bh_err_clear(&e);
    /* ranges past the last id, below 65536, none */
    struct bh_userns_config fits = {4294967295u - 2 * SZ, 2, NULL}; /* last id 2^32-2 */
    CHECK(bh_userns_check(&fits, NULL, &e) == 0);
    struct bh_userns_config big = {4294967295u - 2 * SZ + 1, 2, NULL};
    CHECK(bh_userns_check(&big, NULL, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);
    struct bh_userns_config low = {1000, 1, NULL};
    CHECK(bh_userns_check(&low, NULL, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);
    struct bh_userns_config none = {FIRST, 0, NULL};
    CHECK(bh_userns_check(&none, NULL, &e) < 0);
    bh_err_clear(&e);
    /* the defaults are free on this host */
    struct bh_userns_config def = {BH_USERNS_FIRST_DEFAULT, BH_USERNS_COUNT_DEFAULT, NULL};
    CHECK(bh_userns_check(&def, NULL, &e) == 0);
    if (e.msg)
        fprintf(stderr, "defaults: %s\n", e.msg);
    bh_err_clear(&e);
}

#define PROCS 8

static void test_leases(const char *dir)
{
    cleanup_free char *leases = bh_xasprintf("%s/leases", dir);
    struct bh_userns_config c = {FIRST, PROCS, leases};
    bh_err_t e = BH_ERR_INIT;

    /* PROCS processes lease at once: all distinct, all in the ranges */
    int pipes[PROCS][2];
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        CHECK(pipe(pipes[i]) == 0);
        pids[i] = fork();
        if (pids[i] == 0) {
            char id[16];
            snprintf(id, sizeof id, "s%d", i);
            uint32_t b = 0;
            int rc = bh_userns_lease(&c, id, &b, NULL);
            if (rc < 0)
                b = 0;
            ssize_t w = write(pipes[i][1], &b, sizeof b);
            _exit(w == sizeof b ? 0 : 1);
        }
        close(pipes[i][1]);
    }
    uint32_t got[PROCS];
    for (int i = 0; i < PROCS; i++) {
        CHECK(read(pipes[i][0], &got[i], sizeof got[i]) == sizeof got[i]);
        close(pipes[i][0]);
        int st;
        waitpid(pids[i], &st, 0);
        CHECK(got[i] >= FIRST && got[i] < FIRST + PROCS * SZ && (got[i] - FIRST) % SZ == 0);
        for (int k = 0; k < i; k++)
            CHECK(got[k] != got[i]);
    }
    /* all taken: the next one waits for a release */
    uint32_t b = 0;
    CHECK(bh_userns_lease(&c, "late", &b, &e) < 0 && e.errnum == EAGAIN);
    bh_err_clear(&e);
    /* one id, one range */
    CHECK(bh_userns_lease(&c, "s3", &b, &e) < 0 && e.errnum == EEXIST);
    bh_err_clear(&e);
    char **ids = NULL;
    CHECK(bh_userns_list(&c, &ids, &e) == PROCS);
    for (int i = 0; ids && ids[i]; i++)
        free(ids[i]);
    free(ids);

    /* released: its range is the next one leased */
    CHECK(bh_userns_release(&c, "s3", &e) == 0);
    CHECK(bh_userns_release(&c, "s3", &e) == 0); /* idempotent */
    CHECK(bh_userns_lease(&c, "late", &b, &e) == 0 && b == got[3]);

    /* claim after a restart: its own range is fine, another's is not,
     * a free one is taken again, a range not of this config is refused */
    CHECK(bh_userns_claim(&c, "late", got[3], &e) == 0);
    CHECK(bh_userns_claim(&c, "late", got[0], &e) < 0 && e.errnum == EBUSY);
    bh_err_clear(&e);
    CHECK(bh_userns_release(&c, "s5", &e) == 0);
    CHECK(bh_userns_claim(&c, "s5", got[5], &e) == 0);
    CHECK(bh_userns_claim(&c, "x", FIRST + 1, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);
    CHECK(bh_userns_claim(&c, "x", FIRST + PROCS * SZ, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);
    CHECK(bh_userns_lease(&c, "../x", &b, &e) < 0 && e.errnum == EINVAL);
    bh_err_clear(&e);

    /* release all: nothing left */
    for (int i = 0; i < PROCS; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        CHECK(bh_userns_release(&c, id, &e) == 0);
    }
    CHECK(bh_userns_release(&c, "late", &e) == 0);
    CHECK(bh_userns_list(&c, &ids, &e) == 0);
    free(ids);
}

int main(void)
{
    char dir[] = "/tmp/bh-test-userns-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_check(dir);
    test_leases(dir);
    bh_rm_rf(dir, NULL);
    return T_DONE();
}
