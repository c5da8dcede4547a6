/* sandbox_files.h — files put into a running sandbox from the host (the
 * uploads of a session), written through the container's own root and never
 * through anything the sandbox made. */
#ifndef BH_SANDBOX_FILES_H
#define BH_SANDBOX_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

/* Write len bytes as the file `name` (one path component) in directory
 * `dir` (absolute, inside the container; made 0755 if missing) of the
 * running sandbox whose init is `pid`: a regular file, mode 0644, replacing
 * one of that name, made (with the directory) as owner_uid/owner_gid as the
 * host sees them (0: as root), whose rights apply; the calling thread's
 * filesystem ids are back as they were on return. Paths resolve inside the
 * container's root (the one of `pid`, opened once) and never through a
 * symlink (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS), so nothing the
 * sandbox made can send the write elsewhere. err->status is
 * the errno (EINVAL: bad name; ENOSPC: the sandbox's /tmp is full; ELOOP,
 * ENOTDIR, EISDIR, EEXIST: something of the sandbox is in the way). */
int bh_sandbox_put_file(pid_t pid, uint32_t owner_uid, uint32_t owner_gid, const char *dir,
                        const char *name, const void *data, size_t len, bh_err_t *err);

#endif
