/* sandbox_image.h — the default image under env->image_dir: rootfs/, an
 * empty read-only skeleton (mount points, the host's merged-/usr symlinks,
 * the fontconfig cache) whose /usr /lib* /bin /sbin the spec binds from the
 * host, and etc/, a curated /etc (passwd with the sandbox user, group,
 * hosts, nsswitch.conf, resolv.conf, ld.so.cache, fonts, ssl certs, and
 * Chromium's managed policy file; nothing secret). Built idempotently and
 * swapped in atomically; bh_sandbox_set_dns() points its resolv.conf at a
 * nameserver. Those two public functions take the sandbox env and are
 * declared in sandbox.h; this header holds what the other sandbox modules
 * need (nothing else includes it). */
#ifndef BH_SANDBOX_IMAGE_H
#define BH_SANDBOX_IMAGE_H

/* Host dirs to bind for a rootfs built by bh_sandbox_prepare_image(): the
 * top-level names that are real directories both there and on the host.
 * A NULL-terminated array; free with bh_strv_free(). */
char **bh_sandbox_image_host_dirs(const char *rootfs);

#endif
