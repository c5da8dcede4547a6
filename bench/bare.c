/* bare.c — the benchmark's baseline: the same Chromium in the same OCI
 * bundle, started by a bare `runc run` (no daemon, no network setup), timed
 * until it answers Browser.getVersion over the pipe. Prints one line per run:
 * milliseconds. usage: bare STATE_DIR RUN_DIR RUNS */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kinds/browser/browser.h"
#include "backend/local/sandbox.h"
#include "kinds/browser/kind.h"
#include "lib/util.h"

static int one(const struct bh_sandbox_env *env, const char *image, int i, double *ms)
{
    char id[40];
    snprintf(id, sizeof id, "bench%08x%04d", (unsigned)getpid(), i);
    int pin[2], pout[2], plog[2];
    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(plog, O_CLOEXEC))
        return -1;
    struct bh_browser_cmd cmd;
    bh_browser_cmd_init(&cmd, "/usr/lib/chromium/chromium", 1280, 720, NULL);
    char *rootfs = bh_xasprintf("%s/rootfs", image), *etc = bh_xasprintf("%s/etc", image);
    char *cg = bh_xasprintf("bulkhead/%s", id);
    struct bh_spec_params p = {
        .id = id,
        .rootfs = rootfs,
        .etc_dir = etc,
        .netns_path = NULL,
        .cgroups_path = cg,
        .argv = cmd.argv,
        .env = cmd.env,
        .uid = 1000,
        .gid = 1000,
        .memory_bytes = 1ull << 30,
        .pids_max = 512,
        .cpu_period_us = 100000,
        /* as many CPUs as the daemon's sessions get in the benchmark */
        .cpu_quota_us = 100000 * (uint64_t)sysconf(_SC_NPROCESSORS_ONLN),
        .tmp_bytes = 256ull << 20,
        .shm_bytes = 256ull << 20,
    };
    struct bh_sandbox sb;
    bh_err_t err = BH_ERR_INIT;
    int64_t t0 = bh_mono_ms();
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    (void)t0;
    int rc = bh_sandbox_start(env, &p, pin[0], pout[1], plog[1], &sb, &err);
    close(pin[0]);
    close(pout[1]);
    close(plog[1]);
    if (rc < 0) {
        fprintf(stderr, "bare: %s\n", bh_err_msg(&err));
        return -1;
    }
    static const char msg[] = "{\"id\":1,\"method\":\"Browser.getVersion\"}";
    if (write(pin[1], msg, sizeof msg) != sizeof msg) /* with the NUL */
        rc = -1;
    char buf[65536];
    size_t len = 0;
    while (rc == 0) {
        struct pollfd pf[2] = {{pout[0], POLLIN, 0}, {plog[0], POLLIN, 0}};
        if (poll(pf, 2, 30000) <= 0) {
            rc = -1;
            break;
        }
        if (pf[1].revents & POLLIN) {
            char junk[4096];
            if (read(plog[0], junk, sizeof junk) < 0)
                (void)0;
        }
        if (pf[0].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read(pout[0], buf + len, sizeof buf - len - 1);
            if (n <= 0) {
                rc = -1;
                break;
            }
            len += (size_t)n;
            if (memchr(buf, 0, len))
                break;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    *ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    buf[len] = 0;
    if (rc == 0 && !strstr(buf, "product"))
        rc = -1;
    bh_sandbox_destroy(env, sb.id, NULL);
    close(pin[1]);
    close(pout[0]);
    close(plog[0]);
    bh_browser_cmd_free(&cmd);
    free(rootfs);
    free(etc);
    free(cg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bare STATE_DIR RUN_DIR RUNS\n");
        return 2;
    }
    char *root = bh_xasprintf("%s/runc", argv[2]);
    char *bundles = bh_xasprintf("%s/bundles", argv[1]);
    char *image = bh_xasprintf("%s/image", argv[1]);
    static const struct bh_kind_file *etc_files[2];
    etc_files[0] = bh_kind_browser.etc_files;
    struct bh_sandbox_env env = {.runtime = BH_RUNTIME_RUNC,
                                 .runtime_root = root,
                                 .bundles_dir = bundles,
                                 .image_dir = image,
                                 .etc_copy = bh_kind_browser.etc_copy,
                                 .etc_files = etc_files};
    bh_err_t err = BH_ERR_INIT;
    if (bh_mkdir_p(root, 0700, &err) < 0 || bh_mkdir_p(bundles, 0700, &err) < 0 ||
        bh_sandbox_prepare_image(&env, &err) < 0) {
        fprintf(stderr, "bare: %s\n", bh_err_msg(&err));
        return 1;
    }
    int runs = atoi(argv[3]);
    for (int i = 0; i < runs; i++) {
        double ms;
        if (one(&env, image, i, &ms) < 0) {
            fprintf(stderr, "bare: run %d failed\n", i);
            return 1;
        }
        printf("%.1f\n", ms);
        fflush(stdout);
    }
    return 0;
}
