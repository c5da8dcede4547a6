/* store.c — see store.h.
 *
 * Every statement is prepared once in bh_store_open() and reset after each use
 * (the cleanup_stmt attribute), so bound SQLITE_STATIC pointers never outlive
 * the call that bound them. The schema is versioned through PRAGMA
 * user_version and migrated inside one IMMEDIATE transaction, so two
 * processes opening a fresh database at once cannot both migrate it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/json.h"
#include "lib/util.h"

#define BUSY_TIMEOUT_MS 5000

struct bh_store {
    sqlite3 *db;
    sqlite3_stmt *session_insert;
    sqlite3_stmt *session_update;
    sqlite3_stmt *session_delete;
    sqlite3_stmt *session_get;
    sqlite3_stmt *session_list_all;
    sqlite3_stmt *session_list_status;
    sqlite3_stmt *event_add;
    sqlite3_stmt *event_list;
    sqlite3_stmt *token_insert;
    sqlite3_stmt *token_get;
    sqlite3_stmt *token_list;
    sqlite3_stmt *token_revoke;
};

/* ------------------------------------------------------------------------ */
/* Schema and migrations */

/* migrations[i] takes the schema from version i to i+1. Append only: never
 * edit a step that has shipped. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE sessions ("
    "  id           TEXT PRIMARY KEY NOT NULL,"
    "  type         TEXT NOT NULL,"
    "  status       TEXT NOT NULL,"
    "  url          TEXT,"
    "  created_at   INTEGER NOT NULL,"
    "  expires_at   INTEGER NOT NULL DEFAULT 0,"
    "  ended_at     INTEGER NOT NULL DEFAULT 0,"
    "  end_reason   TEXT NOT NULL DEFAULT '',"
    "  end_detail   TEXT,"
    "  viewport_w   INTEGER NOT NULL DEFAULT 0,"
    "  viewport_h   INTEGER NOT NULL DEFAULT 0,"
    "  idle_timeout INTEGER NOT NULL DEFAULT 0,"
    "  ttl          INTEGER NOT NULL DEFAULT 0,"
    "  memory_bytes INTEGER NOT NULL DEFAULT 0,"
    "  pids_max     INTEGER NOT NULL DEFAULT 0,"
    "  cpus         REAL NOT NULL DEFAULT 0,"
    "  runtime      TEXT NOT NULL DEFAULT '',"
    "  container_id TEXT NOT NULL DEFAULT '',"
    "  pid          INTEGER NOT NULL DEFAULT 0,"
    "  addr         TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE INDEX sessions_status_created ON sessions(status, created_at);"
    "CREATE INDEX sessions_created ON sessions(created_at);"
    "CREATE TABLE events ("
    "  id         INTEGER PRIMARY KEY,"
    "  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    "  ts         INTEGER NOT NULL,"
    "  type       TEXT NOT NULL,"
    "  detail     TEXT"
    ");"
    "CREATE INDEX events_session ON events(session_id);",
    /* 1 -> 2: the session's network settings, as JSON */
    "ALTER TABLE sessions ADD COLUMN network TEXT;",
    /* 2 -> 3: API tokens (hashes only) and the token that owns a session;
     * sessions from before are the operator's */
    "ALTER TABLE sessions ADD COLUMN owner TEXT NOT NULL DEFAULT 'admin';"
    "CREATE INDEX sessions_owner ON sessions(owner, status);"
    "CREATE TABLE tokens ("
    "  id           TEXT PRIMARY KEY NOT NULL,"
    "  name         TEXT NOT NULL,"
    "  role         TEXT NOT NULL CHECK (role IN ('admin', 'user')),"
    "  hash         TEXT NOT NULL UNIQUE,"
    "  max_sessions INTEGER NOT NULL DEFAULT 0,"
    "  created_at   INTEGER NOT NULL,"
    "  revoked_at   INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE UNIQUE INDEX tokens_name_live ON tokens(name) WHERE revoked_at = 0;",
    /* 3 -> 4: the first host uid/gid of a session's user namespace range
     * (0: none, as for every row written before this version). */
    "ALTER TABLE sessions ADD COLUMN uid_base INTEGER NOT NULL DEFAULT 0;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

