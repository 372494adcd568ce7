/*
 * The SQLite store: opens <data_dir>/outpost.db, migrates its schema, keeps
 * the prepared statements of the hot path and answers the queries health
 * and metrics need. Upload bookkeeping (claim, ack, shed) is spool.c's; it
 * works on the same handle through store_db(). docs/store.md is the map.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define STORE_DB_NAME "outpost.db"
#define STORE_LOCK_NAME "outpost.lock"
#define STORE_BUSY_MS 100 /* an operator's shell may hold a lock */
#define STORE_CACHE_KIB 512
#define STORE_CHECKPOINT_PAGES 1000

/* The SQL below is laid out by hand, to be read. */
/* clang-format off */

/*
 * Schema steps: migration N takes user_version N-1 to N, in one
 * transaction. Never edit a released step; append a new one and bump
 * STORE_SCHEMA_VERSION. Column meanings are in docs/store.md.
 */
#define STORE_PRIORITY_NAME(col)					\
	"CASE " col " WHEN 0 THEN 'critical' WHEN 1 THEN 'high' "	\
	"WHEN 2 THEN 'normal' WHEN 3 THEN 'low' ELSE " col " END"
#define STORE_STATE_NAME(col)						\
	"CASE " col " WHEN 0 THEN 'queued' WHEN 1 THEN 'in_flight' "	\
	"WHEN 2 THEN 'sent' WHEN 3 THEN 'dead_letter' ELSE " col " END"
#define STORE_TIME(col)	"strftime('%Y-%m-%dT%H:%M:%fZ', " col ", 'unixepoch')"

/*
 * Upload bookkeeping shared by readings, events and summaries. The pending
 * index is partial (queued rows only) and covering for the statistics:
 * ts gives the oldest, and state, though constant in it, must be a column
 * for SQLite before 3.4x to answer "WHERE state = 0" without visiting
 * the table (an integer 0 costs one header byte).
 */
#define STORE_UPLOAD_COLUMNS						\
	"priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),"	\
	"state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 3),"\
	"attempts INTEGER NOT NULL DEFAULT 0,"				\
	"next_retry_at REAL NOT NULL DEFAULT 0,"			\
	"sent_at REAL"
#define STORE_UPLOAD_INDEXES(t, ts)					\
	"CREATE INDEX " t "_pending ON " t "(priority, seq, " ts ", state)"\
	" WHERE state = 0;"						\
	"CREATE INDEX " t "_held ON " t "(state)"			\
	" WHERE state = 1 OR state = 3;"				\
	"CREATE INDEX " t "_sent ON " t "(" ts ") WHERE state = 2;"
#define STORE_UPLOAD_VIEW_COLUMNS					\
	STORE_PRIORITY_NAME("priority") " AS priority, "		\
	STORE_STATE_NAME("state") " AS state, attempts, "		\
	STORE_TIME("nullif(next_retry_at, 0)") " AS next_retry, "	\
	STORE_TIME("sent_at") " AS sent_time, next_retry_at, sent_at"

static const char store_schema_v1[] =
	"CREATE TABLE readings ("
	"seq INTEGER PRIMARY KEY,"
	"id BLOB NOT NULL CHECK (length(id) = 32),"
	"device TEXT NOT NULL,"
	"sensor TEXT NOT NULL,"
	"ts REAL NOT NULL,"
	"value REAL NOT NULL,"
	"unit TEXT NOT NULL DEFAULT '',"
	"meta TEXT,"
	STORE_UPLOAD_COLUMNS ","
	"mono_ns INTEGER,"
	"synced INTEGER NOT NULL DEFAULT 1);"
	/*
	 * Ids are uniformly random: an index on id alone puts every insert
	 * on a random leaf, so a commit of N readings rewrites about N
	 * pages once the index outgrows the cache (measured at 1M rows,
	 * 1000 per commit: 18k inserts/s and 9.7 KB written per reading,
	 * WAL plus checkpoint). Led by ts, inserts land at the right edge:
	 * 210k/s and 455 B. A replay carries the same ts, so it is still
	 * stored once; docs/store.md has the one exception.
	 */
	"CREATE UNIQUE INDEX readings_ts_id ON readings(ts, id);"
	STORE_UPLOAD_INDEXES("readings", "ts")

	"CREATE TABLE events ("
	"seq INTEGER PRIMARY KEY,"
	"id BLOB NOT NULL CHECK (length(id) = 32),"
	"rule TEXT NOT NULL,"
	"kind TEXT NOT NULL CHECK (kind IN ('fire', 'clear')),"
	"device TEXT NOT NULL,"
	"sensor TEXT NOT NULL,"
	"ts REAL NOT NULL,"
	"value REAL NOT NULL,"
	"severity INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 3),"
	STORE_UPLOAD_COLUMNS ","
	"detail TEXT);"
	"CREATE UNIQUE INDEX events_id ON events(id);"
	STORE_UPLOAD_INDEXES("events", "ts")

	"CREATE TABLE summaries ("
	"seq INTEGER PRIMARY KEY,"
	"id BLOB NOT NULL CHECK (length(id) = 32),"
	"device TEXT NOT NULL,"
	"sensor TEXT NOT NULL,"
	"unit TEXT NOT NULL DEFAULT '',"
	"period_start REAL NOT NULL,"
	"period_s REAL NOT NULL,"
	"min REAL NOT NULL,"
	"max REAL NOT NULL,"
	"mean REAL NOT NULL,"
	"count INTEGER NOT NULL,"
	"last REAL NOT NULL,"
	STORE_UPLOAD_COLUMNS ","
	"UNIQUE (device, sensor, period_start, period_s));"
	"CREATE UNIQUE INDEX summaries_id ON summaries(id);"
	STORE_UPLOAD_INDEXES("summaries", "period_start")

	"CREATE TABLE audit ("
	"seq INTEGER PRIMARY KEY,"
	"ts REAL NOT NULL,"
	"kind TEXT NOT NULL,"
	"detail TEXT);"

	"CREATE TABLE meta ("
	"key TEXT PRIMARY KEY,"
	"value TEXT);"

	"CREATE TABLE offsets ("
	"source TEXT PRIMARY KEY,"
	"value TEXT NOT NULL,"
	"updated_at REAL);"

	"CREATE VIEW readings_v AS SELECT seq, lower(hex(id)) AS id_hex, "
	STORE_TIME("ts") " AS time, device, sensor, value, unit, meta, "
	STORE_UPLOAD_VIEW_COLUMNS ", ts, mono_ns, synced FROM readings;"

	"CREATE VIEW events_v AS SELECT seq, lower(hex(id)) AS id_hex, "
	STORE_TIME("ts") " AS time, rule, kind, device, sensor, value, "
	STORE_PRIORITY_NAME("severity") " AS severity, "
	STORE_UPLOAD_VIEW_COLUMNS ", ts, detail FROM events;"

	"CREATE VIEW summaries_v AS SELECT seq, lower(hex(id)) AS id_hex, "
	STORE_TIME("period_start") " AS time, device, sensor, unit, "
	"period_start, period_s, min, max, mean, count, last, "
	STORE_UPLOAD_VIEW_COLUMNS " FROM summaries;"

	"CREATE VIEW audit_v AS SELECT seq, " STORE_TIME("ts") " AS time, "
	"kind, detail, ts FROM audit;"

	"CREATE VIEW queue_v AS "
	"SELECT 'readings' AS tbl, " STORE_STATE_NAME("state") " AS state, "
	STORE_PRIORITY_NAME("priority") " AS priority, count(*) AS records, "
	STORE_TIME("min(ts)") " AS oldest FROM readings "
	"GROUP BY state, priority UNION ALL "
	"SELECT 'events', " STORE_STATE_NAME("state") ", "
	STORE_PRIORITY_NAME("priority") ", count(*), "
	STORE_TIME("min(ts)") " FROM events GROUP BY state, priority "
	"UNION ALL "
	"SELECT 'summaries', " STORE_STATE_NAME("state") ", "
	STORE_PRIORITY_NAME("priority") ", count(*), "
	STORE_TIME("min(period_start)") " FROM summaries "
	"GROUP BY state, priority;"

	"INSERT INTO meta (key, value) VALUES "
	"('created_at', strftime('%s', 'now')), ('shed_total', '0');";

