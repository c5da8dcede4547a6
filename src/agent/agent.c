/* agent.c — bulkhead's agent: the process of a shell session, inside its
 * sandbox (at /.bulkhead/agent, static, no library of the host's). It keeps
 * the login shell on a pseudo-terminal, runs commands, and reads and writes
 * files of the workspace, for the daemon, which speaks to it over fds 3 (in)
 * and 4 (out) in the frames of kinds/shell/wire.h.
 *
 * It runs as the session user with no capabilities, like everything in the
 * sandbox: it can do nothing the user could not. What it adds is care:
 *   - paths from the daemon are resolved beneath the workspace with
 *     openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so no symlink, `..'
 *     or magic link leads out of it, whatever the user does meanwhile;
 *   - uploads go to an unnamed file (O_TMPFILE) that is linked into place
 *     only once complete: a full workspace leaves nothing behind;
 *   - a command is its own session and process group, killed whole at its
 *     timeout, at W_KILL, and when its first process ends;
 *   - it reads no more output than the daemon takes (W_PAUSE, and a bound
 *     on what waits to be written to fd 4).
 *
 * One thread, one poll(). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "kinds/shell/wire.h"

#define INQ_MAX (1u << 20) /* stdin bytes held for one command */

void ag_buf_add(struct buf *b, const void *d, size_t n)
{
    if (b->start > 0 && b->start + b->len + n > b->cap) {
        memmove(b->p, b->p + b->start, b->len);
        b->start = 0;
    }
    if (b->start + b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->start + b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->start + b->len, d, n);
    b->len += n;
}

void ag_buf_drop(struct buf *b, size_t n)
{
    b->start += n;
    b->len -= n;
    if (!b->len)
        b->start = 0;
}

void ag_buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

struct stream *ag_streams[MAX_STREAMS];
struct buf ag_outq;
static struct buf inbuf;
int ag_ws_fd = -1; /* the workspace, O_PATH */
static int sig_fd = -1;

/* the terminal */
static int tty_fd = -1;
static pid_t tty_pid;
static int tty_paused;
static struct buf tty_in;
static unsigned short tty_rows = 24, tty_cols = 80;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ frames out */

/* Queue data as frames of type on stream (split at BH_WIRE_DATA). */
void ag_send_frames(int type, uint32_t stream, const void *data, size_t len)
{
    const char *d = data;
    do {
        size_t n = len > BH_WIRE_DATA ? BH_WIRE_DATA : len;
        unsigned char h[BH_WIRE_HDR];
        h[0] = (unsigned char)type;
        bh_wire_put_u32(h + 1, stream);
        bh_wire_put_u32(h + 5, (uint32_t)n);
        ag_buf_add(&ag_outq, h, sizeof h);
        ag_buf_add(&ag_outq, d, n);
        d += n;
        len -= n;
    } while (len > 0);
}

/* A record of key=value pairs, from a printf-like list of "k=v" strings
 * separated by '\n' in fmt's result. */
void ag_send_record(int type, uint32_t stream, const char *fmt, ...)
{
    char rec[BH_WIRE_DATA];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(rec, sizeof rec, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof rec)
        n = sizeof rec - 1;
    for (int i = 0; i < n; i++)
        if (rec[i] == '\n')
            rec[i] = 0;
    ag_send_frames(type, stream, rec, (size_t)n + 1);
}

void ag_send_error(uint32_t stream, int e, const char *what)
{
    ag_send_record(A_ERROR, stream, "errno=%d\nmsg=%s: %s", e, what, strerror(e));
}

/* Write what is queued to fd 4 while it takes it. Frames to the daemon
 * need not be whole in the pipe: a daemon that adopts the session skips to
 * the answer of its HELLO (wire.h). -1: the daemon's end is gone. */
static int flush_out(void)
{
    while (ag_outq.len) {
        ssize_t w = write(4, ag_outq.p + ag_outq.start, ag_outq.len);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return -1;
        }
        ag_buf_drop(&ag_outq, (size_t)w);
    }
    return 0;
}

/* --------------------------------------------------------------- records */

/* The value of key in a record of len bytes (NULL if absent). Several
 * values of one key: the idx'th. */
const char *ag_rec_get(const char *rec, size_t len, const char *key, int idx)
{
    return bh_wire_rec_get(rec, len, key, idx);
}

long long ag_rec_num(const char *rec, size_t len, const char *key, long long def)
{
    const char *v = ag_rec_get(rec, len, key, 0);
    return v ? strtoll(v, NULL, 10) : def;
}

/* -------------------------------------------------------------- ag_streams */