#define SESSION_COLS                                                                     \
    "id, type, status, url, created_at, expires_at, ended_at, end_reason, end_detail, "  \
    "viewport_w, viewport_h, idle_timeout, ttl, memory_bytes, pids_max, cpus, runtime, " \
    "container_id, pid, addr, network, owner, uid_base"

static const char sql_session_insert[] =
    "INSERT INTO sessions (" SESSION_COLS ") "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
    "?18, ?19, ?20, ?21, ?22, ?23)";
static const char sql_session_update[] =
    "UPDATE sessions SET status = ?2, expires_at = ?3, ended_at = ?4, end_reason = ?5, "
    "end_detail = ?6, url = ?7, runtime = ?8, container_id = ?9, pid = ?10, addr = ?11, "
    "uid_base = ?12, owner = ?13, created_at = ?14, idle_timeout = ?15, ttl = ?16 WHERE id = ?1";
static const char sql_session_delete[] = "DELETE FROM sessions WHERE id = ?1";
static const char sql_session_get[] = "SELECT " SESSION_COLS " FROM sessions WHERE id = ?1";
static const char sql_session_list_all[] = "SELECT " SESSION_COLS
                                           " FROM sessions ORDER BY created_at DESC, rowid DESC";
static const char sql_session_list_status[] = "SELECT " SESSION_COLS
                                              " FROM sessions WHERE status = ?1 "
                                              "ORDER BY created_at DESC, rowid DESC";
#define TOKEN_COLS "id, name, role, hash, max_sessions, created_at, revoked_at"
static const char sql_token_insert[] = "INSERT INTO tokens (" TOKEN_COLS
                                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char sql_token_get[] = "SELECT " TOKEN_COLS " FROM tokens WHERE id = ?1";
static const char sql_token_list[] = "SELECT " TOKEN_COLS
                                     " FROM tokens WHERE revoked_at = 0 ORDER BY created_at, rowid";
static const char sql_token_revoke[] =
    "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at = 0";
static const char sql_event_add[] =
    "INSERT INTO events (session_id, ts, type, detail) VALUES (?1, ?2, ?3, ?4)";
static const char sql_event_list[] =
    "SELECT ts, type, detail FROM events WHERE session_id = ?1 ORDER BY id";

/* ------------------------------------------------------------------------ */
/* Helpers */

/* Map an SQLite result code to the errno that callers can act on. */
static int sqlite_errno(int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return EEXIST;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return ENOENT;
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return EBUSY;
    case SQLITE_NOMEM:
        return ENOMEM;
    case SQLITE_READONLY:
        return EROFS;
    case SQLITE_FULL:
        return ENOSPC;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return EACCES;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        return EINVAL;
    default:
        return EIO;
    }
}

/* Set err from the last SQLite error of db: "<what>: <sqlite message>", with
 * status the errno of sqlite_errno() (no strerror text appended). */
__attribute__((format(printf, 3, 4))) static int db_err(sqlite3 *db, bh_err_t *err, const char *fmt,
                                                        ...)
{
    if (!err)
        return -1;
    char *what = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    va_end(ap);
    int rc = db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
    bh_err_set(err, 0, "%s: %s", what ? what : "sqlite", db ? sqlite3_errmsg(db) : "out of memory");
    err->errnum = sqlite_errno(rc);
    free(what);
    return -1;
}

static void stmt_resetp(sqlite3_stmt **s)
{
    if (*s) {
        sqlite3_reset(*s);
        sqlite3_clear_bindings(*s);
    }
}
/* A borrowed prepared statement that is reset (and unbound) at scope exit. */
#define cleanup_stmt __attribute__((cleanup(stmt_resetp)))

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

/* Copy a text column into a fixed-size field, truncating; NULL gives "". */
static void col_copy(sqlite3_stmt *s, int i, char *dst, size_t size)
{
    const char *v = (const char *)sqlite3_column_text(s, i);
    snprintf(dst, size, "%s", v ? v : "");
}

