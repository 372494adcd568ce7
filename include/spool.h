/*
 * The upload queue inside the store: claim a batch (read, held in memory
 * as in flight), then ack (-> sent, or deleted when nothing sent is
 * kept), nack (attempts + 1; dead_letter after max_attempts), reject
 * (-> dead_letter) or release (forgotten: still queued). Also the per-priority TTL and
 * the shedding that keeps the store under max_db_bytes (invariant 5).
 * Pending records are found through partial indexes, never copied.
 */
#ifndef OUTPOST_SPOOL_H
#define OUTPOST_SPOOL_H

#include <stddef.h>

#include "encode.h"
#include "reading.h"

struct spool;
struct store;

#define SPOOL_TABLES 3 /* readings, events, summaries */

struct spool_opts {
	double ttl_s[PRIORITY_COUNT]; /* 0 = forever */
	long long max_attempts;	      /* 0 = retry forever */
	long long max_db_bytes;	      /* shedding threshold */
	int delete_on_ack; /* retention 0: sent records are not kept */
};

/* The records of one claimed batch, by table, as row ids. */
struct spool_batch {
	long long *seqs[SPOOL_TABLES];
	unsigned char (*ids[SPOOL_TABLES])[RECORD_ID_LEN];
	size_t n[SPOOL_TABLES];
	long long by_priority[PRIORITY_COUNT];
	size_t cap;   /* per table, = the batch size */
	size_t count; /* total records */
};

/* Called once per claimed record; strings are valid during the call. */
typedef void spool_record_cb(void *arg, const struct encode_record *);

struct spool *spool_new(struct store *, const struct spool_opts *);
void spool_free(struct spool *);
void spool_set_opts(struct spool *, const struct spool_opts *);

void spool_batch_init(struct spool_batch *, size_t cap);
void spool_batch_free(struct spool_batch *);

/*
 * Claims up to max queued records of priority <= max_priority (critical
 * first, then oldest first) and hands each to cb. One batch at a time: the
 * previous one must have been acked, nacked, rejected or released. The
 * records stay queued in the store (a crash resends them); the store's
 * statistics count them as in flight. Returns the number claimed, or -1.
 */
long long spool_claim(struct spool *, size_t max, enum priority max_priority,
    spool_record_cb *cb, void *arg, struct spool_batch *);
/* The collector accepted the batch: marked sent (or deleted) at once. */
int spool_ack(struct spool *, struct spool_batch *, double now);
/*
 * The same, written with the next transaction instead of one of its own:
 * the pipeline's next group commit (spool_settle_in inside it, then
 * spool_settle_done with its outcome), else the next claim or
 * spool_free (spool_settle). A reading's insert and its acknowledgement
 * then share their transactions' fixed page writes, and with retention 0
 * the pages its deletion frees are rewritten by the inserts of the same
 * transaction instead of once each. A crash before then sends the batch
 * again, under the same record ids. Meanwhile the statistics count it as
 * neither queued nor in flight.
 */
int spool_ack_later(struct spool *, struct spool_batch *, double now);
int spool_settle_in(struct spool *);
void spool_settle_done(struct spool *, int committed);
void spool_settle(struct spool *);
/* A retryable failure: back to queued (dead_letter past max_attempts). */
int spool_nack(struct spool *, struct spool_batch *, long long *dead);
/* Rejected by the collector: dead_letter, never retried. */
int spool_reject(struct spool *, struct spool_batch *);

/* The request was abandoned (stop, reload): queued again, no attempt. */
int spool_release(struct spool *, struct spool_batch *);

/* Drops queued records older than their priority's TTL; counted as shed. */
int spool_expire(struct spool *, double now, long long *shed);
/*
 * Keeps the live data under max_db_bytes: expired first (done by
 * spool_expire), then low oldest first, then normal, high, and critical
 * last; sent records before any of them. Counted in meta shed_total.
 */
int spool_shed(struct spool *, long long *shed);
/*
 * The same order down to target_bytes of live data, but queued records
 * more urgent than last are kept (a full disk: they are refused at the
 * source instead of deleted after being acknowledged).
 */
int spool_shed_to(struct spool *, long long target_bytes, enum priority last,
    long long *shed);
/* Bytes of live pages (page_count - freelist) * page_size. */
long long spool_live_bytes(struct spool *);
long long spool_pending(struct spool *);

#endif