/*
 * Version 2: readings stamped before the wall clock was trusted (synced =
 * 0, see wallclock.h) are found through a partial index, so that the
 * start-up check, the correction and the flagging cost the rows waiting,
 * not the table; rows that are trusted cost nothing in it.
 */
static const char store_schema_v2[] =
	"CREATE INDEX readings_unsynced ON readings(synced) WHERE synced = 0;";

/*
 * Version 3: the number of queued records per table and priority, kept by
 * triggers, so that /health, /metrics and the status history read twelve
 * rows instead of counting the backlog (seconds of the loop at 10M
 * pending, bench/bench_backlog.sh). Triggers, not the agent's code, keep
 * it: every path that queues, sends, sheds or purges (the shell's too)
 * counts. It costs one more small page per transaction.
 */
#define STORE_QUEUE_TRIGGERS(t, n)					\
	"CREATE TRIGGER " t "_queued_insert AFTER INSERT ON " t		\
	" WHEN new.state = 0 BEGIN UPDATE queue_counts SET n = n + 1 "	\
	"WHERE tbl = " n " AND priority = new.priority; END;"		\
	"CREATE TRIGGER " t "_queued_delete AFTER DELETE ON " t		\
	" WHEN old.state = 0 BEGIN UPDATE queue_counts SET n = n - 1 "	\
	"WHERE tbl = " n " AND priority = old.priority; END;"		\
	"CREATE TRIGGER " t "_queued_update AFTER UPDATE OF state, "	\
	"priority ON " t " WHEN old.state = 0 OR new.state = 0 BEGIN "	\
	"UPDATE queue_counts SET n = n - 1 WHERE old.state = 0 AND "	\
	"tbl = " n " AND priority = old.priority; "			\
	"UPDATE queue_counts SET n = n + 1 WHERE new.state = 0 AND "	\
	"tbl = " n " AND priority = new.priority; END;"		\
	"UPDATE queue_counts SET n = (SELECT count(*) FROM " t		\
	" WHERE state = 0 AND priority = queue_counts.priority) "	\
	"WHERE tbl = " n ";"

static const char store_schema_v3[] =
	"CREATE TABLE queue_counts ("
	"tbl INTEGER NOT NULL," /* 0 readings, 1 events, 2 summaries */
	"priority INTEGER NOT NULL,"
	"n INTEGER NOT NULL,"
	"PRIMARY KEY (tbl, priority)) WITHOUT ROWID;"
	"INSERT INTO queue_counts (tbl, priority, n) "
	"SELECT t.value, p.value, 0 FROM "
	"(SELECT 0 AS value UNION ALL SELECT 1 UNION ALL SELECT 2) AS t, "
	"(SELECT 0 AS value UNION ALL SELECT 1 UNION ALL SELECT 2 "
	"UNION ALL SELECT 3) AS p;"
	STORE_QUEUE_TRIGGERS("readings", "0")
	STORE_QUEUE_TRIGGERS("events", "1")
	STORE_QUEUE_TRIGGERS("summaries", "2");

/* clang-format on */

struct store_migration {
	int version; /* user_version after the step */
	const char *sql;
};

