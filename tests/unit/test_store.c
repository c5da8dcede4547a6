/* test_store.c — the SQLite store: sessions round-trip every field, list
 * filters and orders, events keep their JSON detail, data survives reopening,
 * a schema-2 database migrates (its sessions become the admin's), tokens are
 * kept as given (hashes) and revoked, and misuse (unknown ids, duplicates,
 * bad detail) is reported, not hidden. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/json.h"
#include "store/store.h"
#include "t.h"
#include "lib/util.h"

static void row_init(struct bh_session_row *r, const char *id, const char *status, int64_t created)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->type, sizeof r->type, "browser");
    snprintf(r->status, sizeof r->status, "%s", status);
    r->url = bh_xasprintf("https://example.test/%s", id);
    r->created_at = created;
    r->expires_at = created + 1800000;
    r->viewport_w = 1280;
    r->viewport_h = 720;
    r->idle_timeout = 300;
    r->ttl = 1800;
    r->memory_bytes = (int64_t)1 << 30;
    r->pids_max = 512;
    r->cpus = 1.5;
    snprintf(r->runtime, sizeof r->runtime, "crun");
    snprintf(r->container_id, sizeof r->container_id, "bh-%s", id);
    r->pid = 4242;
    snprintf(r->addr, sizeof r->addr, "10.88.0.2");
}

static void test_sessions(bh_store_t *st)
{
    bh_err_t err = BH_ERR_INIT;
    struct bh_session_row a, b, c, got;

    row_init(&a, "aaaa", "starting", 1000);
    /* quotes, SQL metacharacters, a newline and non-ASCII survive */
    free(a.url);
    a.url = bh_xstrdup("https://example.test/?q=it's \"quoted\"; DROP TABLE sessions;--\n"
                       "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
    a.end_detail = bh_xstrdup("{\"msg\":\"l'\\u00e9t\\u00e9\"}");
    CHECK(bh_store_session_insert(st, &a, &err) == 0);

    row_init(&b, "bbbb", "ready", 2000);
    CHECK(bh_store_session_insert(st, &b, &err) == 0);
    row_init(&c, "cccc", "ready", 3000);
    free(c.url);
    c.url = NULL; /* NULL heap fields stay NULL */
    CHECK(bh_store_session_insert(st, &c, &err) == 0);

    /* every field round-trips */
    memset(&got, 0x5a, sizeof got);
    CHECK(bh_store_session_get(st, "aaaa", &got, &err) == 1);
    CHECK_STR(got.id, "aaaa");
    CHECK_STR(got.type, "browser");
    CHECK_STR(got.status, "starting");
    CHECK_STR(got.url, a.url);
    CHECK(got.created_at == 1000);
    CHECK(got.expires_at == 1000 + 1800000);
    CHECK(got.ended_at == 0);
    CHECK_STR(got.end_reason, "");
    CHECK_STR(got.end_detail, a.end_detail);
    CHECK(got.viewport_w == 1280 && got.viewport_h == 720);
    CHECK(got.idle_timeout == 300 && got.ttl == 1800);
    CHECK(got.memory_bytes == (int64_t)1 << 30);
    CHECK(got.pids_max == 512);
    CHECK(got.cpus == 1.5);
    CHECK_STR(got.runtime, "crun");
    CHECK_STR(got.container_id, "bh-aaaa");
    CHECK(got.pid == 4242);
    CHECK_STR(got.addr, "10.88.0.2");
    bh_session_row_clear(&got);
    CHECK(got.url == NULL && got.end_detail == NULL);

    CHECK(bh_store_session_get(st, "cccc", &got, &err) == 1);
    CHECK(got.url == NULL);
    bh_session_row_clear(&got);

    /* unknown ids: not found, not an error; no SQL injection through the id */
    CHECK(bh_store_session_get(st, "nope", &got, &err) == 0);
    CHECK(bh_store_session_get(st, "' OR '1'='1", &got, &err) == 0);
    CHECK(bh_store_session_get(st, "", &got, &err) == 0);
    CHECK(err.msg == NULL);

    /* a duplicate id is refused with EEXIST, and the first row is intact */
    struct bh_session_row dup;
    row_init(&dup, "aaaa", "ready", 9999);
    CHECK(bh_store_session_insert(st, &dup, &err) == -1);
    CHECK(err.errnum == EEXIST);
    CHECK(err.msg && strstr(err.msg, "aaaa"));
    bh_err_clear(&err);
    bh_session_row_clear(&dup);
    CHECK(bh_store_session_get(st, "aaaa", &got, &err) == 1);
    CHECK(got.created_at == 1000);
    bh_session_row_clear(&got);

    /* update replaces the mutable fields and leaves the rest */
    snprintf(a.status, sizeof a.status, "ended");
    a.ended_at = 5000;
    snprintf(a.end_reason, sizeof a.end_reason, "crashed");
    free(a.end_detail);
    a.end_detail = NULL;
    a.pid = 0;
    snprintf(a.container_id, sizeof a.container_id, "%s", "");
    a.viewport_w = 1; /* not mutable: must not change */
    CHECK(bh_store_session_update(st, &a, &err) == 0);
    CHECK(bh_store_session_get(st, "aaaa", &got, &err) == 1);
    CHECK_STR(got.status, "ended");
    CHECK(got.ended_at == 5000);
    CHECK_STR(got.end_reason, "crashed");
    CHECK(got.end_detail == NULL);
    CHECK(got.pid == 0);
    CHECK_STR(got.container_id, "");
    CHECK(got.viewport_w == 1280);
    CHECK_STR(got.url, a.url);
    bh_session_row_clear(&got);

    /* updating an unknown id is an ENOENT error */
    struct bh_session_row ghost;
    row_init(&ghost, "ghost", "ready", 1);
    CHECK(bh_store_session_update(st, &ghost, &err) == -1);
    CHECK(err.errnum == ENOENT);
    bh_err_clear(&err);
    bh_session_row_clear(&ghost);

    /* list: newest first, status filter */
    struct bh_session_row *rows = NULL;
    int n = bh_store_session_list(st, NULL, &rows, &err);
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR(rows[0].id, "cccc");
        CHECK_STR(rows[1].id, "bbbb");
        CHECK_STR(rows[2].id, "aaaa");
        CHECK_STR(rows[1].url, "https://example.test/bbbb");
    }
    bh_store_rows_free(rows, n);

    n = bh_store_session_list(st, "ready", &rows, &err);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(rows[0].id, "cccc");
        CHECK_STR(rows[1].id, "bbbb");
    }
    bh_store_rows_free(rows, n);

    n = bh_store_session_list(st, "ended", &rows, &err);
    CHECK(n == 1);
    if (n == 1)
        CHECK_STR(rows[0].id, "aaaa");
    bh_store_rows_free(rows, n);

    n = bh_store_session_list(st, "starting", &rows, &err);
    CHECK(n == 0);
    bh_store_rows_free(rows, n);

    bh_session_row_clear(&a);
    bh_session_row_clear(&b);
    bh_session_row_clear(&c);
}

