/*
 * The reading path: an adapter submits a reading to its source; the pipeline
 * stamps its id, runs the admission hook (privacy, later), keeps it in the
 * source's ring and commits all rings to the store in one transaction per
 * tick (group commit). Submitters that acknowledge a source get their
 * callback once the transaction holding the reading has committed.
 */
#ifndef OUTPOST_PIPELINE_H
#define OUTPOST_PIPELINE_H

#include <stddef.h>

#include "reading.h"
#include "ringbuf.h"

struct event_base;
struct pipeline;
struct pipeline_src;
struct store;
struct wallclock;

/* ok = 1: committed; ok = 0: refused or dropped (do not acknowledge). */
typedef ringbuf_done_cb pipeline_done_cb;

struct pipeline_opts {
	const char *agent_id;	  /* copied */
	double commit_interval_s; /* longest a reading waits */
	size_t commit_max;	  /* commit when this many are buffered */
};

/*
 * Edge-logic hooks (privacy, rules), called on the loop for every reading.
 * admit: 0 keeps the reading (it may change it), -1 drops it silently
 * (counted as filtered). committed: after the transaction, per reading.
 */
struct pipeline_hooks {
	int (*admit)(void *arg, struct reading *);
	void (*committed)(void *arg, const struct reading *);
	/*
	 * Other writes that ride in the group commit's transaction: called
	 * after the readings were added (-1 rolls the whole transaction
	 * back), then told whether it committed.
	 */
	int (*in_txn)(void *arg);
	void (*txn_done)(void *arg, int committed);
	void *arg;
};

struct pipeline_src_stats {
	unsigned long long submitted;
	unsigned long long committed;
	unsigned long long filtered; /* admit hook said no */
	unsigned long long dropped;  /* could not be stored */
	double last_reading_ts;
};

struct pipeline_stats {
	unsigned long long committed;
	unsigned long long filtered;
	unsigned long long dropped;
	unsigned long long commits; /* transactions */
	unsigned long long commit_failures;
	unsigned long long consecutive_failures; /* 0 after a commit */
	size_t buffered;
};

struct pipeline *
pipeline_new(struct event_base *, struct store *, const struct pipeline_opts *);
void pipeline_free(struct pipeline *); /* commits first */
void pipeline_set_hooks(struct pipeline *, const struct pipeline_hooks *);
void pipeline_set_agent_id(struct pipeline *, const char *);
/*
 * The wall clock's trust (wallclock.h): readings our clock stamped before
 * it was trusted are marked unsynced and get their id from boot id and
 * monotonic time. NULL (the default): every ts is trusted.
 */
void pipeline_set_wallclock(struct pipeline *, struct wallclock *);
/*
 * Storage pressure: readings less urgent than lowest are refused (done
 * with ok = 0, so acknowledged sources keep them). Default PRIORITY_LOW.
 */
void pipeline_set_min_priority(struct pipeline *, enum priority lowest);

/* A source: one ring of the given capacity, named for stats and logs. */
struct pipeline_src *
pipeline_src_new(struct pipeline *, const char *name, size_t capacity);
/* Commits what the source holds, then frees it. */
void pipeline_src_free(struct pipeline_src *);
const struct pipeline_src_stats *
pipeline_src_stats(const struct pipeline_src *);

/*
 * Hands a reading over (copied). done, if not NULL, is called exactly once:
 * after commit, or on refusal. Returns 0 if accepted, -1 if refused now
 * (done has then already been called with ok = 0).
 */
int pipeline_submit(struct pipeline_src *, const struct reading *,
    pipeline_done_cb *done, void *arg);

/*
 * Source positions (a file offset, an MQTT packet committed but not yet
 * acknowledged), written to the store's offsets table in the transaction
 * that commits the readings submitted before them. value NULL deletes the
 * key. Keys up to PIPELINE_OFFSET_KEY_MAX, values up to
 * PIPELINE_OFFSET_VALUE_MAX bytes; the latest value of a key wins. -1 when
 * too long, or when the source's table is full because the store fails.
 */
#define PIPELINE_OFFSET_KEY_MAX 96
#define PIPELINE_OFFSET_VALUE_MAX 160
int pipeline_src_set_offset(
    struct pipeline_src *, const char *key, const char *value);
/* The committed value: 0 found, 1 absent, -1 error. */
int pipeline_src_get_offset(
    struct pipeline_src *, const char *key, char *buf, size_t len);

/* Commits everything buffered now; 0 on success. */
int pipeline_commit(struct pipeline *);
void pipeline_stats(const struct pipeline *, struct pipeline_stats *);

#endif