static struct stream **slot_of(uint32_t id)
{
    for (int i = 0; i < MAX_STREAMS; i++)
        if (ag_streams[i] && ag_streams[i]->id == id)
            return &ag_streams[i];
    return NULL;
}

/* Whether s is still a stream (not freed since the poll set was made). */
static int is_stream(const struct stream *s)
{
    for (int i = 0; i < MAX_STREAMS; i++)
        if (ag_streams[i] == s)
            return 1;
    return 0;
}

struct stream *ag_stream_new(uint32_t id, enum skind kind)
{
    if (slot_of(id)) {
        ag_send_error(id, EEXIST, "stream");
        return NULL;
    }
    for (int i = 0; i < MAX_STREAMS; i++)
        if (!ag_streams[i]) {
            struct stream *s = calloc(1, sizeof *s);
            if (!s)
                abort();
            s->id = id;
            s->kind = kind;
            s->out_fd = s->err_fd = s->in_fd = s->fd = s->dir_fd = -1;
            ag_streams[i] = s;
            return s;
        }
    ag_send_error(id, EBUSY, "too many ag_streams");
    return NULL;
}

void ag_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void ag_stream_free(struct stream *s)
{
    struct stream **slot = slot_of(s->id);
    if (slot)
        *slot = NULL;
    if (s->kind == S_EXEC && s->pid > 0 && !s->exited)
        kill(-s->pid, SIGKILL); /* reaped by the SIGCHLD handling */
    ag_closep(&s->out_fd);
    ag_closep(&s->err_fd);
    ag_closep(&s->in_fd);
    ag_closep(&s->fd);
    ag_closep(&s->dir_fd);
    ag_buf_free(&s->inq);
    free(s);
}

/* An exec is done once its process ended and its output was read. */
static void exec_maybe_done(struct stream *s)
{
    if (!s->exited || s->out_fd >= 0 || s->err_fd >= 0)
        return;
    int code = WIFEXITED(s->status) ? WEXITSTATUS(s->status) : -1;
    int sig = WIFSIGNALED(s->status) ? WTERMSIG(s->status) : 0;
    ag_send_record(A_EXIT, s->id,
                   "code=%d\nsignal=%d\ntimedout=%d\ntruncout=%d\ntruncerr=%d\nms=%lld", code, sig,
                   s->timedout, s->truncout, s->truncerr, (long long)(now_ms() - s->started_ms));
    ag_stream_free(s);
}

static const char *const base_env[] = {"HOME=" BH_WORKSPACE,
                                       "USER=user",
                                       "LOGNAME=user",
                                       "SHELL=/bin/bash",
                                       "PATH=/usr/local/bin:/usr/bin:/bin",
                                       "LANG=C.UTF-8",
                                       "TERM=xterm-256color",
                                       NULL};

