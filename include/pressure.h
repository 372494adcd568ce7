/*
 * Storage pressure and graceful degradation (DESIGN invariant 5): watches
 * the store's live size against max_db_mb and SQLITE_FULL, purges raw
 * readings that summaries already cover, sheds through the spool, and
 * narrows what the pipeline admits. Its mode is in /health and /metrics;
 * each transition is logged once and written to "audit".
 *
 * Legal transitions: any mode to any other, decided by pressure_next_mode.
 */
#ifndef OUTPOST_PRESSURE_H
#define OUTPOST_PRESSURE_H

struct event_base;
struct pipeline;
struct pressure;
struct spool;
struct store;
struct summary;

enum pressure_mode {
	PRESSURE_NORMAL,
	PRESSURE_DEGRADED,	/* >= 80% of max_db_mb, or the disk is full */
	PRESSURE_CRITICAL_ONLY, /* >= 95%: only critical readings admitted */
};

/* Fractions of max_db_mb; leaving a mode needs a few points of margin. */
#define PRESSURE_DEGRADED_AT 0.80
#define PRESSURE_DEGRADED_UNTIL 0.75
#define PRESSURE_CRITICAL_AT 0.95
#define PRESSURE_CRITICAL_UNTIL 0.92

struct pressure_opts {
	long long max_db_bytes;	 /* [store] max_db_mb */
	double min_age_s;	 /* unsent summarized readings older: purged */
	double check_interval_s; /* [store] pressure_interval */
};

struct pressure_stats {
	enum pressure_mode mode;
	double since;	      /* Unix seconds of the last transition */
	long long live_bytes; /* at the last check */
	double fill;	      /* live_bytes / max_db_bytes */
	int full;	      /* SQLITE_FULL pending */
	unsigned long long purged_summarized; /* raw rows purged */
	unsigned long long shed_full;	      /* shed because of a full disk */
	unsigned long long transitions;
};

struct pressure *pressure_new(struct store *, struct spool *, struct pipeline *,
    struct summary *, const struct pressure_opts *);
void pressure_free(struct pressure *);
void pressure_set_opts(struct pressure *, const struct pressure_opts *);
/* Arms the periodic check on base. */
int pressure_start(struct pressure *, struct event_base *);

/*
 * One round: at >= 80% (or full) purge summarized raw readings that are
 * uploaded or older than min_age; above max_db_mb shed (spool_shed); on
 * SQLITE_FULL shed by 10% but keep high and critical; then set the mode
 * and the pipeline's admission. now: Unix seconds.
 */
enum pressure_mode pressure_check(struct pressure *, double now);
enum pressure_mode pressure_mode(const struct pressure *);
const char *pressure_mode_name(enum pressure_mode);
/* Why the mode is not normal ("" when it is). */
const char *pressure_reason(const struct pressure *);
void pressure_stats(const struct pressure *, struct pressure_stats *);

/* The next mode from the fill fraction and SQLITE_FULL, with margins. */
enum pressure_mode
pressure_next_mode(enum pressure_mode cur, double fill, int full);

#endif