static void test_events(bh_store_t *st)
{
    bh_err_t err = BH_ERR_INIT;
    int64_t before = bh_now_ms();
    CHECK(bh_store_event_add(st, "bbbb", "created", NULL, &err) == 0);
    CHECK(bh_store_event_add(st, "bbbb", "navigated",
                             "{\"url\":\"https://x.test/\\\"q\\\"\",\"title\":\"\xc3\xa9\"}",
                             &err) == 0);
    CHECK(bh_store_event_add(st, "bbbb", "count", "42", &err) == 0);
    CHECK(bh_store_event_add(st, "cccc", "created", NULL, &err) == 0);

    /* detail must be JSON; the session must exist */
    CHECK(bh_store_event_add(st, "bbbb", "bad", "{not json", &err) == -1);
    CHECK(err.errnum == EINVAL);
    bh_err_clear(&err);
    CHECK(bh_store_event_add(st, "nope", "created", NULL, &err) == -1);
    CHECK(err.errnum == ENOENT);
    bh_err_clear(&err);

    char *txt = NULL;
    CHECK(bh_store_event_list(st, "bbbb", &txt, &err) == 3);
    CHECK(txt != NULL);
    json_error_t je;
    json_t *arr = txt ? json_loads(txt, 0, &je) : NULL;
    CHECK(json_is_array(arr) && json_array_size(arr) == 3);
    if (json_is_array(arr) && json_array_size(arr) == 3) {
        json_t *e0 = json_array_get(arr, 0), *e1 = json_array_get(arr, 1),
               *e2 = json_array_get(arr, 2);
        CHECK_STR(json_string_value(json_object_get(e0, "type")), "created");
        CHECK(json_is_null(json_object_get(e0, "detail")));
        const char *ts = json_string_value(json_object_get(e0, "ts"));
        CHECK(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[23] == 'Z');
        cleanup_free char *min = bh_time_iso(before);
        CHECK(ts && strcmp(ts, min) >= 0);
        CHECK_STR(json_string_value(json_object_get(e1, "type")), "navigated");
        json_t *d = json_object_get(e1, "detail");
        CHECK(json_is_object(d));
        CHECK_STR(json_string_value(json_object_get(d, "url")), "https://x.test/\"q\"");
        CHECK_STR(json_string_value(json_object_get(d, "title")), "\xc3\xa9");
        CHECK(json_integer_value(json_object_get(e2, "detail")) == 42);
    }
    json_decref(arr);
    free(txt);

    CHECK(bh_store_event_list(st, "nope", &txt, &err) == 0);
    CHECK_STR(txt, "[]");
    free(txt);
}