static void do_exec(uint32_t id, const char *rec, size_t len)
{
    struct stream *s = ag_stream_new(id, S_EXEC);
    if (!s)
        return;
    char *argv[257];
    int argc = 0;
    for (const char *a; argc < 256 && (a = ag_rec_get(rec, len, "arg", argc)); argc++)
        argv[argc] = (char *)a;
    argv[argc] = NULL;
    char *envp[128 + 8];
    int envc = 0;
    for (int i = 0; base_env[i]; i++)
        envp[envc++] = (char *)base_env[i];
    for (const char *e; envc < 128 && (e = ag_rec_get(rec, len, "env", envc - 7)); envc++)
        envp[envc] = (char *)e;
    envp[envc] = NULL;
    const char *cwd = ag_rec_get(rec, len, "cwd", 0);
    const char *dir = ag_rec_get(rec, len, "dir", 0);
    s->max = ag_rec_num(rec, len, "max", 1 << 20);
    long long timeout = ag_rec_num(rec, len, "timeout_ms", 60000);
    int dir_fd = -1;
    if (argc == 0) {
        ag_send_error(id, EINVAL, "no command");
        ag_stream_free(s);
        return;
    }
    if (dir) { /* a workspace directory (tar): resolved here, entered by fd */
        dir_fd = ag_resolve(ag_ws_fd, dir, O_RDONLY | O_DIRECTORY, 0);
        if (dir_fd < 0 && errno == ENOENT && ag_rec_num(rec, len, "mkdir", 0)) {
            char name[256];
            int p = ag_parent_of(dir, 1, name, sizeof name);
            if (p >= 0) {
                if (mkdirat(p, name, 0755) == 0 || errno == EEXIST)
                    dir_fd = ag_resolve(p, name, O_RDONLY | O_DIRECTORY, 0);
                close(p);
            }
        }
        if (dir_fd < 0) {
            ag_send_error(id, errno, dir);
            ag_stream_free(s);
            return;
        }
    }
    int po[2], pe[2], pi[2], px[2];
    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(pi, O_CLOEXEC) < 0 ||
        pipe2(px, O_CLOEXEC) < 0) {
        ag_send_error(id, errno, "pipe");
        ag_closep(&dir_fd);
        ag_stream_free(s);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        setsid();
        dup2(pi[0], 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        int e = 0;
        if (dir_fd >= 0 ? fchdir(dir_fd) < 0 : chdir(cwd ? cwd : BH_WORKSPACE) < 0)
            e = errno;
        if (!e) {
            execvpe(argv[0], argv, envp);
            e = errno;
        }
        (void)!write(px[1], &e, sizeof e);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    close(pi[0]);
    close(px[1]);
    ag_closep(&dir_fd);
    int e = 0;
    ssize_t r = pid < 0 ? -1 : read(px[0], &e, sizeof e);
    close(px[0]);
    if (pid < 0 || r == (ssize_t)sizeof e) {
        if (pid < 0)
            e = errno;
        close(po[0]);
        close(pe[0]);
        close(pi[1]);
        if (pid > 0)
            waitpid(pid, NULL, 0);
        ag_send_error(id, e, cwd && e == ENOENT ? "command or directory" : argv[0]);
        ag_stream_free(s);
        return;
    }
    s->pid = pid;
    s->out_fd = po[0];
    s->err_fd = pe[0];
    s->in_fd = pi[1];
    fcntl(s->in_fd, F_SETFL, O_NONBLOCK);
    s->in_eof = !ag_rec_num(rec, len, "stdin", 0);
    if (s->in_eof)
        ag_closep(&s->in_fd);
    s->started_ms = now_ms();
    s->deadline_ms = s->started_ms + timeout;
}

/* ------------------------------------------------------------- terminal */

static void tty_resize(void)
{
    struct winsize ws = {.ws_row = tty_rows, .ws_col = tty_cols};
    if (tty_fd >= 0)
        ioctl(tty_fd, TIOCSWINSZ, &ws);
}

static void tty_open(void)
{
    if (tty_fd >= 0)
        return;
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
        ag_send_record(A_TTY_EXIT, 0, "code=-1\nsignal=0\nmsg=no pseudo-terminal: %s",
                       strerror(errno));
        ag_closep(&m);
        return;
    }
    char slave[128];
    if (ptsname_r(m, slave, sizeof slave) != 0) {
        close(m);
        return;
    }
    tty_fd = m;
    tty_resize();
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        setsid();
        int s = open(slave, O_RDWR);
        if (s < 0)
            _exit(126);
        ioctl(s, TIOCSCTTY, 0);
        dup2(s, 0);
        dup2(s, 1);
        dup2(s, 2);
        if (s > 2)
            close(s);
        if (chdir(BH_WORKSPACE) < 0)
            (void)!chdir("/");
        char *argv[] = {"-bash", NULL};
        execve("/bin/bash", argv, (char **)base_env);
        _exit(127);
    }
    tty_pid = pid;
    fcntl(tty_fd, F_SETFL, O_NONBLOCK);
}

/* ---------------------------------------------------------- frames in */

static void on_frame(int type, uint32_t id, const char *p, size_t n)
{
    struct stream **slot = slot_of(id);
    struct stream *s = slot ? *slot : NULL;
    switch (type) {
    case W_HELLO:
        for (int i = 0; i < MAX_STREAMS; i++)
            if (ag_streams[i])
                ag_stream_free(ag_streams[i]);
        tty_paused = 0;
        ag_send_frames(A_HELLO, 0, p, n);
        break;
    case W_TTY_OPEN:
    case W_TTY_SIZE: {
        long long r = ag_rec_num(p, n, "rows", tty_rows), c = ag_rec_num(p, n, "cols", tty_cols);
        if (r >= 1 && r <= 1000 && c >= 1 && c <= 1000) {
            tty_rows = (unsigned short)r;
            tty_cols = (unsigned short)c;
        }
        if (type == W_TTY_OPEN)
            tty_open();
        tty_resize();
        break;
    }
    case W_TTY_IN:
        if (tty_fd >= 0 && tty_in.len < INQ_MAX)
            ag_buf_add(&tty_in, p, n);
        break;
    case W_PAUSE:
    case W_RESUME:
        if (id == 0)
            tty_paused = type == W_PAUSE;
        else if (s)
            s->paused = type == W_PAUSE;
        break;
    case W_EXEC:
        do_exec(id, p, n);
        break;
    case W_FILE_GET:
        ag_do_get(id, p, n);
        break;
    case W_FILE_PUT:
        ag_do_put(id, p, n);
        break;
    case W_FILE_DEL:
        ag_do_del(id, p, n);
        break;
    case W_STDIN:
        if (s && s->kind == S_PUT)
            ag_put_data(s, p, n);
        else if (s && s->kind == S_EXEC && s->in_fd >= 0)
            ag_buf_add(&s->inq, p, n);
        break;
    case W_STDIN_EOF:
        if (s && s->kind == S_PUT)
            ag_put_commit(s);
        else if (s && s->kind == S_EXEC) {
            s->in_eof = 1;
            if (!s->inq.len)
                ag_closep(&s->in_fd);
        }
        break;
    case W_KILL:
        if (s) {
            if (s->kind == S_EXEC && s->pid > 0 && !s->exited) {
                kill(-s->pid, SIGKILL);
                ag_closep(&s->in_fd);
            } else { /* a transfer: its file goes (an upload's unnamed one too) */
                ag_send_error(s->id, ECANCELED, "cancelled");
                ag_stream_free(s);
            }
        }
        break;
    default:
        break;
    }
}

