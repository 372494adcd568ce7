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

#define STORE_SCHEMA_VERSION	1

struct store_opts {
	int		 durability_full;	/* synchronous=FULL */
	long long	 checkpoint_pages;	/* WAL pages before checkpoint */
	long long	 cache_kib;		/* SQLite page cache bound */
};

struct store_queue_stats {
	long long	 pending;		/* queued */
	long long	 in_flight;
	long long	 by_priority[PRIORITY_COUNT];	/* queued */
	long long	 dead_letter;
	long long	 sent;
	double		 oldest_pending_ts;	/* 0 when none */
	long long	 shed_total;		/* from meta */
};

/* Opens or creates <dir>/outpost.db (dir created 0700, file 0600). */
struct store	*store_open(const char *dir, const struct store_opts *,
		    char **cause);
void		 store_free(struct store *);

/* Group commit: begin, add many, commit (or rollback on failure). */
int		 store_begin(struct store *);
int		 store_add_reading(struct store *, const struct reading *);
int		 store_commit(struct store *);
void		 store_rollback(struct store *);

/* Start-up recovery (DESIGN invariant 4): in_flight back to queued. */
int		 store_requeue_in_flight(struct store *, long long *n);

int		 store_queue_stats(struct store *, struct store_queue_stats *);
long long	 store_count_readings(struct store *);

/* Passive checkpoint when the WAL holds more than checkpoint_pages (or
 * always, with force); truncates the WAL file when force is set. */
int		 store_checkpoint(struct store *, int force);
long long	 store_db_bytes(struct store *);
long long	 store_wal_bytes(struct store *);

/* Key-value table "meta". */
int		 store_meta_get(struct store *, const char *key, char *buf,
		    size_t len);
int		 store_meta_set(struct store *, const char *key,
		    const char *value);
/* Appends a row to "audit". */
int		 store_audit(struct store *, const char *kind,
		    const char *detail);

/* Last SQLite error text, for logs. */
const char	*store_errmsg(struct store *);
/* The handle, for modules of the same layer (spool). */
struct sqlite3	*store_db(struct store *);

#endif
