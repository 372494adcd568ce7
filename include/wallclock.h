/*
 * The wall clock of a device without a real-time clock: whether it can be
 * trusted yet, the boot id, which readings are stamped before it is, and
 * the correction of their timestamps once it is (from the monotonic time
 * each reading carries). Uploads of uncorrected readings wait (spool.c).
 *
 * Column readings.synced: 1 trusted, 0 waiting for correction (this boot),
 * 2 stamped before the clock was trusted in an earlier boot: uncorrectable,
 * kept, uploaded as stamped with "clock":"unsynced" in its meta.
 */
#ifndef OUTPOST_WALLCLOCK_H
#define OUTPOST_WALLCLOCK_H

#include <stdint.h>

#include "reading.h"

struct event_base;
struct store;
struct wallclock;

#define WALLCLOCK_BOOT_ID_MAX 64
#define WALLCLOCK_SYNCED 1
#define WALLCLOCK_WAITING 0
#define WALLCLOCK_UNCORRECTABLE 2

struct wallclock_opts {
	double trusted_after_ts; /* Unix seconds: earlier is not trusted */
	int require_sync;	 /* also wait for adjtimex to say synced */
	double check_interval_s; /* how often trust is re-evaluated */
};

/*
 * Where time comes from. Tests replace it; a NULL member is the system's
 * (CLOCK_REALTIME, CLOCK_MONOTONIC, adjtimex).
 */
struct wallclock_source {
	double (*wall)(void *arg);
	uint64_t (*mono_ns)(void *arg);
	int (*kernel_synced)(void *arg); /* 1 synchronised, 0 not */
	void *arg;
};

struct wallclock_stats {
	int trusted;
	double trusted_since;	      /* Unix seconds of the last transition */
	unsigned long long corrected; /* rows corrected, this process */
	unsigned long long uncorrectable;    /* rows of older boots flagged */
	unsigned long long stamped_unsynced; /* readings stamped untrusted */
	int pending;			     /* stored rows wait for a fix */
};

/*
 * Start-up: reads the boot id (boot_id NULL: /proc/sys/kernel/random/
 * boot_id, or a random one if absent), flags rows an earlier boot left
 * uncorrected, evaluates trust and, if trusted, corrects what this boot
 * stored before. source may be NULL. Never fails: store errors are logged
 * and retried at the next check.
 */
struct wallclock *wallclock_new(struct store *, const struct wallclock_opts *,
    const struct wallclock_source *, const char *boot_id);
void wallclock_free(struct wallclock *);
void wallclock_set_opts(struct wallclock *, const struct wallclock_opts *);
/* Arms the periodic check on base. */
int wallclock_start(struct wallclock *, struct event_base *);

/*
 * Re-evaluates trust; on becoming trusted (or while rows wait) corrects
 * the stored rows of this boot in one transaction and audits it. Returns
 * 1 when trusted, 0 when not.
 */
int wallclock_check(struct wallclock *);
int wallclock_trusted(const struct wallclock *);
/* Stored rows still wait for a correction: TTL expiry must not see them. */
int wallclock_pending(const struct wallclock *);
const char *wallclock_boot_id(const struct wallclock *);
void wallclock_stats(const struct wallclock *, struct wallclock_stats *);

/*
 * The reading path (pipeline). stamp, at submit: marks r->unsynced when
 * our own clock stamped ts (r->ts_local) and is not trusted. fix, just before the
 * insert: if the clock is trusted by now, corrects an unsynced r->ts from
 * its monotonic time and clears the mark (its id stays: recid_reading_mono).
 */
void wallclock_stamp(struct wallclock *, struct reading *);
void wallclock_fix(const struct wallclock *, struct reading *);

/*
 * "2024-01-01", "2024-01-01T12:00:00Z" or Unix seconds as text, to Unix
 * seconds; -1 if not one of these.
 */
int wallclock_parse_time(const char *, double *out);

#endif