static int read_in(void)
{
    char tmp[65536];
    ssize_t r = read(3, tmp, sizeof tmp);
    if (r == 0)
        return -1;
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    ag_buf_add(&inbuf, tmp, (size_t)r);
    while (inbuf.len >= BH_WIRE_HDR) {
        const unsigned char *h = (const unsigned char *)inbuf.p + inbuf.start;
        uint32_t n = bh_wire_get_u32(h + 5);
        if (n > BH_WIRE_DATA)
            return -1; /* not our daemon's frames */
        if (inbuf.len < BH_WIRE_HDR + n)
            break;
        on_frame(h[0], bh_wire_get_u32(h + 1), (const char *)h + BH_WIRE_HDR, n);
        ag_buf_drop(&inbuf, BH_WIRE_HDR + n);
    }
    return 0;
}

/* ----------------------------------------------------------- children */

static void reap(void)
{
    struct signalfd_siginfo si;
    while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
        ;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == tty_pid) {
            tty_pid = 0;
            /* what the shell wrote last is still in the terminal */
            char tmp[BH_WIRE_DATA];
            ssize_t r;
            for (int i = 0; i < 256 && (r = read(tty_fd, tmp, sizeof tmp)) > 0; i++)
                ag_send_frames(A_TTY_OUT, 0, tmp, (size_t)r);
            ag_closep(&tty_fd);
            ag_buf_free(&tty_in);
            ag_send_record(A_TTY_EXIT, 0, "code=%d\nsignal=%d",
                           WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            continue;
        }
        for (int i = 0; i < MAX_STREAMS; i++) {
            struct stream *s = ag_streams[i];
            if (s && s->kind == S_EXEC && s->pid == pid) {
                s->exited = 1;
                s->status = status;
                kill(-pid, SIGKILL); /* what it left in its group goes too */
                ag_closep(&s->in_fd);
                exec_maybe_done(s);
                break;
            }
        }
    }
}

