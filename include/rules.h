/*
 * Local rules over sensor globs, evaluated for every reading the store has
 * committed (a reading that was never stored fires nothing): thresholds
 * with `for` and a `clear` level (hysteresis), rates of change, and stale
 * sensors (a timer). Each transition is an event handed to the emit
 * callback (the agent stores it) and, for exec rules, a command run by the
 * action module. Times are passed in, so tests drive the clock.
 */
#ifndef OUTPOST_RULES_H
#define OUTPOST_RULES_H

#include <stddef.h>

#include "reading.h"

struct config;
struct event_base;
struct json_out;
struct rules;

enum rules_event_kind {
	RULES_FIRE,
	RULES_CLEAR,
};

/* One transition; strings are borrowed for the callback. */
struct rules_event {
	unsigned char id[RECORD_ID_LEN]; /* rules_event_id() */
	const char *rule;
	enum rules_event_kind kind;
	const char *device; /* of the reading that caused it; "" if none */
	const char *sensor;
	double ts; /* that reading's ts; stale: when it was noticed */
	double value;
	enum priority severity;
	const char *detail; /* a JSON object: condition, threshold, ... */
};

/* 0 when the event is stored; -1 keeps it for a later retry. */
typedef int rules_emit_cb(void *arg, const struct rules_event *);

struct rules_opts {
	const char *agent_id;	 /* copied */
	struct event_base *base; /* NULL: no stale timer, no exec */
	rules_emit_cb *emit;
	void *arg;
	double mono_now; /* the monotonic clock now (s); 0 = read it */
};

/*
 * Per-rule figures. state: "firing" if some sensor is, else "pending" if
 * some sensor waits out `for`, else "ok".
 */
struct rules_stat {
	const char *name;
	const char *kind; /* threshold | rate | stale */
	const char *state;
	size_t firing; /* sensors firing now */
	unsigned long long fired;
	unsigned long long cleared;
	unsigned long long actions; /* exec or mqtt actions started or queued */
	unsigned long long action_errors;
	const char *last_error; /* "" = none */
};

struct rules *rules_new(const struct config *, const struct rules_opts *);
/*
 * Swaps in the rules of cfg (SIGHUP). A rule keeping its name and kind
 * keeps its counters and each sensor's state (a firing sensor does not
 * fire again; it clears by the new levels); a sensor its new glob no
 * longer matches is forgotten. mono_now 0 = read the clock.
 */
void rules_reconfigure(struct rules *, const struct config *, double mono_now);
void rules_set_agent_id(struct rules *, const char *);
void rules_free(struct rules *);

/* Evaluates one committed reading; mono_now is the monotonic clock (s). */
void rules_reading(struct rules *, const struct reading *, double mono_now);
/* Stale checks (the timer calls this with the real clocks). */
void rules_tick(struct rules *, double wall_now, double mono_now);
/* When the next stale check is due (monotonic s); 0 when none is. */
double rules_next_deadline(const struct rules *);

size_t rules_count(const struct rules *);
int rules_stat(const struct rules *, size_t i, struct rules_stat *);
/* Events the store refused, held for a retry (bounded). */
size_t rules_unsaved(const struct rules *);
/* /health: "rules": [{name, kind, state, ...}] into an open object. */
void rules_status(const struct rules *, struct json_out *);

const char *rules_event_kind_name(enum rules_event_kind);
/* SHA-256 over agent id, rule, sensor, ts and kind (packed binary). */
void rules_event_id(const char *agent_id, const char *rule, const char *sensor,
    double ts, enum rules_event_kind, unsigned char out[RECORD_ID_LEN]);

#endif
