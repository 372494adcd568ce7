/*
 * A bounded in-memory history of the figures an operator charts: queue
 * depth by priority, the oldest pending age, readings per second and RSS,
 * one sample per interval, the last HISTORY_POINTS kept. The agent's timer
 * takes the samples; the status page and GET /health/history read them.
 * Nothing is allocated after history_new().
 */
#ifndef OUTPOST_HISTORY_H
#define OUTPOST_HISTORY_H

#include <stddef.h>

#include "reading.h"

struct agent;
struct history;
struct json_out;

#define HISTORY_POINTS 120 /* one hour at the default 30 s */

struct history_sample {
	double ts;			       /* Unix s */
	long long by_priority[PRIORITY_COUNT]; /* queued records */
	double oldest_age_s;		       /* -1: nothing pending */
	double readings_per_s;		       /* committed, since the last */
	long long rss_bytes;		       /* -1: unknown */
};

/* points samples, interval_s apart (what the timer is armed with). */
struct history *history_new(size_t points, double interval_s);
void history_free(struct history *);
double history_interval(const struct history *);
size_t history_capacity(const struct history *);

/* Appends s; once full, the oldest sample makes room. */
void history_add(struct history *, const struct history_sample *);
/* Reads the agent's figures through its accessors and appends them. */
void history_sample(struct history *, struct agent *);

size_t history_count(const struct history *);
/* i = 0 is the oldest sample; NULL past the end. */
const struct history_sample *history_at(const struct history *, size_t i);

/*
 * As members of the object being written: "interval_s", "capacity", then
 * columns, oldest first: "ts" (to a tenth of a second), "critical",
 * "high", "normal", "low", "oldest_age_s" (whole seconds; null: nothing
 * pending), "readings_per_s" (to 0.01), "rss_bytes" (null: unknown).
 */
void history_render_json(const struct history *, struct json_out *);

#endif
