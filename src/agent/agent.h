/* agent.h — what the agent's files share (src/agent/ only): its byte
 * buffers, its streams, the frames it sends (agent.c), and the workspace's
 * files (agent_files.c). One thread: nothing here is locked. */
#ifndef BH_AGENT_H
#define BH_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OUTQ_MAX (1u << 20) /* bytes waiting for fd 4 before sources pause */
#define MAX_STREAMS 64

struct buf {
    char *p;
    size_t start, len, cap;
};
void ag_buf_add(struct buf *b, const void *d, size_t n);
void ag_buf_drop(struct buf *b, size_t n);
void ag_buf_free(struct buf *b);

enum skind { S_EXEC, S_GET, S_PUT };

struct stream {
    uint32_t id;
    enum skind kind;
    int paused;
    /* exec */
    pid_t pid;
    int out_fd, err_fd, in_fd;
    struct buf inq;
    int in_eof;
    long long max, nout, nerr;
    int truncout, truncerr, timedout, exited, status;
    int64_t started_ms, deadline_ms;
    /* get, put */
    int fd;         /* the file */
    int dir_fd;     /* put: the directory it goes into */
    char name[256]; /* put: its name there */
    long long size;
};

extern struct stream *ag_streams[MAX_STREAMS];
extern struct buf ag_outq; /* frames for fd 4 */
extern int ag_ws_fd;       /* the workspace, O_PATH */

/* agent.c */
void ag_send_frames(int type, uint32_t stream, const void *data, size_t len);
/* A record from "k=v" lines of fmt's result (each '\n' ends one). */
void ag_send_record(int type, uint32_t stream, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ag_send_error(uint32_t stream, int e, const char *what);
const char *ag_rec_get(const char *rec, size_t len, const char *key, int idx);
long long ag_rec_num(const char *rec, size_t len, const char *key, long long def);
struct stream *ag_stream_new(uint32_t id, enum skind kind);
void ag_stream_free(struct stream *s);
void ag_closep(int *fd);

/* agent_files.c */
/* path beneath dirfd (openat2 RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS). */
int ag_resolve(int dirfd, const char *path, int flags, mode_t mode);
/* The directory of path's last component (made with its parents when mk),
 * O_PATH, and that component in name. -1 and errno. */
int ag_parent_of(const char *path, int mk, char *name, size_t name_size);
void ag_do_get(uint32_t id, const char *rec, size_t len);
void ag_do_put(uint32_t id, const char *rec, size_t len);
void ag_put_data(struct stream *s, const char *d, size_t n);
void ag_put_commit(struct stream *s);
void ag_do_del(uint32_t id, const char *rec, size_t len);
/* A piece of a file being read (GET). */
void ag_get_read(struct stream *s);

#endif
