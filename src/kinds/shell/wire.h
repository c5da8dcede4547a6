/* wire.h — the frames the shell kind (kinds/shell/) and the agent in the
 * sandbox (src/agent/) exchange over the session's channel (the daemon
 * writes the agent's fd 3 and reads its fd 4). Both sides include it; it
 * is plain data, no code.
 *
 * A frame is a 9-byte header, then its payload:
 *   u8 type, u32 stream (big-endian), u32 payload length (big-endian).
 * A whole frame is at most BH_WIRE_MAX bytes. The daemon writes each frame
 * with one write(): the pipe to the agent never holds part of a frame of a
 * daemon that died. The agent writes many frames at once; a daemon that
 * adopts a running session skips what it finds up to the answer to its
 * HELLO (see W_HELLO), and reads whole frames from there.
 *
 * Stream 0 is the terminal. Every exec, file transfer, listing or removal
 * is a stream of its own, numbered by the daemon (1, 2, ...), answered by
 * frames of the same number and finished by one A_EXIT or A_ERROR.
 *
 * Records: several "key=value" strings, each ended by a NUL (values hold
 * no NUL). Numbers are decimal. */
#ifndef BH_SHELL_WIRE_H
#define BH_SHELL_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BH_WIRE_HDR 9
#define BH_WIRE_MAX 4096 /* PIPE_BUF: one write() is atomic */
#define BH_WIRE_DATA (BH_WIRE_MAX - BH_WIRE_HDR)

/* Where every backend puts the agent in a sandbox. */
#define BH_AGENT_PATH "/.bulkhead/agent"
/* The workspace, the session user's home. */
#define BH_WORKSPACE "/home/user"

enum bh_wire_type {
    /* daemon → agent */
    W_HELLO = 1, /* payload: a nonce; the agent answers A_HELLO with it and
                  * ends every stream but the terminal (a new daemon) */
    W_TTY_OPEN,  /* start the login shell if none runs; payload "rows=…\0cols=…\0" */
    W_TTY_IN,    /* bytes for the terminal */
    W_TTY_SIZE,  /* "rows=…\0cols=…\0" */
    W_PAUSE,     /* stop reading the stream's output (flow control) */
    W_RESUME,    /* read it again */
    W_EXEC,      /* run a command: record (arg=, env=, cwd=, dir=, mkdir=1,
                  * timeout_ms=, max=, stdin=1 when W_STDIN follows) */
    W_STDIN,     /* bytes for a stream's stdin (exec) or its file (put) */
    W_STDIN_EOF, /* end of them: a put is committed, an exec's stdin closed */
    W_KILL,      /* end the stream now (an exec's process group is killed,
                  * a put's file is dropped) */
    W_FILE_GET,  /* record: path=; a file's bytes or a directory's listing */
    W_FILE_PUT,  /* record: path=; the bytes follow as W_STDIN, W_STDIN_EOF */
    W_FILE_DEL,  /* record: path=, recursive=1 */

    /* agent → daemon */
    A_HELLO = 64, /* the nonce of the W_HELLO it answers */
    A_READY,      /* the agent is up (the workspace is there) */
    A_TTY_OUT,    /* terminal output */
    A_TTY_EXIT,   /* the login shell ended: record (code=, signal=) */
    A_OUT,        /* a stream's stdout, or a file's bytes, or a listing */
    A_ERR,        /* a stream's stderr */
    A_META,       /* record: type=file|dir, size= (a GET's answer, before its A_OUT) */
    A_EXIT,       /* the stream ended: record (code=, signal=, timedout=1,
                   * truncout=1, truncerr=1, ms=, size=) */
    A_ERROR,      /* the stream failed before anything ran: record (errno=, msg=) */
};

/* Both sides' helpers: the header's numbers, and a record's values. */
static inline void bh_wire_put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static inline uint32_t bh_wire_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The idx'th value of key in a record of len bytes, or NULL. */
static inline const char *bh_wire_rec_get(const char *rec, size_t len, const char *key, int idx)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < len;) {
        const char *s = rec + i;
        size_t sl = strnlen(s, len - i);
        if (sl > kl && !strncmp(s, key, kl) && s[kl] == '=' && idx-- == 0)
            return s + kl + 1;
        i += sl + 1;
    }
    return NULL;
}

/* A listing (A_OUT of a directory's W_FILE_GET) is lines of
 * "type\tsize\tmode\tmtime\tname\n": type f, d, l or o; mode octal; mtime
 * seconds since the epoch; names with no tab or newline (others are left
 * out). */

#endif