static const struct store_migration store_migrations[] = {
	{ 1, store_schema_v1 },
	{ 2, store_schema_v2 },
	{ 3, store_schema_v3 },
};

enum store_stmt {
	STORE_BEGIN,
	STORE_COMMIT,
	STORE_ROLLBACK,
	STORE_ADD_READING,
	STORE_ADD_EVENT,
	STORE_COUNT_READINGS,
	STORE_COUNT_EVENTS,
	STORE_REQUEUE_READINGS,
	STORE_REQUEUE_EVENTS,
	STORE_REQUEUE_SUMMARIES,
	STORE_STATS_PENDING,
	STORE_STATS_HELD,
	STORE_STATS_SHED,
	STORE_PURGE_READINGS,
	STORE_PURGE_EVENTS,
	STORE_PURGE_SUMMARIES,
	STORE_META_GET,
	STORE_META_SET,
	STORE_OFFSET_GET,
	STORE_OFFSET_SET,
	STORE_OFFSET_DELETE,
	STORE_AUDIT,
	STORE_PAGES,
	STORE_RECENT_EVENTS,
	STORE_NSTMT,
};

struct store_stmt_def {
	const char *name; /* for error messages */
	const char *sql;
};

/*
 * Every query that runs while the agent does is here, prepared at open.
 * The statistics read the partial indexes only: O(pending + in_flight +
 * dead_letter) rows, never the sent history (test_store checks the plans
 * and the work).
 */
static const struct store_stmt_def store_stmt_defs[STORE_NSTMT] = {
	/*
	 * IMMEDIATE takes the write lock at BEGIN: if an operator's shell
	 * holds it, the group commit fails before any reading was added and
	 * the pipeline simply keeps its batch; a DEFERRED transaction would
	 * fail on the first INSERT instead, or on COMMIT with BUSY_SNAPSHOT,
	 * which no busy handler can resolve. Readers never block it in WAL.
	 */
	[STORE_BEGIN] = { "begin", "BEGIN IMMEDIATE" },
	[STORE_COMMIT] = { "commit", "COMMIT" },
	[STORE_ROLLBACK] = { "rollback", "ROLLBACK" },
	[STORE_ADD_READING] = { "add reading",
	    "INSERT OR IGNORE INTO readings (id, device, sensor, ts, value, "
	    "unit, meta, priority, mono_ns, synced) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)" },
	[STORE_ADD_EVENT] = { "add event",
	    "INSERT OR IGNORE INTO events (id, rule, kind, device, sensor, ts, "
	    "value, severity, priority, detail) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)" },
	[STORE_COUNT_READINGS] = { "count readings",
	    "SELECT count(*) FROM readings" },
	[STORE_COUNT_EVENTS] = { "count events",
	    "SELECT count(*) FROM events" },
	[STORE_REQUEUE_READINGS] = { "requeue readings",
	    "UPDATE readings SET state = 0 WHERE state = 1" },
	[STORE_REQUEUE_EVENTS] = { "requeue events",
	    "UPDATE events SET state = 0 WHERE state = 1" },
	[STORE_REQUEUE_SUMMARIES] = { "requeue summaries",
	    "UPDATE summaries SET state = 0 WHERE state = 1" },
	/*
	 * Counts from queue_counts. The oldest: the earliest timestamp among
	 * the 64 longest-waiting records of each priority (arrival order is
	 * the index's; records stamped out of order arrive close together),
	 * not a min() over the whole backlog.
	 */
	[STORE_STATS_PENDING] = { "queue stats",
	    "SELECT priority, n, CASE tbl "
	    "WHEN 0 THEN (SELECT min(ts) FROM (SELECT ts FROM readings "
	    "WHERE state = 0 AND priority = q.priority ORDER BY seq "
	    "LIMIT 64)) "
	    "WHEN 1 THEN (SELECT min(ts) FROM (SELECT ts FROM events "
	    "WHERE state = 0 AND priority = q.priority ORDER BY seq "
	    "LIMIT 64)) "
	    "ELSE (SELECT min(period_start) FROM (SELECT period_start FROM "
	    "summaries WHERE state = 0 AND priority = q.priority ORDER BY "
	    "seq LIMIT 64)) END "
	    "FROM queue_counts AS q WHERE n > 0" },
	[STORE_STATS_HELD] = { "queue stats",
	    "SELECT "
	    "(SELECT count(*) FROM readings WHERE state = 1) + "
	    "(SELECT count(*) FROM events WHERE state = 1) + "
	    "(SELECT count(*) FROM summaries WHERE state = 1), "
	    "(SELECT count(*) FROM readings WHERE state = 3) + "
	    "(SELECT count(*) FROM events WHERE state = 3) + "
	    "(SELECT count(*) FROM summaries WHERE state = 3)" },
	[STORE_STATS_SHED] = { "queue stats",
	    "SELECT CAST(value AS INTEGER) FROM meta "
	    "WHERE key = 'shed_total'" },
	[STORE_PURGE_READINGS] = { "purge readings",
	    "DELETE FROM readings WHERE state = 2 AND ts < ?1" },
	[STORE_PURGE_EVENTS] = { "purge events",
	    "DELETE FROM events WHERE state = 2 AND ts < ?1" },
	[STORE_PURGE_SUMMARIES] = { "purge summaries",
	    "DELETE FROM summaries WHERE state = 2 AND period_start < ?1" },
	[STORE_META_GET] = { "meta get",
	    "SELECT value FROM meta WHERE key = ?1" },
	[STORE_META_SET] = { "meta set",
	    "INSERT INTO meta (key, value) VALUES (?1, ?2) "
	    "ON CONFLICT (key) DO UPDATE SET value = excluded.value" },
	[STORE_OFFSET_GET] = { "offset get",
	    "SELECT value FROM offsets WHERE source = ?1" },
	[STORE_OFFSET_SET] = { "offset set",
	    "INSERT INTO offsets (source, value, updated_at) VALUES (?1, ?2, ?3) "
	    "ON CONFLICT (source) DO UPDATE SET value = excluded.value, "
	    "updated_at = excluded.updated_at" },
	[STORE_OFFSET_DELETE] = { "offset delete",
	    "DELETE FROM offsets WHERE source = ?1" },
	[STORE_AUDIT] = { "audit",
	    "INSERT INTO audit (ts, kind, detail) VALUES (?1, ?2, ?3)" },
	[STORE_PAGES] = { "page count",
	    "SELECT page_count, freelist_count, page_size "
	    "FROM pragma_page_count(), pragma_freelist_count(), "
	    "pragma_page_size()" },
	/*
	 * A rowid range walked backwards: LIMIT rows read, never the table
	 * (the bare ORDER BY would plan the same walk as a "SCAN").
	 */
	[STORE_RECENT_EVENTS] = { "recent events",
	    "SELECT ts, rule, kind, device, sensor, value, severity, state "
	    "FROM events WHERE seq > 0 ORDER BY seq DESC LIMIT ?1" },
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STORE_NSTMT];
	char *path;	/* <dir>/outpost.db */
	char *wal_path; /* <dir>/outpost.db-wal */
	int lock_fd;	/* flock on <dir>/outpost.lock */
	long long checkpoint_pages;
	long long wal_frames; /* set by store_wal_hook_cb */
	char errmsg[256];     /* last failure, for logs */
	int full;	      /* SQLITE_FULL since the last commit that wrote */
	long long begin_changes; /* sqlite3_total_changes at store_begin */
	long long claimed[PRIORITY_COUNT]; /* the spool's batch in flight */
	long long settled[PRIORITY_COUNT]; /* acknowledged, not yet written */
};

