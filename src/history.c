/*
 * The status page's memory of the last hour: a fixed ring of samples,
 * allocated once. Sampling reads the agent's state through its accessors
 * (like health and metrics); when to sample is the agent's timer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "history.h"
#include "json_out.h"
#include "pipeline.h"
#include "store.h"
#include "sysinfo.h"
#include "xmalloc.h"

struct history {
	struct history_sample *ring; /* capacity slots */
	size_t capacity;
	size_t head; /* next slot to write */
	size_t count;
	double interval_s;
	/* The previous sample's committed count, for readings_per_s. */
	unsigned long long last_committed;
	double last_mono; /* 0: no sample yet */
};

static double
history_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* points samples, interval_s apart (what the timer is armed with). */
struct history *
history_new(size_t points, double interval_s)
{
	struct history *h = xcalloc(1, sizeof *h);

	h->capacity = points > 0 ? points : 1;
	h->ring = xcalloc(h->capacity, sizeof *h->ring);
	h->interval_s = interval_s;
	return h;
}

void
history_free(struct history *h)
{
	if (h == NULL)
		return;
	free(h->ring);
	free(h);
}

double
history_interval(const struct history *h)
{
	return h->interval_s;
}

size_t
history_capacity(const struct history *h)
{
	return h->capacity;
}

/* Appends s; once full, the oldest sample makes room. */
void
history_add(struct history *h, const struct history_sample *s)
{
	h->ring[h->head] = *s;
	h->head = (h->head + 1) % h->capacity;
	if (h->count < h->capacity)
		h->count++;
}

/* Reads the agent's figures through its accessors and appends them. */
void
history_sample(struct history *h, struct agent *ag)
{
	struct history_sample s;
	struct store_queue_stats qs;
	struct pipeline_stats ps;
	struct sysinfo_process proc;
	struct store *st = agent_store(ag);
	struct pipeline *p = agent_pipeline(ag);
	double mono = history_clock(CLOCK_MONOTONIC), dt;
	int i;

	memset(&s, 0, sizeof s);
	s.ts = history_clock(CLOCK_REALTIME);
	s.oldest_age_s = -1;
	s.rss_bytes = -1;
	if (st != NULL && store_queue_stats(st, &qs) == 0) {
		for (i = 0; i < PRIORITY_COUNT; i++)
			s.by_priority[i] = qs.by_priority[i];
		if (qs.oldest_pending_ts > 0)
			s.oldest_age_s = fmax(0, s.ts - qs.oldest_pending_ts);
	}
	memset(&ps, 0, sizeof ps);
	if (p != NULL)
		pipeline_stats(p, &ps);
	/* The first sample's rate covers the time since the start. */
	if (h->last_mono > 0)
		dt = mono - h->last_mono;
	else
		dt = agent_uptime_s(ag);
	if (dt > 0 && ps.committed >= h->last_committed)
		s.readings_per_s =
		    (double)(ps.committed - h->last_committed) / dt;
	h->last_committed = ps.committed;
	h->last_mono = mono;
	if (sysinfo_process(&proc) == 0)
		s.rss_bytes = proc.rss_bytes;
	history_add(h, &s);
}

size_t
history_count(const struct history *h)
{
	return h->count;
}

/* i = 0 is the oldest sample; NULL past the end. */
const struct history_sample *
history_at(const struct history *h, size_t i)
{
	if (i >= h->count)
		return NULL;
	return &h->ring[(h->head + h->capacity - h->count + i) % h->capacity];
}

/* Which figure of a sample a column shows. */
enum history_column {
	HISTORY_COL_TS,
	HISTORY_COL_CRITICAL,
	HISTORY_COL_HIGH,
	HISTORY_COL_NORMAL,
	HISTORY_COL_LOW,
	HISTORY_COL_OLDEST,
	HISTORY_COL_RATE,
	HISTORY_COL_RSS,
	HISTORY_NCOLUMNS,
};

static const char *const history_column_names[HISTORY_NCOLUMNS] = { "ts",
	"critical", "high", "normal", "low", "oldest_age_s", "readings_per_s",
	"rss_bytes" };

static void
history_render_column(
    const struct history *h, struct json_out *j, enum history_column c)
{
	const struct history_sample *s;
	size_t i;

	json_out_array_begin(j, history_column_names[c]);
	for (i = 0; i < h->count; i++) {
		s = history_at(h, i);
		switch (c) {
		case HISTORY_COL_TS:
			/* Tenths: the chart needs no more. */
			json_out_double(j, NULL, round(s->ts * 10) / 10);
			break;
		case HISTORY_COL_OLDEST:
			if (s->oldest_age_s < 0)
				json_out_null(j, NULL);
			else
				json_out_int(j, NULL,
				    (long long)llround(s->oldest_age_s));
			break;
		case HISTORY_COL_RATE:
			json_out_double(
			    j, NULL, round(s->readings_per_s * 100.0) / 100.0);
			break;
		case HISTORY_COL_RSS:
			if (s->rss_bytes < 0)
				json_out_null(j, NULL);
			else
				json_out_int(j, NULL, s->rss_bytes);
			break;
		default:
			json_out_int(
			    j, NULL, s->by_priority[c - HISTORY_COL_CRITICAL]);
		}
	}
	json_out_array_end(j);
}

/* Columns, oldest first, as members of the object being written. */
void
history_render_json(const struct history *h, struct json_out *j)
{
	int c;

	json_out_double(j, "interval_s", h->interval_s);
	json_out_int(j, "capacity", (long long)h->capacity);
	for (c = 0; c < HISTORY_NCOLUMNS; c++)
		history_render_column(h, j, (enum history_column)c);
}
