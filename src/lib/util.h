/* util.h — small helpers every module uses: cleanup attributes, files,
 * directories, child processes, random ids, time. Nothing here keeps state. */
#ifndef BH_UTIL_H
#define BH_UTIL_H

#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

static inline void bh_freep(void *p) { free(*(void **)p); }
void bh_closep(int *fd);
#define cleanup_free __attribute__((cleanup(bh_freep)))
#define cleanup_close __attribute__((cleanup(bh_closep)))

static inline void *bh_steal_ptr(void *pp)
{
    void **p = (void **)pp;
    void *v = *p;
    *p = NULL;
    return v;
}
#define steal_pointer(pp) bh_steal_ptr(pp)
static inline int get_and_reset(int *fd)
{
    int v = *fd;
    *fd = -1;
    return v;
}

/* Allocation that never returns NULL (aborts on OOM, like every caller would). */
void *bh_xmalloc(size_t n);
void *bh_xcalloc(size_t n, size_t sz);
void *bh_xrealloc(void *p, size_t n);
char *bh_xstrdup(const char *s);
char *bh_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Free a NULL-terminated array of strings and the array itself (NULL: nothing). */
static inline void bh_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* Milliseconds: wall clock (epoch) and monotonic. */
int64_t bh_now_ms(void);
int64_t bh_mono_ms(void);
/* RFC 3339 UTC with milliseconds, e.g. 2026-11-29T01:02:03.456Z. Caller frees. */
char *bh_time_iso(int64_t epoch_ms);

/* n random bytes as 2n lowercase hex chars into out (size 2n+1). */
int bh_random_hex(char *out, size_t nbytes, bh_err_t *err);

int bh_mkdir_p(const char *path, mode_t mode, bh_err_t *err);
/* Remove a tree; does not cross mount points; missing path is success. */
int bh_rm_rf(const char *path, bh_err_t *err);
/* Write atomically (tmp + rename) with the given mode. */
int bh_write_file(const char *path, const void *data, size_t len, mode_t mode, bh_err_t *err);
/* Read a whole file (NUL-terminated; *len_out without the NUL). Caller frees. */
char *bh_read_file(const char *path, size_t *len_out, bh_err_t *err);

/* Run argv (argv[0] looked up in PATH) with stdin from /dev/null, wait for it.
 * If out != NULL, stdout is captured (caller frees *out). stderr is captured
 * into the error message on failure. Returns the exit status (>= 0) when the
 * program ran, -1 with err set if it could not be run or was killed.
 * With check != 0, a non-zero exit status is also an error (returns -1). */
int bh_run(char *const argv[], char **out, int check, bh_err_t *err);

#endif