static double
store_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps SQLite's message (the next call may replace it) and logs it. */
static int
store_fail(struct store *st, const char *what)
{
	snprintf(st->errmsg, sizeof st->errmsg, "%s: %s", what,
	    sqlite3_errmsg(st->db));
	log_error("store", "%s", st->errmsg);
	if ((sqlite3_errcode(st->db) & 0xff) == SQLITE_FULL)
		st->full = 1;
	return -1;
}

/* Steps a statement that returns no rows (or ignores them), then resets. */
static int
store_run(struct store *st, enum store_stmt i)
{
	sqlite3_stmt *s = st->stmt[i];
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE) {
		store_fail(st, store_stmt_defs[i].name);
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	return 0;
}

/* Runs a statement returning one integer row; -1 on failure. */
static long long
store_run_count(struct store *st, enum store_stmt i)
{
	sqlite3_stmt *s = st->stmt[i];
	long long n;

	if (sqlite3_step(s) != SQLITE_ROW) {
		store_fail(st, store_stmt_defs[i].name);
		sqlite3_reset(s);
		return -1;
	}
	n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return n;
}

/* Creates dir and its missing parents, mode 0700. */
static int
store_mkdirs(const char *dir, char **cause)
{
	struct stat sb;
	char *p, *s = xstrdup(dir);
	int rv = -1;

	if (*s == '\0') {
		xasprintf(cause, "empty data directory name");
		goto out;
	}
	for (p = s + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(s, 0700) == -1 && errno != EEXIST) {
			xasprintf(cause, "%s: %s", s, strerror(errno));
			goto out;
		}
		*p = '/';
	}
	if (mkdir(s, 0700) == -1 && errno != EEXIST) {
		xasprintf(cause, "%s: %s", s, strerror(errno));
		goto out;
	}
	if (stat(s, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		xasprintf(cause, "%s: not a directory", s);
		goto out;
	}
	rv = 0;
out:
	free(s);
	return rv;
}

/*
 * One agent per data directory: a second one would requeue the first
 * one's in-flight records and race it for uploads. flock is released by
 * the kernel when the process dies, so a crash never leaves it stale.
 */
static int
store_lock(struct store *st, const char *dir, char **cause)
{
	char *path, pid[32];
	ssize_t n;
	int rv = -1;

	xasprintf(&path, "%s/%s", dir, STORE_LOCK_NAME);
	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			goto out;
		}
		n = pread(st->lock_fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		xasprintf(cause,
		    "%s: another outpost (pid %s) is using this directory", dir,
		    pid[0] != '\0' ? pid : "unknown");
		goto out;
	}
	n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(st->lock_fd, 0) == -1 ||
	    pwrite(st->lock_fd, pid, (size_t)n, 0) != n)
		log_warn("store", "%s: cannot write the pid: %s", path,
		    strerror(errno));
	rv = 0;
out:
	free(path);
	return rv;
}

/* The WAL hook replaces wal_autocheckpoint: count frames, checkpoint later. */
static int
store_wal_hook_cb(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *st = arg;

	if (strcmp(name, "main") == 0)
		st->wal_frames = frames;
	return SQLITE_OK;
}

/* Reads one integer from a statement that is not kept (open time only). */
static int
store_query_int(struct store *st, const char *sql, long long *out)
{
	sqlite3_stmt *s = NULL;
	int rv = -1;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(s) != SQLITE_ROW)
		goto out;
	*out = sqlite3_column_int64(s, 0);
	rv = 0;
out:
	sqlite3_finalize(s);
	return rv;
}

