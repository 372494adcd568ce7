/*
 * Summaries: min, max, mean, count and last of each sensor over fixed,
 * epoch-aligned periods ([store] summary_interval), written to table
 * "summaries" (uploaded as kind "summary") once a period has closed.
 * Folding a period is one transaction that also records how far folding
 * has got (meta summary_folded_until); a replay after a crash inserts
 * nothing twice (UNIQUE device, sensor, period_start, period_s).
 */
#ifndef OUTPOST_SUMMARY_H
#define OUTPOST_SUMMARY_H

#include <stddef.h>

struct event_base;
struct store;
struct summary;
struct wallclock;

struct summary_opts {
	const char *agent_id; /* copied */
	double interval_s;    /* period length */
};

struct summary_stats {
	double folded_until;	    /* Unix seconds; 0 = nothing folded yet */
	unsigned long long periods; /* folded by this process */
	unsigned long long rows;    /* summary rows written */
	unsigned long long failures;
};

/* Reads where folding stands from the store. */
struct summary *summary_new(struct store *, const struct summary_opts *);
void summary_free(struct summary *);
void summary_set_opts(struct summary *, const struct summary_opts *);
/* Folding waits while the wall clock is not trusted (NULL: always). */
void summary_set_wallclock(struct summary *, const struct wallclock *);

/*
 * Arms the fold timer. flush (may be NULL) runs before each fold, so that
 * readings still buffered for the group commit are folded too.
 */
int summary_start(
    struct summary *, struct event_base *, void (*flush)(void *arg), void *arg);

/*
 * Folds the periods that closed before now (Unix seconds), at most
 * max_periods of them, each in one transaction; empty periods cost one
 * index probe. Returns the number folded, or -1 on a store error. *more
 * is set when closed periods remain.
 */
int summary_fold(struct summary *, double now, int max_periods, int *more);
/* Readings stamped before this are summarized (their period is folded). */
double summary_folded_until(const struct summary *);
void summary_stats(const struct summary *, struct summary_stats *);

#endif