static void test_reopen(const char *path)
{
    bh_err_t err = BH_ERR_INIT;
    bh_store_t *st = bh_store_open(path, &err);
    CHECK(st != NULL);
    if (!st) {
        fprintf(stderr, "reopen: %s\n", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    struct bh_session_row got;
    CHECK(bh_store_session_get(st, "aaaa", &got, &err) == 1);
    CHECK_STR(got.status, "ended");
    CHECK_STR(got.end_reason, "crashed");
    CHECK(got.url && strstr(got.url, "\xf0\x9f\x98\x80"));
    bh_session_row_clear(&got);
    struct bh_session_row *rows = NULL;
    int n = bh_store_session_list(st, NULL, &rows, &err);
    CHECK(n == 3);
    bh_store_rows_free(rows, n);
    char *txt = NULL;
    CHECK(bh_store_event_list(st, "bbbb", &txt, &err) == 3);
    free(txt);
    bh_store_close(st);
}

static void test_bad_paths(const char *dir)
{
    bh_err_t err = BH_ERR_INIT;
    /* a directory that does not exist: an error with the path, no crash */
    cleanup_free char *p = bh_xasprintf("%s/missing/dir/x.db", dir);
    bh_store_t *st = bh_store_open(p, &err);
    CHECK(st == NULL);
    CHECK(err.msg && strstr(err.msg, "missing/dir"));
    bh_err_clear(&err);

    /* a file that is not a database */
    cleanup_free char *junk = bh_xasprintf("%s/junk.db", dir);
    CHECK(bh_write_file(junk, "this is not sqlite, not at all, not one bit of it.....", 54, 0600,
                        &err) == 0);
    st = bh_store_open(junk, &err);
    CHECK(st == NULL);
    CHECK(err.msg != NULL);
    bh_err_clear(&err);
}

static int raw_user_version(const char *path)
{
    sqlite3 *db = NULL;
    int v = -1;
    sqlite3_stmt *s = NULL;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* The schema version is recorded, and a database from a newer bulkhead is
 * refused instead of being misread. */
static void test_schema_version(const char *dir, const char *path)
{
    bh_err_t err = BH_ERR_INIT;
    CHECK(raw_user_version(path) == 4);

    /* the network settings (schema 2) round-trip */
    bh_store_t *st0 = bh_store_open(path, &err);
    CHECK(st0 != NULL);
    struct bh_session_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "netcheck");
    snprintf(r.type, sizeof r.type, "browser");
    snprintf(r.status, sizeof r.status, "starting");
    r.created_at = 1;
    r.network = "{\"policy\":\"none\"}";
    CHECK(bh_store_session_insert(st0, &r, &err) == 0);
    struct bh_session_row back;
    CHECK(bh_store_session_get(st0, "netcheck", &back, &err) == 1);
    CHECK_STR(back.network, "{\"policy\":\"none\"}");
    CHECK(back.uid_base == 0);
    bh_session_row_clear(&back);
    /* the user namespace range (schema 4) round-trips, by insert and by
     * update, up to the highest id a range may start at */
    r.network = NULL;
    snprintf(r.id, sizeof r.id, "uidcheck");
    r.uid_base = 1073741824u + 5 * 65536u;
    CHECK(bh_store_session_insert(st0, &r, &err) == 0);
    CHECK(bh_store_session_get(st0, "uidcheck", &back, &err) == 1);
    CHECK(back.uid_base == 1073741824u + 5 * 65536u);
    back.uid_base = 4294901760u;
    CHECK(bh_store_session_update(st0, &back, &err) == 0);
    bh_session_row_clear(&back);
    CHECK(bh_store_session_get(st0, "uidcheck", &back, &err) == 1);
    CHECK(back.uid_base == 4294901760u);
    bh_session_row_clear(&back);
    bh_store_close(st0);

    cleanup_free char *newer = bh_xasprintf("%s/newer.db", dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(newer, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    bh_store_t *st = bh_store_open(newer, &err);
    CHECK(st == NULL);
    CHECK(err.errnum == EPROTO);
    CHECK(err.msg && strstr(err.msg, "99"));
    bh_store_close(st);
    bh_err_clear(&err);
}

/* A database as bulkhead wrote it at schema 2, with one session. */
static void make_v2(const char *path)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    const char *sql =
        "CREATE TABLE sessions (id TEXT PRIMARY KEY NOT NULL, type TEXT NOT NULL,"
        " status TEXT NOT NULL, url TEXT, created_at INTEGER NOT NULL,"
        " expires_at INTEGER NOT NULL DEFAULT 0, ended_at INTEGER NOT NULL DEFAULT 0,"
        " end_reason TEXT NOT NULL DEFAULT '', end_detail TEXT,"
        " viewport_w INTEGER NOT NULL DEFAULT 0, viewport_h INTEGER NOT NULL DEFAULT 0,"
        " idle_timeout INTEGER NOT NULL DEFAULT 0, ttl INTEGER NOT NULL DEFAULT 0,"
        " memory_bytes INTEGER NOT NULL DEFAULT 0, pids_max INTEGER NOT NULL DEFAULT 0,"
        " cpus REAL NOT NULL DEFAULT 0, runtime TEXT NOT NULL DEFAULT '',"
        " container_id TEXT NOT NULL DEFAULT '', pid INTEGER NOT NULL DEFAULT 0,"
        " addr TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX sessions_status_created ON sessions(status, created_at);"
        "CREATE INDEX sessions_created ON sessions(created_at);"
        "CREATE TABLE events (id INTEGER PRIMARY KEY,"
        " session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
        " ts INTEGER NOT NULL, type TEXT NOT NULL, detail TEXT);"
        "CREATE INDEX events_session ON events(session_id);"
        "ALTER TABLE sessions ADD COLUMN network TEXT;"
        "INSERT INTO sessions (id, type, status, url, created_at, network)"
        " VALUES ('old1', 'browser', 'ended', 'https://old.test/', 7, '{\"policy\":\"none\"}');"
        "INSERT INTO events (session_id, ts, type) VALUES ('old1', 8, 'created');"
        "PRAGMA user_version = 2;";
    char *msg = NULL;
    CHECK(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK);
    if (msg)
        fprintf(stderr, "make_v2: %s\n", msg);
    sqlite3_free(msg);
    sqlite3_close(db);
}

static void test_migrate_v2(const char *dir)
{
    bh_err_t err = BH_ERR_INIT;
    cleanup_free char *path = bh_xasprintf("%s/v2.db", dir);
    make_v2(path);
    CHECK(raw_user_version(path) == 2);
    bh_store_t *st = bh_store_open(path, &err);
    CHECK(st != NULL);
    if (!st) {
        fprintf(stderr, "open v2: %s\n", bh_err_msg(&err));
        bh_err_clear(&err);
        return;
    }
    CHECK(raw_user_version(path) == 4);
    /* the old session is there, every field kept, and is the admin's; it
     * had no user namespace (uid_base 0) */
    struct bh_session_row got;
    CHECK(bh_store_session_get(st, "old1", &got, &err) == 1);
    CHECK_STR(got.url, "https://old.test/");
    CHECK_STR(got.network, "{\"policy\":\"none\"}");
    CHECK_STR(got.status, "ended");
    CHECK_STR(got.owner, "admin");
    CHECK(got.uid_base == 0);
    bh_session_row_clear(&got);
    char *events = NULL;
    CHECK(bh_store_event_list(st, "old1", &events, &err) == 1);
    free(events);
    /* new sessions carry their owner; an empty one is the admin's */
    struct bh_session_row r;
    row_init(&r, "new1", "ready", 9);
    snprintf(r.owner, sizeof r.owner, "0123456789abcdef");
    CHECK(bh_store_session_insert(st, &r, &err) == 0);
    bh_session_row_clear(&r);
    row_init(&r, "new2", "ready", 10);
    CHECK(bh_store_session_insert(st, &r, &err) == 0);
    bh_session_row_clear(&r);
    CHECK(bh_store_session_get(st, "new1", &got, &err) == 1);
    CHECK_STR(got.owner, "0123456789abcdef");
    bh_session_row_clear(&got);
    CHECK(bh_store_session_get(st, "new2", &got, &err) == 1);
    CHECK_STR(got.owner, "admin");
    bh_session_row_clear(&got);
    struct bh_session_row *rows = NULL;
    int n = bh_store_session_list(st, NULL, &rows, &err);
    CHECK(n == 3);
    CHECK(n == 3 && !strcmp(rows[0].owner, "admin") && !strcmp(rows[1].owner, "0123456789abcdef"));
    bh_store_rows_free(rows, n);
    bh_store_close(st);
    /* and opening it again changes nothing */
    st = bh_store_open(path, &err);
    CHECK(st != NULL);
    CHECK(raw_user_version(path) == 4);
    bh_store_close(st);
    bh_err_clear(&err);
}

static void token_init(struct bh_token_row *t, const char *id, const char *name, const char *role,
                       char hashc, int max)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->role, sizeof t->role, "%s", role);
    memset(t->hash, hashc, 64);
    t->max_sessions = max;
    t->created_at = 1000 + hashc;
}

static void test_tokens(const char *dir)
{
    bh_err_t err = BH_ERR_INIT;
    cleanup_free char *path = bh_xasprintf("%s/tokens.db", dir);
    bh_store_t *st = bh_store_open(path, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    struct bh_token_row a, b, c, got, *rows = NULL;
    CHECK(bh_store_token_list(st, &rows, &err) == 0);
    free(rows);
    token_init(&a, "aaaaaaaaaaaaaaaa", "alice", "user", 'a', 2);
    token_init(&b, "bbbbbbbbbbbbbbbb", "bob", "admin", 'b', 0);
    CHECK(bh_store_token_insert(st, &a, &err) == 0);
    CHECK(bh_store_token_insert(st, &b, &err) == 0);
    /* every field round-trips */
    CHECK(bh_store_token_get(st, "aaaaaaaaaaaaaaaa", &got, &err) == 1);
    CHECK_STR(got.name, "alice");
    CHECK_STR(got.role, "user");
    CHECK_STR(got.hash, a.hash);
    CHECK(got.max_sessions == 2);
    CHECK(got.created_at == a.created_at);
    CHECK(got.revoked_at == 0);
    CHECK(bh_store_token_get(st, "nope", &got, &err) == 0);
    /* a name in force, an id or a hash twice: EEXIST; a bad role: refused */
    token_init(&c, "cccccccccccccccc", "alice", "user", 'c', 0);
    CHECK(bh_store_token_insert(st, &c, &err) < 0 && err.errnum == EEXIST);
    bh_err_clear(&err);
    token_init(&c, "cccccccccccccccc", "carol", "user", 'a', 0);
    CHECK(bh_store_token_insert(st, &c, &err) < 0 && err.errnum == EEXIST);
    bh_err_clear(&err);
    token_init(&c, "aaaaaaaaaaaaaaaa", "carol", "user", 'c', 0);
    CHECK(bh_store_token_insert(st, &c, &err) < 0 && err.errnum == EEXIST);
    bh_err_clear(&err);
    token_init(&c, "cccccccccccccccc", "carol", "root", 'c', 0);
    CHECK(bh_store_token_insert(st, &c, &err) < 0);
    bh_err_clear(&err);
    /* list: in force, oldest first */
    int n = bh_store_token_list(st, &rows, &err);
    CHECK(n == 2);
    CHECK(n == 2 && !strcmp(rows[0].name, "alice") && !strcmp(rows[1].name, "bob"));
    free(rows);
    /* revoke: once; the row stays (owners name it), the list drops it, and
     * the name is free again */
    CHECK(bh_store_token_revoke(st, "aaaaaaaaaaaaaaaa", 5000, &err) == 1);
    CHECK(bh_store_token_revoke(st, "aaaaaaaaaaaaaaaa", 6000, &err) == 0);
    CHECK(bh_store_token_revoke(st, "nope", 6000, &err) == 0);
    CHECK(bh_store_token_get(st, "aaaaaaaaaaaaaaaa", &got, &err) == 1);
    CHECK(got.revoked_at == 5000);
    n = bh_store_token_list(st, &rows, &err);
    CHECK(n == 1 && !strcmp(rows[0].name, "bob"));
    free(rows);
    token_init(&c, "cccccccccccccccc", "alice", "user", 'c', 0);
    CHECK(bh_store_token_insert(st, &c, &err) == 0);
    bh_store_close(st);
    /* it all survives reopening */
    st = bh_store_open(path, &err);
    n = bh_store_token_list(st, &rows, &err);
    CHECK(n == 2 && !strcmp(rows[0].name, "bob") && !strcmp(rows[1].id, "cccccccccccccccc"));
    free(rows);
    bh_store_close(st);
    bh_err_clear(&err);
}

int main(void)
{
    char dir[] = "/tmp/bh-test-store-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    cleanup_free char *path = bh_xasprintf("%s/bulkhead.db", dir);
    bh_err_t err = BH_ERR_INIT;

    bh_store_t *st = bh_store_open(path, &err);
    CHECK(st != NULL);
    if (!st) {
        fprintf(stderr, "open: %s\n", bh_err_msg(&err));
        return T_DONE();
    }
    /* WAL is in force: the -wal file exists while the database is open */
    test_sessions(st);
    cleanup_free char *wal = bh_xasprintf("%s-wal", path);
    CHECK(access(wal, F_OK) == 0);
    test_events(st);
    bh_store_close(st);

    test_reopen(path);
    /* opening twice at once works (WAL, busy timeout) */
    bh_store_t *s1 = bh_store_open(path, &err), *s2 = bh_store_open(path, &err);
    CHECK(s1 && s2);
    struct bh_session_row got;
    if (s1 && s2) {
        struct bh_session_row r;
        row_init(&r, "dddd", "ready", 4000);
        CHECK(bh_store_session_insert(s1, &r, &err) == 0);
        CHECK(bh_store_session_get(s2, "dddd", &got, &err) == 1);
        bh_session_row_clear(&got);
        bh_session_row_clear(&r);
    }
    bh_store_close(s1);
    bh_store_close(s2);

    test_schema_version(dir, path);
    test_migrate_v2(dir);
    test_tokens(dir);
    test_bad_paths(dir);
    bh_err_clear(&err);
    bh_rm_rf(dir, NULL);
    return T_DONE();
}