static int
store_pragmas(struct store *st, const struct store_opts *opts, char **cause)
{
	sqlite3_stmt *s = NULL;
	const char *mode;
	char *sql = NULL;
	long long cache_kib, limit, page_size;
	int rv = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s,
		NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		xasprintf(cause, "%s: %s", st->path, sqlite3_errmsg(st->db));
		goto out;
	}
	mode = (const char *)sqlite3_column_text(s, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		xasprintf(cause,
		    "%s: cannot use WAL mode (journal_mode is %s; "
		    "is the file system local?)",
		    st->path, mode != NULL ? mode : "unknown");
		goto out;
	}
	cache_kib = opts->cache_kib > 0 ? opts->cache_kib : STORE_CACHE_KIB;
	/*
	 * Reset to at most twice the checkpoint threshold after a
	 * checkpoint: a WAL that grew while a reader held it back shrinks
	 * again, while the usual working size is not truncated and regrown
	 * every time (flash wear).
	 */
	if (store_query_int(st, "PRAGMA page_size", &page_size) == -1) {
		xasprintf(cause, "%s: %s", st->path, sqlite3_errmsg(st->db));
		goto out;
	}
	limit = 2 * st->checkpoint_pages * (page_size + 24);
	xasprintf(&sql,
	    "PRAGMA synchronous = %s;"
	    "PRAGMA foreign_keys = OFF;"
	    "PRAGMA wal_autocheckpoint = 0;"
	    "PRAGMA cache_size = -%lld;"
	    "PRAGMA temp_store = MEMORY;"
	    "PRAGMA journal_size_limit = %lld;",
	    opts->durability_full ? "FULL" : "NORMAL", cache_kib, limit);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: %s", st->path, sqlite3_errmsg(st->db));
		goto out;
	}
	/* After wal_autocheckpoint = 0, which clears any WAL hook. */
	sqlite3_wal_hook(st->db, store_wal_hook_cb, st);
	rv = 0;
out:
	sqlite3_finalize(s);
	free(sql);
	return rv;
}

static void
store_version_cause(struct store *st, long long version, char **cause)
{
	xasprintf(cause,
	    "%s: schema version %lld is newer than this outpost knows (%d): "
	    "refusing to open it (run a newer outpost, or move the file away)",
	    st->path, version, STORE_SCHEMA_VERSION);
}

static const struct store_migration *
store_migration_find(int version)
{
	size_t i;

	for (i = 0; i < sizeof store_migrations / sizeof *store_migrations;
	     i++) {
		if (store_migrations[i].version == version)
			return &store_migrations[i];
	}
	return NULL;
}

/* Brings the schema to STORE_SCHEMA_VERSION, one transaction per step. */
static int
store_migrate(struct store *st, char **cause)
{
	const struct store_migration *m;
	long long version;
	char sql[64];

	for (;;) {
		if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
			SQLITE_OK ||
		    store_query_int(st, "PRAGMA user_version", &version) == -1)
			goto fail;
		if (version > STORE_SCHEMA_VERSION) {
			store_version_cause(st, version, cause);
			goto fail_rollback;
		}
		if (version == STORE_SCHEMA_VERSION)
			break;
		if ((m = store_migration_find((int)version + 1)) == NULL) {
			xasprintf(cause, "%s: no migration from schema %lld",
			    st->path, version);
			goto fail_rollback;
		}
		snprintf(
		    sql, sizeof sql, "PRAGMA user_version = %d", m->version);
		if (sqlite3_exec(st->db, m->sql, NULL, NULL, NULL) !=
			SQLITE_OK ||
		    sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) !=
			SQLITE_OK)
			goto fail;
		log_info("store", "%s: schema version %lld -> %d", st->path,
		    version, m->version);
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	xasprintf(cause, "%s: schema: %s", st->path, sqlite3_errmsg(st->db));
fail_rollback:
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
store_prepare(struct store *st, char **cause)
{
	int i;

	for (i = 0; i < STORE_NSTMT; i++) {
		if (sqlite3_prepare_v3(st->db, store_stmt_defs[i].sql, -1,
			SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
			NULL) != SQLITE_OK) {
			xasprintf(cause, "%s: %s: %s", st->path,
			    store_stmt_defs[i].name, sqlite3_errmsg(st->db));
			return -1;
		}
	}
	return 0;
}

/*
 * A store's page size is fixed when its first table is written (changing
 * it later takes a VACUUM of the whole file). Every commit rewrites at
 * least the last page of the table and of each index it adds to: with
 * 4 KiB pages a commit of ten readings wrote about 1.7 KB per reading,
 * with 1 KiB pages about 0.6 KB (bench/bench_flash.sh), at no measurable
 * cost in insert speed for rows this small.
 */
static int
store_page_size(struct store *st, const struct store_opts *opts, char **cause)
{
	long long pages;
	char sql[48];

	if (opts->page_size <= 0)
		return 0;
	if (store_query_int(st, "PRAGMA page_count", &pages) == -1)
		goto fail;
	if (pages > 0)
		return 0; /* an empty schema of an older store: keep its size */
	snprintf(sql, sizeof sql, "PRAGMA page_size = %lld", opts->page_size);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	xasprintf(cause, "%s: page size: %s", st->path, sqlite3_errmsg(st->db));
	return -1;
}

/* Everything that creates files runs under umask 077 (see store_open). */
static int
store_open_db(struct store *st, const struct store_opts *opts, char **cause)
{
	long long version;

	if (sqlite3_open_v2(st->path, &st->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: %s", st->path,
		    st->db != NULL ? sqlite3_errmsg(st->db) : "out of memory");
		return -1;
	}
	/*
	 * Lookaside: 12,000 bytes (7 slots of 1200 and 28 of 128) instead of
	 * SQLite's default 48,000, which stays resident once start-up has
	 * used it. The insert path holds few small allocations at a time:
	 * this size still serves all of them (about 9 per reading, measured
	 * with SQLITE_DBSTATUS_LOOKASIDE_HIT/MISS_FULL); fewer slots send
	 * them to malloc. A no-op where SQLite omits lookaside (Debian 12).
	 */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 1200, 10);
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	/* Refuse a newer schema before switching its journal mode. */
	if (store_query_int(st, "PRAGMA user_version", &version) == -1) {
		xasprintf(cause, "%s: %s", st->path, sqlite3_errmsg(st->db));
		return -1;
	}
	if (version > STORE_SCHEMA_VERSION) {
		store_version_cause(st, version, cause);
		return -1;
	}
	if (version == 0 && store_page_size(st, opts, cause) == -1)
		return -1;
	if (store_pragmas(st, opts, cause) == -1 ||
	    store_migrate(st, cause) == -1 || store_prepare(st, cause) == -1)
		return -1;
	return 0;
}