static char *col_dup(sqlite3_stmt *s, int i)
{
    const char *v = (const char *)sqlite3_column_text(s, i);
    return v ? bh_xstrdup(v) : NULL;
}

/* Fill out (zeroed first) from a row selected with SESSION_COLS. */
static void row_from_stmt(sqlite3_stmt *s, struct bh_session_row *out)
{
    memset(out, 0, sizeof *out);
    col_copy(s, 0, out->id, sizeof out->id);
    col_copy(s, 1, out->type, sizeof out->type);
    col_copy(s, 2, out->status, sizeof out->status);
    out->url = col_dup(s, 3);
    out->created_at = sqlite3_column_int64(s, 4);
    out->expires_at = sqlite3_column_int64(s, 5);
    out->ended_at = sqlite3_column_int64(s, 6);
    col_copy(s, 7, out->end_reason, sizeof out->end_reason);
    out->end_detail = col_dup(s, 8);
    out->viewport_w = sqlite3_column_int(s, 9);
    out->viewport_h = sqlite3_column_int(s, 10);
    out->idle_timeout = sqlite3_column_int(s, 11);
    out->ttl = sqlite3_column_int(s, 12);
    out->memory_bytes = sqlite3_column_int64(s, 13);
    out->pids_max = sqlite3_column_int64(s, 14);
    out->cpus = sqlite3_column_double(s, 15);
    col_copy(s, 16, out->runtime, sizeof out->runtime);
    col_copy(s, 17, out->container_id, sizeof out->container_id);
    out->pid = sqlite3_column_int(s, 18);
    col_copy(s, 19, out->addr, sizeof out->addr);
    out->network = col_dup(s, 20);
    col_copy(s, 21, out->owner, sizeof out->owner);
    out->uid_base = (uint32_t)sqlite3_column_int64(s, 22);
}

/* Run one or more statements without results. */
static int exec_sql(sqlite3 *db, const char *sql, bh_err_t *err)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(db, err, "%.40s", sql);
    return 0;
}

static int user_version(sqlite3 *db, int *out, bh_err_t *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return db_err(db, err, "read schema version");
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        db_err(db, err, "read schema version");
        sqlite3_finalize(s);
        return -1;
    }
    *out = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return 0;
}

/* Apply every missing step; the caller holds the write lock. */
static int migrate_locked(sqlite3 *db, bh_err_t *err)
{
    int v;
    /* Re-read under the lock: another process may have migrated meanwhile. */
    if (user_version(db, &v, err) < 0)
        return -1;
    for (; v < SCHEMA_VERSION; v++) {
        if (exec_sql(db, migrations[v], err) < 0)
            return bh_err_wrap(err, "migrate schema %d -> %d", v, v + 1);
    }
    cleanup_free char *set = bh_xasprintf("PRAGMA user_version = %d", SCHEMA_VERSION);
    return exec_sql(db, set, err);
}

