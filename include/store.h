/*
 * The SQLite store: schema and migrations, prepared statements, the
 * transactions the pipeline's group commit asks for, queue statistics,
 * checkpoints and sizes. It knows nothing of libevent or the network.
 * Tables and columns are documented in docs/store.md.
 */
#ifndef OUTPOST_STORE_H
#define OUTPOST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "reading.h"

struct sqlite3;
struct store;

/* Upload states of a record (column "state"). */
enum store_state {
	STORE_QUEUED = 0,
	STORE_IN_FLIGHT = 1,
	STORE_SENT = 2,
	STORE_DEAD_LETTER = 3,
};

#define STORE_SCHEMA_VERSION 3

struct store_opts {
	int durability_full;	    /* synchronous=FULL */
	long long checkpoint_pages; /* WAL pages before checkpoint */
	long long cache_kib;	    /* SQLite page cache bound */
	long long max_pages;	    /* 0 = none; a test/ops knob */
	long long page_size;	    /* a new store's; 0 = SQLite's default */
};

struct store_queue_stats {
	long long pending; /* queued */
	long long in_flight;
	long long by_priority[PRIORITY_COUNT]; /* queued */
	long long dead_letter;
	double oldest_pending_ts; /* 0 when none */
	long long shed_total;	  /* from meta */
};

/*
 * Opens or creates <dir>/outpost.db (dir created 0700, files 0600),
 * migrates its schema; refuses a newer schema and a directory another
 * process holds (<dir>/outpost.lock). NULL with *cause set on failure.
 */
struct store *
store_open(const char *dir, const struct store_opts *, char **cause);
void store_free(struct store *);

/*
 * Group commit: begin, add many, commit (or rollback on failure). Once
 * store_commit returns 0 the readings survive a crash of the process
 * (synchronous=NORMAL) or of the machine (durability_full). A failed
 * commit leaves nothing of the transaction; store_rollback is then a
 * no-op. store_add_reading ignores a replay (same ts and id, stored
 * before) and refuses (-1, transaction intact) a non-finite ts or value or an
 * unknown priority.
 */
int store_begin(struct store *);
int store_add_reading(struct store *, const struct reading *);
int store_commit(struct store *);
void store_rollback(struct store *);

/*
 * Start-up recovery (DESIGN invariant 4): in_flight back to queued. Only
 * stores written by older versions hold in_flight rows; the batch in
 * flight now lives in memory (spool.h) and is told here, by priority (NULL:
 * none), so that the statistics count it in flight rather than queued.
 */
int store_requeue_in_flight(struct store *, long long *n);
void
store_set_claimed(struct store *, const long long by_priority[PRIORITY_COUNT]);
/* Acknowledged records whose new state is not written yet (spool.h). */
void
store_set_settled(struct store *, const long long by_priority[PRIORITY_COUNT]);

/*
 * Reads the partial indexes only: the cost grows with the backlog, not
 * with the sent history (no count of sent rows, which would walk the
 * whole table on every /health and /metrics request).
 */
int store_queue_stats(struct store *, struct store_queue_stats *);
/* Row counts, or -1. */
long long store_count_readings(struct store *);
long long store_count_events(struct store *);

/* One row of "events" (strings valid only during the callback). */
struct store_event {
	double ts; /* Unix s */
	const char *rule;
	const char *kind; /* fire | clear */
	const char *device;
	const char *sensor;
	double value;
	enum priority severity;
	enum store_state state;
};
typedef void store_event_cb(void *arg, const struct store_event *);
/*
 * Adds one row to "events" (priority = severity, state queued); its own
 * transaction unless one is open. A replay of the same id is ignored.
 */
int store_add_event(struct store *, const unsigned char id[RECORD_ID_LEN],
    const struct store_event *, const char *detail);
/* The n newest rows of "events", newest first; how many, or -1. */
int
store_recent_events(struct store *, size_t n, store_event_cb *cb, void *arg);

/* Passive checkpoint when the WAL holds more than checkpoint_pages (or
 * always, with force); truncates the WAL file when force is set. */
int store_checkpoint(struct store *, int force);
/* page_count * page_size; the free part is reused before the file grows. */
long long store_db_bytes(struct store *);
long long store_db_free_bytes(struct store *);
long long store_wal_bytes(struct store *);

/*
 * Deletes uploaded (sent) records stamped before before_ts: readings and
 * events by ts, summaries by period_start; one transaction.
 */
int store_purge_sent(struct store *, double before_ts, long long *purged);

/*
 * Key-value table "meta". store_meta_get returns 0 with the value in buf,
 * 1 when the key is absent (buf = ""), -1 on error or when the value does
 * not fit in len bytes.
 */
int store_meta_get(struct store *, const char *key, char *buf, size_t len);
int store_meta_set(struct store *, const char *key, const char *value);
/*
 * Table "offsets": where an acknowledged source stands (a file's position,
 * an MQTT packet committed but not yet acknowledged). Set inside the group
 * commit's transaction, so the position and the readings it covers are
 * durable together. get: 0 found, 1 absent, -1 error. set: NULL deletes.
 */
int store_offset_get(struct store *, const char *source, char *buf, size_t len);
int store_offset_set(struct store *, const char *source, const char *value);

/* Appends a row to "audit". */
int store_audit(struct store *, const char *kind, const char *detail);

/*
 * PRAGMA max_page_count: the database cannot grow past it (SQLITE_FULL),
 * like a full disk; 0 lifts the limit. A test and operations knob.
 */
int store_set_max_pages(struct store *, long long max_pages);
/*
 * 1 after a write failed with SQLITE_FULL (disk or max_pages), until a
 * transaction that wrote something commits.
 */
int store_full(struct store *);

/* Last SQLite error text, for logs. */
const char *store_errmsg(struct store *);
/* The handle, for modules of the same layer (spool). */
struct sqlite3 *store_db(struct store *);

#endif