/* Read a command's stdout or stderr into frames (dropped beyond max). */
static void exec_read(struct stream *s, int err)
{
    int *fd = err ? &s->err_fd : &s->out_fd;
    char tmp[BH_WIRE_DATA];
    ssize_t r = read(*fd, tmp, sizeof tmp);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        ag_closep(fd);
        exec_maybe_done(s);
        return;
    }
    long long *have = err ? &s->nerr : &s->nout;
    long long keep = s->max <= 0 ? r : s->max - *have;
    if (keep > r)
        keep = r;
    if (keep < 0)
        keep = 0;
    if (keep > 0)
        ag_send_frames(err ? A_ERR : A_OUT, s->id, tmp, (size_t)keep);
    if (keep < r)
        *(err ? &s->truncerr : &s->truncout) = 1;
    *have += keep;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    signal(SIGPIPE, SIG_IGN);
    /* not dumpable: the session's processes (the same user) cannot open our
     * /proc/PID/fd, the channel's ends among them (the judge's scripts go
     * through it) */
    prctl(PR_SET_DUMPABLE, 0);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    fcntl(4, F_SETFD, FD_CLOEXEC);
    fcntl(3, F_SETFL, O_NONBLOCK);
    fcntl(4, F_SETFL, O_NONBLOCK);
    umask(022);
    ag_ws_fd = open(BH_WORKSPACE, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ag_ws_fd < 0 || sig_fd < 0) {
        fprintf(stderr, "agent: %s: %s\n", BH_WORKSPACE, strerror(errno));
        return 1;
    }
    (void)!chdir(BH_WORKSPACE);
    ag_send_record(A_READY, 0, "version=1");

    for (;;) {
        struct pollfd pf[4 + 3 * MAX_STREAMS];
        struct stream *who[4 + 3 * MAX_STREAMS];
        int what[4 + 3 * MAX_STREAMS];
        int n = 0, room = ag_outq.len < OUTQ_MAX;
        int busy = 0; /* a file is being read: do not sleep */
        int64_t now = now_ms(), next = -1;
        pf[n++] = (struct pollfd){.fd = 3, .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = 4, .events = ag_outq.len ? POLLOUT : 0};
        pf[n++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
        int has_tty = tty_fd >= 0;
        if (has_tty)
            pf[n++] = (struct pollfd){
                .fd = tty_fd,
                .events = (short)((room && !tty_paused ? POLLIN : 0) | (tty_in.len ? POLLOUT : 0))};
        for (int i = 0; i < MAX_STREAMS; i++) {
            struct stream *s = ag_streams[i];
            if (!s)
                continue;
            if (s->kind == S_GET && room && !s->paused)
                busy = 1;
            if (s->kind != S_EXEC)
                continue;
            if (!s->exited && s->deadline_ms <= now) {
                s->timedout = 1;
                kill(-s->pid, SIGKILL);
            } else if (!s->exited && (next < 0 || s->deadline_ms < next)) {
                next = s->deadline_ms;
            }
            if (s->out_fd >= 0 && room && !s->paused) {
                who[n] = s, what[n] = 1;
                pf[n++] = (struct pollfd){.fd = s->out_fd, .events = POLLIN};
            }
            if (s->err_fd >= 0 && room && !s->paused) {
                who[n] = s, what[n] = 2;
                pf[n++] = (struct pollfd){.fd = s->err_fd, .events = POLLIN};
            }
            if (s->in_fd >= 0 && s->inq.len) {
                who[n] = s, what[n] = 3;
                pf[n++] = (struct pollfd){.fd = s->in_fd, .events = POLLOUT};
            }
        }
        int timeout = busy ? 0 : next < 0 ? -1 : (int)(next - now + 1);
        if (poll(pf, (nfds_t)n, timeout) < 0 && errno != EINTR)
            return 1;
        /* fd 3 is read-write at our end: it never ends, a daemon that
         * restarts finds it again; only frames that are not ours end us */
        if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) && read_in() < 0)
            break;
        int i = 3;
        if (has_tty) {
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                char tmp[BH_WIRE_DATA];
                ssize_t r = read(tty_fd, tmp, sizeof tmp);
                if (r > 0)
                    ag_send_frames(A_TTY_OUT, 0, tmp, (size_t)r);
            }
            if ((pf[i].revents & POLLOUT) && tty_fd >= 0 && tty_in.len) {
                ssize_t w = write(tty_fd, tty_in.p + tty_in.start, tty_in.len);
                if (w > 0)
                    ag_buf_drop(&tty_in, (size_t)w);
            }
            i++;
        }
        if (pf[2].revents & POLLIN)
            reap();
        for (; i < n; i++) {
            struct stream *s = who[i];
            if (!pf[i].revents || !is_stream(s))
                continue;
            if (what[i] == 1 && s->out_fd == pf[i].fd)
                exec_read(s, 0);
            else if (what[i] == 2 && s->err_fd == pf[i].fd)
                exec_read(s, 1);
            else if (what[i] == 3 && s->in_fd == pf[i].fd) {
                ssize_t w = write(s->in_fd, s->inq.p + s->inq.start, s->inq.len);
                if (w > 0)
                    ag_buf_drop(&s->inq, (size_t)w);
                else if (w < 0 && errno != EAGAIN && errno != EINTR)
                    ag_closep(&s->in_fd), ag_buf_free(&s->inq);
                if (s->in_eof && !s->inq.len)
                    ag_closep(&s->in_fd);
            }
        }
        /* files are always readable: a good piece of each per round, as far
         * as the queue to the daemon takes it */
        for (int j = 0; j < MAX_STREAMS; j++)
            for (int k = 0; k < 64 && ag_streams[j] && ag_streams[j]->kind == S_GET &&
                            !ag_streams[j]->paused && ag_outq.len < OUTQ_MAX;
                 k++)
                ag_get_read(ag_streams[j]);
        if (flush_out() < 0)
            break;
    }
    /* the daemon is gone: end what runs */
    for (int i = 0; i < MAX_STREAMS; i++)
        if (ag_streams[i])
            ag_stream_free(ag_streams[i]);
    if (tty_pid > 0)
        kill(-tty_pid, SIGHUP);
    return 0;
}