struct store *
store_open(const char *dir, const struct store_opts *opts, char **cause)
{
	struct store *st = xcalloc(1, sizeof *st);
	mode_t mask;
	int rv;

	*cause = NULL;
	st->lock_fd = -1;
	st->checkpoint_pages = opts->checkpoint_pages > 0
	    ? opts->checkpoint_pages
	    : STORE_CHECKPOINT_PAGES;
	xasprintf(&st->path, "%s/%s", dir, STORE_DB_NAME);
	xasprintf(&st->wal_path, "%s-wal", st->path);
	if (store_mkdirs(dir, cause) == -1 || store_lock(st, dir, cause) == -1)
		goto fail;
	/*
	 * SQLite creates the database 0644 & ~umask and gives the -wal and
	 * -shm files the database's mode, so the umask decides all three.
	 * No other thread runs while it is changed.
	 */
	mask = umask(077);
	rv = store_open_db(st, opts, cause);
	umask(mask);
	if (rv == -1)
		goto fail;
	if (opts->max_pages > 0 &&
	    store_set_max_pages(st, opts->max_pages) == -1) {
		xasprintf(cause, "%s: %s", st->path, st->errmsg);
		goto fail;
	}
	log_info("store",
	    "%s: open (schema %d, synchronous %s, checkpoint "
	    "after %lld pages)",
	    st->path, STORE_SCHEMA_VERSION,
	    opts->durability_full ? "full" : "normal", st->checkpoint_pages);
	return st;
fail:
	store_free(st);
	return NULL;
}

void
store_free(struct store *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < STORE_NSTMT; i++)
		sqlite3_finalize(st->stmt[i]);
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_error(
		    "store", "%s: close: %s", st->path, sqlite3_errmsg(st->db));
	if (st->lock_fd != -1)
		close(st->lock_fd);
	free(st->path);
	free(st->wal_path);
	free(st);
}

int
store_begin(struct store *st)
{
	st->begin_changes = sqlite3_total_changes64(st->db);
	return store_run(st, STORE_BEGIN);
}

/* Binds borrowed text without copying: every call rebinds every column. */
static int
store_bind_text(sqlite3_stmt *s, int col, const char *text, size_t max)
{
	return sqlite3_bind_text(
	    s, col, text, (int)strnlen(text, max), SQLITE_STATIC);
}

