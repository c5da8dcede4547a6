/* store.h — durable state in SQLite (WAL): sessions with their settings,
 * status, timestamps and end reason, and a per-session event log. Rows of
 * ended sessions are kept for audit. Single-threaded use: only the event loop
 * thread calls this module. */
#ifndef BH_STORE_H
#define BH_STORE_H

#include <stdint.h>

#include "lib/err.h"

typedef struct bh_store bh_store_t;

struct bh_session_row {
    char id[40];
    char type[16];       /* "browser" */
    char status[16];     /* "starting" | "ready" | "ended" */
    char *url;           /* heap */
    int64_t created_at;  /* epoch ms */
    int64_t expires_at;  /* epoch ms; 0 = none */
    int64_t ended_at;    /* epoch ms; 0 = not ended */
    char end_reason[16]; /* "" while live */
    char *end_detail;    /* heap or NULL: cause of an error/crash */
    int viewport_w, viewport_h;
    int idle_timeout; /* seconds */
    int ttl;          /* seconds */
    int64_t memory_bytes;
    int64_t pids_max;
    double cpus;
    char runtime[16]; /* the backend's runtime: "runc", "crun" */
    char container_id[80];
    int pid;
    char addr[64];     /* session network address */
    char *network;     /* heap or NULL: network settings, JSON {"policy","allow","proxy"} */
    char owner[40];    /* id of the token that created it ("admin"; "" is stored as "admin") */
    uint32_t uid_base; /* first host uid/gid of its user namespace range; 0 = none */
};

/* Free the heap fields of a row (not the row itself). */
void bh_session_row_clear(struct bh_session_row *r);

/* Open (creating and migrating) the database at path; WAL mode, foreign keys,
 * busy timeout. */
bh_store_t *bh_store_open(const char *path, bh_err_t *err);
void bh_store_close(bh_store_t *st);

/* Insert a new row (all fields). A duplicate id: err->status EEXIST. */
int bh_store_session_insert(bh_store_t *st, const struct bh_session_row *r, bh_err_t *err);
/* Replace the mutable fields (status, expires_at, ended_at, end_reason,
 * end_detail, url, runtime, container_id, pid, addr, uid_base, and owner,
 * created_at, idle_timeout and ttl, which a warm pool's session gets when
 * a create takes it) of row r->id.
 * An unknown id is an error with err->status ENOENT. */
int bh_store_session_update(bh_store_t *st, const struct bh_session_row *r, bh_err_t *err);
/* Remove row id and its events (a warm pool's session that no create
 * took: it never was anyone's). Unknown: success. */
int bh_store_session_delete(bh_store_t *st, const char *id, bh_err_t *err);
/* Load one row; returns 1 found, 0 not found, -1 error. */
int bh_store_session_get(bh_store_t *st, const char *id, struct bh_session_row *out, bh_err_t *err);
/* All rows (status filter or NULL), newest first. Caller frees with
 * bh_store_rows_free. Returns count or -1. */
int bh_store_session_list(bh_store_t *st, const char *status, struct bh_session_row **rows,
                          bh_err_t *err);
void bh_store_rows_free(struct bh_session_row *rows, int n);

/* API tokens: only their SHA-256 hashes are stored. A revoked token keeps
 * its row (sessions name it as their owner); revoked_at != 0. */
struct bh_token_row {
    char id[40];
    char name[72];
    char role[8];       /* "admin" | "user" */
    char hash[72];      /* SHA-256 of the token, hex */
    int max_sessions;   /* 0: none of its own */
    int64_t created_at; /* epoch ms */
    int64_t revoked_at; /* epoch ms; 0 = in force */
};

/* Insert a token. A name already used by a token in force (or a duplicate
 * id or hash): err->status EEXIST. */
int bh_store_token_insert(bh_store_t *st, const struct bh_token_row *r, bh_err_t *err);
/* One token by id (revoked ones too); 1 found, 0 not, -1 error. */
int bh_store_token_get(bh_store_t *st, const char *id, struct bh_token_row *out, bh_err_t *err);
/* Tokens in force, oldest first. Caller frees *rows. Returns count or -1. */
int bh_store_token_list(bh_store_t *st, struct bh_token_row **rows, bh_err_t *err);
/* Revoke token id at `when` (epoch ms); 1 revoked, 0 unknown or already
 * revoked, -1 error. */
int bh_store_token_revoke(bh_store_t *st, const char *id, int64_t when, bh_err_t *err);

/* Append an event {ts, type, detail-json-or-NULL} to a session's log. The
 * session row must exist (err->status ENOENT otherwise) and detail, when not
 * NULL, must be JSON text (EINVAL otherwise). */
int bh_store_event_add(bh_store_t *st, const char *session_id, const char *type, const char *detail,
                       bh_err_t *err);
/* A session's events, oldest first, as JSON array text (caller frees):
 * [{"ts":"<RFC 3339>","type":"...","detail":<detail JSON or null>}]. An
 * unknown session gives "[]". Returns the number of events or -1. */
int bh_store_event_list(bh_store_t *st, const char *session_id, char **json_out, bh_err_t *err);

#endif