static int migrate(sqlite3 *db, bh_err_t *err)
{
    int v;
    if (user_version(db, &v, err) < 0)
        return -1;
    if (v == SCHEMA_VERSION)
        return 0;
    if (v > SCHEMA_VERSION)
        return bh_err_set(err, EPROTO,
                          "database schema version %d is newer than this bulkhead (%d)", v,
                          SCHEMA_VERSION);
    if (exec_sql(db, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    if (migrate_locked(db, err) < 0 || exec_sql(db, "COMMIT", err) < 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Switch to WAL. journal_mode answers with the mode in force: anything but
 * "wal" (or "memory" for an in-memory database) means WAL is unavailable. */
static int set_wal(sqlite3 *db, bh_err_t *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        db_err(db, err, "set WAL mode");
        sqlite3_finalize(s);
        return -1;
    }
    const char *mode = (const char *)sqlite3_column_text(s, 0);
    int rc = 0;
    if (!mode || (strcasecmp(mode, "wal") && strcasecmp(mode, "memory")))
        rc = bh_err_set(err, ENOTSUP, "WAL journal mode not available (got %s)",
                        mode ? mode : "nothing");
    sqlite3_finalize(s);
    return rc;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, bh_err_t *err)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return db_err(db, err, "prepare %.40s", sql);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Open / close */

bh_store_t *bh_store_open(const char *path, bh_err_t *err)
{
    bh_store_t *st = bh_xcalloc(1, sizeof *st);
    int rc = sqlite3_open_v2(
        path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        db_err(st->db, err, "open %s", path);
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);

    if (set_wal(st->db, err) < 0 ||
        exec_sql(st->db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;", err) < 0 ||
        migrate(st->db, err) < 0) {
        bh_err_wrap(err, "%s", path);
        goto fail;
    }

    if (prepare(st->db, sql_session_insert, &st->session_insert, err) < 0 ||
        prepare(st->db, sql_session_update, &st->session_update, err) < 0 ||
        prepare(st->db, sql_session_delete, &st->session_delete, err) < 0 ||
        prepare(st->db, sql_session_get, &st->session_get, err) < 0 ||
        prepare(st->db, sql_session_list_all, &st->session_list_all, err) < 0 ||
        prepare(st->db, sql_session_list_status, &st->session_list_status, err) < 0 ||
        prepare(st->db, sql_event_add, &st->event_add, err) < 0 ||
        prepare(st->db, sql_event_list, &st->event_list, err) < 0 ||
        prepare(st->db, sql_token_insert, &st->token_insert, err) < 0 ||
        prepare(st->db, sql_token_get, &st->token_get, err) < 0 ||
        prepare(st->db, sql_token_list, &st->token_list, err) < 0 ||
        prepare(st->db, sql_token_revoke, &st->token_revoke, err) < 0) {
        bh_err_wrap(err, "%s", path);
        goto fail;
    }
    return st;
fail:
    bh_store_close(st);
    return NULL;
}

void bh_store_close(bh_store_t *st)
{
    if (!st)
        return;
    sqlite3_finalize(st->session_insert);
    sqlite3_finalize(st->session_update);
    sqlite3_finalize(st->session_delete);
    sqlite3_finalize(st->session_get);
    sqlite3_finalize(st->session_list_all);
    sqlite3_finalize(st->session_list_status);
    sqlite3_finalize(st->event_add);
    sqlite3_finalize(st->event_list);
    sqlite3_finalize(st->token_insert);
    sqlite3_finalize(st->token_get);
    sqlite3_finalize(st->token_list);
    sqlite3_finalize(st->token_revoke);
    sqlite3_close(st->db); /* NULL is a no-op */
    free(st);
}

/* ------------------------------------------------------------------------ */
/* Sessions */

void bh_session_row_clear(struct bh_session_row *r)
{
    if (!r)
        return;
    free(r->url);
    r->url = NULL;
    free(r->end_detail);
    r->end_detail = NULL;
    free(r->network);
    r->network = NULL;
}

void bh_store_rows_free(struct bh_session_row *rows, int n)
{
    if (!rows)
        return;
    for (int i = 0; i < n; i++)
        bh_session_row_clear(&rows[i]);
    free(rows);
}

int bh_store_session_insert(bh_store_t *st, const struct bh_session_row *r, bh_err_t *err)
{
    if (!r->id[0])
        return bh_err_set(err, EINVAL, "insert session: empty id");
    cleanup_stmt sqlite3_stmt *s = st->session_insert;
    bind_text(s, 1, r->id);
    bind_text(s, 2, r->type);
    bind_text(s, 3, r->status);
    bind_text(s, 4, r->url);
    sqlite3_bind_int64(s, 5, r->created_at);
    sqlite3_bind_int64(s, 6, r->expires_at);
    sqlite3_bind_int64(s, 7, r->ended_at);
    bind_text(s, 8, r->end_reason);
    bind_text(s, 9, r->end_detail);
    sqlite3_bind_int(s, 10, r->viewport_w);
    sqlite3_bind_int(s, 11, r->viewport_h);
    sqlite3_bind_int(s, 12, r->idle_timeout);
    sqlite3_bind_int(s, 13, r->ttl);
    sqlite3_bind_int64(s, 14, r->memory_bytes);
    sqlite3_bind_int64(s, 15, r->pids_max);
    sqlite3_bind_double(s, 16, r->cpus);
    bind_text(s, 17, r->runtime);
    bind_text(s, 18, r->container_id);
    sqlite3_bind_int(s, 19, r->pid);
    bind_text(s, 20, r->addr);
    bind_text(s, 21, r->network);
    bind_text(s, 22, r->owner[0] ? r->owner : "admin");
    sqlite3_bind_int64(s, 23, r->uid_base);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(st->db, err, "insert session %s", r->id);
    return 0;
}

int bh_store_session_update(bh_store_t *st, const struct bh_session_row *r, bh_err_t *err)
{
    cleanup_stmt sqlite3_stmt *s = st->session_update;
    bind_text(s, 1, r->id);
    bind_text(s, 2, r->status);
    sqlite3_bind_int64(s, 3, r->expires_at);
    sqlite3_bind_int64(s, 4, r->ended_at);
    bind_text(s, 5, r->end_reason);
    bind_text(s, 6, r->end_detail);
    bind_text(s, 7, r->url);
    bind_text(s, 8, r->runtime);
    bind_text(s, 9, r->container_id);
    sqlite3_bind_int(s, 10, r->pid);
    bind_text(s, 11, r->addr);
    sqlite3_bind_int64(s, 12, r->uid_base);
    bind_text(s, 13, r->owner[0] ? r->owner : "admin");
    sqlite3_bind_int64(s, 14, r->created_at);
    sqlite3_bind_int(s, 15, r->idle_timeout);
    sqlite3_bind_int(s, 16, r->ttl);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(st->db, err, "update session %s", r->id);
    if (sqlite3_changes(st->db) == 0)
        return bh_err_set(err, ENOENT, "update session %s: no such session", r->id);
    return 0;
}

int bh_store_session_delete(bh_store_t *st, const char *id, bh_err_t *err)
{
    cleanup_stmt sqlite3_stmt *s = st->session_delete;
    bind_text(s, 1, id);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(st->db, err, "delete session %s", id);
    return 0;
}

int bh_store_session_get(bh_store_t *st, const char *id, struct bh_session_row *out, bh_err_t *err)
{
    cleanup_stmt sqlite3_stmt *s = st->session_get;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_err(st->db, err, "get session %s", id);
    row_from_stmt(s, out);
    return 1;
}

int bh_store_session_list(bh_store_t *st, const char *status, struct bh_session_row **rows,
                          bh_err_t *err)
{
    *rows = NULL;
    cleanup_stmt sqlite3_stmt *s = status ? st->session_list_status : st->session_list_all;
    if (status)
        bind_text(s, 1, status);
    struct bh_session_row *v = NULL;
    int n = 0, cap = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct bh_session_row *nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv)
                abort();
            v = nv;
        }
        row_from_stmt(s, &v[n++]);
    }
    if (rc != SQLITE_DONE) {
        bh_store_rows_free(v, n);
        return db_err(st->db, err, "list sessions");
    }
    *rows = v;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Tokens */

static void token_from_stmt(sqlite3_stmt *s, struct bh_token_row *out)
{
    memset(out, 0, sizeof *out);
    col_copy(s, 0, out->id, sizeof out->id);
    col_copy(s, 1, out->name, sizeof out->name);
    col_copy(s, 2, out->role, sizeof out->role);
    col_copy(s, 3, out->hash, sizeof out->hash);
    out->max_sessions = sqlite3_column_int(s, 4);
    out->created_at = sqlite3_column_int64(s, 5);
    out->revoked_at = sqlite3_column_int64(s, 6);
}

int bh_store_token_insert(bh_store_t *st, const struct bh_token_row *r, bh_err_t *err)
{
    if (!r->id[0] || !r->name[0] || !r->hash[0])
        return bh_err_set(err, EINVAL, "insert token: empty id, name or hash");
    cleanup_stmt sqlite3_stmt *s = st->token_insert;
    bind_text(s, 1, r->id);
    bind_text(s, 2, r->name);
    bind_text(s, 3, r->role);
    bind_text(s, 4, r->hash);
    sqlite3_bind_int(s, 5, r->max_sessions);
    sqlite3_bind_int64(s, 6, r->created_at);
    sqlite3_bind_int64(s, 7, r->revoked_at);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(st->db, err, "insert token %s", r->id);
    return 0;
}

int bh_store_token_get(bh_store_t *st, const char *id, struct bh_token_row *out, bh_err_t *err)
{
    cleanup_stmt sqlite3_stmt *s = st->token_get;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_err(st->db, err, "get token %s", id);
    token_from_stmt(s, out);
    return 1;
}

int bh_store_token_list(bh_store_t *st, struct bh_token_row **rows, bh_err_t *err)
{
    *rows = NULL;
    cleanup_stmt sqlite3_stmt *s = st->token_list;
    struct bh_token_row *v = NULL;
    int n = 0, cap = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct bh_token_row *nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv)
                abort();
            v = nv;
        }
        token_from_stmt(s, &v[n++]);
    }
    if (rc != SQLITE_DONE) {
        free(v);
        return db_err(st->db, err, "list tokens");
    }
    *rows = v;
    return n;
}