int
store_add_reading(struct store *st, const struct reading *r)
{
	sqlite3_stmt *s = st->stmt[STORE_ADD_READING];
	int rc;

	/*
	 * SQLite would store NaN as NULL and INSERT OR IGNORE would then
	 * drop the row without a word: refuse it loudly instead.
	 */
	if (!isfinite(r->ts) || !isfinite(r->value) ||
	    (unsigned)r->priority >= PRIORITY_COUNT) {
		snprintf(st->errmsg, sizeof st->errmsg,
		    "add reading: %.*s/%.*s:"
		    " non-finite ts or value, or unknown priority",
		    READING_DEVICE_MAX, r->device, READING_SENSOR_MAX,
		    r->sensor);
		log_error("store", "%s", st->errmsg);
		return -1;
	}
	if (sqlite3_bind_blob(s, 1, r->id, RECORD_ID_LEN, SQLITE_STATIC) ||
	    store_bind_text(s, 2, r->device, sizeof r->device) ||
	    store_bind_text(s, 3, r->sensor, sizeof r->sensor) ||
	    sqlite3_bind_double(s, 4, r->ts) ||
	    sqlite3_bind_double(s, 5, r->value) ||
	    store_bind_text(s, 6, r->unit, sizeof r->unit) ||
	    (r->meta[0] == '\0'
		    ? sqlite3_bind_null(s, 7)
		    : store_bind_text(s, 7, r->meta, sizeof r->meta)) ||
	    sqlite3_bind_int(s, 8, (int)r->priority) ||
	    (r->mono_ns == 0
		    ? sqlite3_bind_null(s, 9)
		    : sqlite3_bind_int64(s, 9, (sqlite3_int64)r->mono_ns)) ||
	    sqlite3_bind_int(s, 10, r->unsynced ? 0 : 1)) {
		store_fail(st, "add reading");
		sqlite3_reset(s);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		store_fail(st, "add reading");
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	return 0;
}

int
store_commit(struct store *st)
{
	if (store_run(st, STORE_COMMIT) == 0) {
		/* Only a commit that wrote proves there is room again. */
		if (sqlite3_total_changes(st->db) > st->begin_changes)
			st->full = 0;
		return 0;
	}
	/* Leave no half-open transaction behind: nothing of it is stored. */
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

void
store_rollback(struct store *st)
{
	/* SQLite may already have rolled back after an I/O or full error. */
	if (!sqlite3_get_autocommit(st->db))
		store_run(st, STORE_ROLLBACK);
}

/*
 * Runs n statements in one transaction, binding ?1 to ts when it is not
 * NULL; *changed is the rows they changed in all, 0 when rolled back.
 */
static int
store_run_all(struct store *st, const enum store_stmt *stmts, size_t n,
    const double *ts, long long *changed)
{
	size_t i;

	*changed = 0;
	if (store_begin(st) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (ts != NULL)
			sqlite3_bind_double(st->stmt[stmts[i]], 1, *ts);
		if (store_run(st, stmts[i]) == -1) {
			store_rollback(st);
			*changed = 0;
			return -1;
		}
		*changed += sqlite3_changes(st->db);
	}
	if (store_commit(st) == -1) {
		*changed = 0;
		return -1;
	}
	return 0;
}

int
store_requeue_in_flight(struct store *st, long long *n)
{
	static const enum store_stmt stmts[] = { STORE_REQUEUE_READINGS,
		STORE_REQUEUE_EVENTS, STORE_REQUEUE_SUMMARIES };

	return store_run_all(st, stmts, sizeof stmts / sizeof *stmts, NULL, n);
}

/* Copies the per-priority counts the spool holds in memory (NULL: none). */
static void
store_set_counts(long long dst[PRIORITY_COUNT], const long long *src)
{
	if (src == NULL)
		memset(dst, 0, PRIORITY_COUNT * sizeof *dst);
	else
		memcpy(dst, src, PRIORITY_COUNT * sizeof *dst);
}

void
store_set_claimed(struct store *st, const long long by_priority[PRIORITY_COUNT])
{
	store_set_counts(st->claimed, by_priority);
}

void
store_set_settled(struct store *st, const long long by_priority[PRIORITY_COUNT])
{
	store_set_counts(st->settled, by_priority);
}

int
store_queue_stats(struct store *st, struct store_queue_stats *qs)
{
	sqlite3_stmt *s;
	long long n;
	double ts;
	int rc, p;

	memset(qs, 0, sizeof *qs);
	s = st->stmt[STORE_STATS_PENDING];
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		p = sqlite3_column_int(s, 0);
		n = sqlite3_column_int64(s, 1);
		ts = sqlite3_column_double(s, 2);
		if (p >= 0 && p < PRIORITY_COUNT)
			qs->by_priority[p] += n;
		qs->pending += n;
		if (sqlite3_column_type(s, 2) != SQLITE_NULL &&
		    (qs->oldest_pending_ts == 0 || ts < qs->oldest_pending_ts))
			qs->oldest_pending_ts = ts;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_reset(s);

	/* Claimed records are still queued rows: report them in flight;
	 * acknowledged ones waiting to be written are no longer pending. */
	for (p = 0; p < PRIORITY_COUNT; p++) {
		n = st->claimed[p] < qs->by_priority[p] ? st->claimed[p]
							: qs->by_priority[p];
		qs->by_priority[p] -= n;
		qs->pending -= n;
		qs->in_flight += n;
		n = st->settled[p] < qs->by_priority[p] ? st->settled[p]
							: qs->by_priority[p];
		qs->by_priority[p] -= n;
		qs->pending -= n;
	}

	s = st->stmt[STORE_STATS_HELD];
	if (sqlite3_step(s) != SQLITE_ROW)
		goto fail;
	qs->in_flight += sqlite3_column_int64(s, 0);
	qs->dead_letter = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);

	s = st->stmt[STORE_STATS_SHED];
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		qs->shed_total = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_reset(s);
	return 0;
fail:
	store_fail(st, "queue stats");
	sqlite3_reset(s);
	return -1;
}

long long
store_count_readings(struct store *st)
{
	return store_run_count(st, STORE_COUNT_READINGS);
}

long long
store_count_events(struct store *st)
{
	return store_run_count(st, STORE_COUNT_EVENTS);
}

/*
 * One rule event, at priority = severity. Outside a transaction it is one
 * of its own; a replay of the same id is ignored.
 */
int
store_add_event(struct store *st, const unsigned char id[RECORD_ID_LEN],
    const struct store_event *ev, const char *detail)
{
	sqlite3_stmt *s = st->stmt[STORE_ADD_EVENT];

	if (!isfinite(ev->ts) || !isfinite(ev->value) ||
	    (unsigned)ev->severity >= PRIORITY_COUNT) {
		snprintf(st->errmsg, sizeof st->errmsg,
		    "add event: %s: non-finite ts or value, or unknown "
		    "severity",
		    ev->rule);
		log_error("store", "%s", st->errmsg);
		return -1;
	}
	if (sqlite3_bind_blob(s, 1, id, RECORD_ID_LEN, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 2, ev->rule, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 3, ev->kind, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 4, ev->device, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(s, 5, ev->sensor, -1, SQLITE_STATIC) ||
	    sqlite3_bind_double(s, 6, ev->ts) ||
	    sqlite3_bind_double(s, 7, ev->value) ||
	    sqlite3_bind_int(s, 8, (int)ev->severity) ||
	    (detail == NULL
		    ? sqlite3_bind_null(s, 9)
		    : sqlite3_bind_text(s, 9, detail, -1, SQLITE_STATIC))) {
		store_fail(st, "add event");
		sqlite3_reset(s);
		return -1;
	}
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_fail(st, "add event");
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return -1;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return 0;
}

/* The n newest rows of "events", newest first; how many, or -1. */
int
store_recent_events(struct store *st, size_t n, store_event_cb *cb, void *arg)
{
	sqlite3_stmt *s = st->stmt[STORE_RECENT_EVENTS];
	struct store_event ev;
	int rc, count = 0;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)n);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&ev, 0, sizeof ev);
		ev.ts = sqlite3_column_double(s, 0);
		ev.rule = (const char *)sqlite3_column_text(s, 1);
		ev.kind = (const char *)sqlite3_column_text(s, 2);
		ev.device = (const char *)sqlite3_column_text(s, 3);
		ev.sensor = (const char *)sqlite3_column_text(s, 4);
		ev.value = sqlite3_column_double(s, 5);
		ev.severity = (enum priority)sqlite3_column_int(s, 6);
		ev.state = (enum store_state)sqlite3_column_int(s, 7);
		if (ev.rule == NULL || ev.kind == NULL || ev.device == NULL ||
		    ev.sensor == NULL)
			continue;
		cb(arg, &ev);
		count++;
	}
	if (rc != SQLITE_DONE) {
		store_fail(st, "recent events");
		count = -1;
	}
	sqlite3_reset(s);
	return count;
}

int
store_purge_sent(struct store *st, double before_ts, long long *purged)
{
	static const enum store_stmt stmts[] = { STORE_PURGE_READINGS,
		STORE_PURGE_EVENTS, STORE_PURGE_SUMMARIES };

	return store_run_all(
	    st, stmts, sizeof stmts / sizeof *stmts, &before_ts, purged);
}

int
store_checkpoint(struct store *st, int force)
{
	int rc, nlog = 0, nckpt = 0;

	if (!force && st->wal_frames <= st->checkpoint_pages)
		return 0;
	rc = sqlite3_wal_checkpoint_v2(st->db, "main",
	    force ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE,
	    &nlog, &nckpt);
	if (rc != SQLITE_OK) {
		if ((rc & 0xff) != SQLITE_BUSY)
			return store_fail(st, "checkpoint");
		/* A reader (an operator's shell) holds the WAL: next time. */
		snprintf(st->errmsg, sizeof st->errmsg, "checkpoint: %s",
		    sqlite3_errmsg(st->db));
		log_warn("store", "%s", st->errmsg);
		return -1;
	}
	log_debug("store", "checkpoint%s: %d of %d WAL frames",
	    force ? " (truncate)" : "", nckpt, nlog);
	/* A fully copied WAL restarts from its beginning on the next write. */
	st->wal_frames = nckpt == nlog ? 0 : nlog;
	return 0;
}

/* Reads page_count, freelist_count and page_size. */
static int
store_pages(
    struct store *st, long long *count, long long *free_count, long long *size)
{
	sqlite3_stmt *s = st->stmt[STORE_PAGES];

	if (sqlite3_step(s) != SQLITE_ROW) {
		store_fail(st, "page count");
		sqlite3_reset(s);
		return -1;
	}
	*count = sqlite3_column_int64(s, 0);
	*free_count = sqlite3_column_int64(s, 1);
	*size = sqlite3_column_int64(s, 2);
	sqlite3_reset(s);
	return 0;
}

long long
store_db_bytes(struct store *st)
{
	long long count, free_count, size;

	if (store_pages(st, &count, &free_count, &size) == -1)
		return -1;
	return count * size;
}

long long
store_db_free_bytes(struct store *st)
{
	long long count, free_count, size;

	if (store_pages(st, &count, &free_count, &size) == -1)
		return -1;
	return free_count * size;
}

long long
store_wal_bytes(struct store *st)
{
	struct stat sb;

	if (stat(st->wal_path, &sb) == -1)
		return errno == ENOENT ? 0 : -1;
	return (long long)sb.st_size;
}

/* One text value by key: 0 found, 1 absent, -1 error or too long. */
static int
store_get_text(
    struct store *st, enum store_stmt i, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *s = st->stmt[i];
	const char *v;
	int rc, rv = -1;

	if (len > 0)
		buf[0] = '\0';
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		rv = 1;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		store_fail(st, store_stmt_defs[i].name);
		goto out;
	}
	v = (const char *)sqlite3_column_text(s, 0);
	if (v == NULL)
		v = "";
	if (xstrlcpy(buf, v, len) >= len) {
		snprintf(st->errmsg, sizeof st->errmsg,
		    "%s: %s: value longer than %zu bytes",
		    store_stmt_defs[i].name, key, len);
		log_error("store", "%s", st->errmsg);
		goto out;
	}
	rv = 0;
out:
	sqlite3_reset(s);
	return rv;
}

int
store_meta_get(struct store *st, const char *key, char *buf, size_t len)
{
	return store_get_text(st, STORE_META_GET, key, buf, len);
}

int
store_offset_get(struct store *st, const char *source, char *buf, size_t len)
{
	return store_get_text(st, STORE_OFFSET_GET, source, buf, len);
}

int
store_offset_set(struct store *st, const char *source, const char *value)
{
	sqlite3_stmt *s;

	if (value == NULL) {
		s = st->stmt[STORE_OFFSET_DELETE];
		sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
		return store_run(st, STORE_OFFSET_DELETE);
	}
	s = st->stmt[STORE_OFFSET_SET];
	sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 3, store_now());
	return store_run(st, STORE_OFFSET_SET);
}

int
store_meta_set(struct store *st, const char *key, const char *value)
{
	sqlite3_stmt *s = st->stmt[STORE_META_SET];

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (value != NULL)
		sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	return store_run(st, STORE_META_SET);
}

int
store_audit(struct store *st, const char *kind, const char *detail)
{
	sqlite3_stmt *s = st->stmt[STORE_AUDIT];

	sqlite3_bind_double(s, 1, store_now());
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	if (detail != NULL)
		sqlite3_bind_text(s, 3, detail, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 3);
	return store_run(st, STORE_AUDIT);
}

/*
 * SQLite never lowers max_page_count below the pages in use, so a limit
 * under the current size means "no growth", and 0 lifts the limit (SQLite
 * clamps the value to its compile-time maximum).
 */
int
store_set_max_pages(struct store *st, long long max_pages)
{
	char sql[64];

	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
	    max_pages > 0 ? max_pages : 4294967294LL);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(st, "max_page_count");
	return 0;
}

int
store_full(struct store *st)
{
	return st->full;
}

const char *
store_errmsg(struct store *st)
{
	return st->errmsg[0] != '\0' ? st->errmsg : "no error";
}

struct sqlite3 *
store_db(struct store *st)
{
	return st->db;
}