int bh_store_token_revoke(bh_store_t *st, const char *id, int64_t when, bh_err_t *err)
{
    cleanup_stmt sqlite3_stmt *s = st->token_revoke;
    bind_text(s, 1, id);
    sqlite3_bind_int64(s, 2, when ? when : 1);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(st->db, err, "revoke token %s", id);
    return sqlite3_changes(st->db) > 0;
}

/* ------------------------------------------------------------------------ */
/* Events */

int bh_store_event_add(bh_store_t *st, const char *session_id, const char *type, const char *detail,
                       bh_err_t *err)
{
    if (detail) {
        json_error_t je;
        json_t *j = json_loads(detail, JSON_DECODE_ANY, &je);
        if (!j)
            return bh_err_set(err, EINVAL, "event %s for %s: detail is not JSON: %s", type,
                              session_id, je.text);
        json_decref(j);
    }
    cleanup_stmt sqlite3_stmt *s = st->event_add;
    bind_text(s, 1, session_id);
    sqlite3_bind_int64(s, 2, bh_now_ms());
    bind_text(s, 3, type);
    bind_text(s, 4, detail);
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_err(st->db, err, "add event %s for session %s", type, session_id);
    return 0;
}

int bh_store_event_list(bh_store_t *st, const char *session_id, char **json_out, bh_err_t *err)
{
    *json_out = NULL;
    cleanup_stmt sqlite3_stmt *s = st->event_list;
    bind_text(s, 1, session_id);
    json_auto_t *arr = json_array();
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cleanup_free char *ts = bh_time_iso(sqlite3_column_int64(s, 0));
        const char *type = (const char *)sqlite3_column_text(s, 1);
        const char *detail = (const char *)sqlite3_column_text(s, 2);
        json_t *d = NULL;
        if (detail) {
            /* Validated on insert; a row edited by hand falls back to a string. */
            d = json_loads(detail, JSON_DECODE_ANY, NULL);
            if (!d)
                d = json_string(detail);
        }
        json_t *ev = json_pack("{s:s, s:s?, s:o?}", "ts", ts, "type", type, "detail", d);
        if (!ev || json_array_append_new(arr, ev) < 0)
            return bh_err_set(err, EILSEQ, "list events of %s: event %d is not valid UTF-8",
                              session_id, n);
        n++;
    }
    if (rc != SQLITE_DONE)
        return db_err(st->db, err, "list events of %s", session_id);
    *json_out = json_dumps(arr, JSON_COMPACT);
    if (!*json_out)
        return bh_err_set(err, ENOMEM, "list events of %s: serialise", session_id);
    return n;
}
