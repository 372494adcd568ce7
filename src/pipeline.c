/*
 * The reading path from adapters to the store. Readings wait in their
 * source's ring until a group commit writes every ring in one transaction:
 * at once (next loop turn) when a submitter waits to acknowledge its source
 * or commit_max readings are buffered, else after commit_interval_s to spare
 * the flash. Callbacks run only after COMMIT returned (invariant 1).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "pipeline.h"
#include "recid.h"
#include "store.h"
#include "wallclock.h"
#include "xmalloc.h"

struct pipeline_offset {
	char key[PIPELINE_OFFSET_KEY_MAX];
	char value[PIPELINE_OFFSET_VALUE_MAX];
	int remove; /* delete the key */
};

struct pipeline_src {
	struct pipeline *p;
	char *name;
	struct ringbuf *ring;
	struct pipeline_offset *offsets; /* waiting for commit */
	size_t noffsets;
	size_t offsets_cap;	/* = ring capacity + 16 */
	uint32_t *offset_slots; /* hash of keys: index + 1, 0 = free */
	size_t offset_mask;	/* slots - 1, slots >= 2 * offsets_cap */
	size_t ncommitted;	/* slots the last commit wrote */
	struct pipeline_src_stats stats;
};

struct pipeline {
	struct event_base *base;
	struct store *store;
	char *agent_id;
	double commit_interval_s;
	size_t commit_max;
	struct pipeline_hooks hooks;
	struct wallclock *clock;       /* NULL: ts is always trusted */
	enum priority lowest_admitted; /* storage pressure raises it */
	struct pipeline_src **srcs;
	size_t nsrcs;
	struct event *commit_timer; /* the interval wait */
	struct event *commit_soon;  /* next loop turn */
	int committing;
	size_t noffsets; /* across sources */
	struct pipeline_stats stats;
};

static void pipeline_commit_cb(evutil_socket_t, short, void *);

struct pipeline *
pipeline_new(struct event_base *base, struct store *store,
    const struct pipeline_opts *opts)
{
	struct pipeline *p = xcalloc(1, sizeof *p);

	p->base = base;
	p->store = store;
	p->agent_id = xstrdup(opts->agent_id);
	p->commit_interval_s =
	    opts->commit_interval_s > 0 ? opts->commit_interval_s : 5.0;
	p->commit_max = opts->commit_max > 0 ? opts->commit_max : 500;
	p->lowest_admitted = PRIORITY_LOW;
	p->commit_timer = evtimer_new(base, pipeline_commit_cb, p);
	p->commit_soon = evtimer_new(base, pipeline_commit_cb, p);
	return p;
}

void
pipeline_free(struct pipeline *p)
{
	if (p == NULL)
		return;
	pipeline_commit(p);
	while (p->nsrcs > 0)
		pipeline_src_free(p->srcs[p->nsrcs - 1]);
	free(p->srcs);
	if (p->commit_timer != NULL)
		event_free(p->commit_timer);
	if (p->commit_soon != NULL)
		event_free(p->commit_soon);
	free(p->agent_id);
	free(p);
}

void
pipeline_set_hooks(struct pipeline *p, const struct pipeline_hooks *hooks)
{
	if (hooks == NULL)
		memset(&p->hooks, 0, sizeof p->hooks);
	else
		p->hooks = *hooks;
}

void
pipeline_set_wallclock(struct pipeline *p, struct wallclock *c)
{
	p->clock = c;
}

void
pipeline_set_min_priority(struct pipeline *p, enum priority lowest)
{
	p->lowest_admitted = lowest;
}

void
pipeline_set_agent_id(struct pipeline *p, const char *agent_id)
{
	free(p->agent_id);
	p->agent_id = xstrdup(agent_id);
}

struct pipeline_src *
pipeline_src_new(struct pipeline *p, const char *name, size_t capacity)
{
	struct pipeline_src *src = xcalloc(1, sizeof *src);

	src->p = p;
	src->name = xstrdup(name);
	src->ring = ringbuf_new(capacity);
	src->offsets_cap = ringbuf_capacity(src->ring) + 16;
	p->srcs = xreallocarray(p->srcs, p->nsrcs + 1, sizeof *p->srcs);
	p->srcs[p->nsrcs++] = src;
	return src;
}

/* Refuses every reading src still holds: their sources will resend. */
static void
pipeline_src_drop_all(struct pipeline_src *src)
{
	struct ringbuf_slot *slot;
	size_t i, n = ringbuf_len(src->ring);

	for (i = 0; i < n; i++) {
		slot = ringbuf_at(src->ring, i);
		if (slot->done != NULL)
			slot->done(0, slot->arg);
	}
	ringbuf_pop(src->ring, n);
	src->stats.dropped += n;
	src->p->stats.dropped += n;
	src->p->stats.buffered -= n;
}

void
pipeline_src_free(struct pipeline_src *src)
{
	struct pipeline *p;
	size_t i;

	if (src == NULL)
		return;
	p = src->p;
	if ((ringbuf_len(src->ring) > 0 || src->noffsets > 0) &&
	    pipeline_commit(p) == -1) {
		log_error("pipeline", "%s: %zu readings could not be stored",
		    src->name, ringbuf_len(src->ring));
		pipeline_src_drop_all(src);
	}
	for (i = 0; i < p->nsrcs; i++) {
		if (p->srcs[i] == src) {
			memmove(&p->srcs[i], &p->srcs[i + 1],
			    (p->nsrcs - i - 1) * sizeof *p->srcs);
			p->nsrcs--;
			break;
		}
	}
	ringbuf_free(src->ring);
	free(src->offsets);
	free(src->offset_slots);
	free(src->name);
	free(src);
}

const struct pipeline_src_stats *
pipeline_src_stats(const struct pipeline_src *src)
{
	return &src->stats;
}

static void
pipeline_schedule(struct pipeline *p, int soon)
{
	struct timeval tv;

	if (soon) {
		if (!evtimer_pending(p->commit_soon, NULL)) {
			tv.tv_sec = 0;
			tv.tv_usec = 0;
			evtimer_add(p->commit_soon, &tv);
		}
		return;
	}
	if (evtimer_pending(p->commit_timer, NULL))
		return;
	tv.tv_sec = (time_t)p->commit_interval_s;
	tv.tv_usec =
	    (suseconds_t)((p->commit_interval_s - (double)tv.tv_sec) * 1e6);
	evtimer_add(p->commit_timer, &tv);
}

int
pipeline_submit(struct pipeline_src *src, const struct reading *in,
    pipeline_done_cb *done, void *arg)
{
	struct pipeline *p = src->p;
	struct ringbuf_slot *slot;
	struct reading r;

	src->stats.submitted++;
	if (!isfinite(in->value)) {
		/* NaN cannot be stored or sent; the adapter should not ask. */
		src->stats.dropped++;
		p->stats.dropped++;
		if (done != NULL)
			done(0, arg);
		return -1;
	}
	r = *in;
	if (p->hooks.admit != NULL && p->hooks.admit(p->hooks.arg, &r) == -1) {
		src->stats.filtered++;
		p->stats.filtered++;
		if (done != NULL)
			done(1, arg); /* refused by policy: nothing to redo */
		return 0;
	}
	if (r.priority > p->lowest_admitted) {
		/* The store is nearly full: the source keeps the reading. */
		src->stats.dropped++;
		p->stats.dropped++;
		if (done != NULL)
			done(0, arg);
		return -1;
	}
	if (ringbuf_full(src->ring) && !p->committing)
		pipeline_commit(p);
	if ((slot = ringbuf_push(src->ring)) == NULL) {
		/* The store is failing and the ring is full: refuse the
		 * newest, so acknowledged sources redeliver it later. */
		src->stats.dropped++;
		p->stats.dropped++;
		log_warn("pipeline",
		    "%s: buffer full and store failing, "
		    "reading refused",
		    src->name);
		if (done != NULL)
			done(0, arg);
		return -1;
	}
	slot->r = r;
	slot->done = done;
	slot->arg = arg;
	if (p->clock != NULL)
		wallclock_stamp(p->clock, &slot->r);
	if (slot->r.unsynced)
		recid_reading_mono(
		    p->agent_id, wallclock_boot_id(p->clock), &slot->r);
	else
		recid_reading(p->agent_id, &slot->r);
	src->stats.last_reading_ts = r.ts;
	p->stats.buffered++;
	pipeline_schedule(
	    p, done != NULL || p->stats.buffered >= p->commit_max);
	return 0;
}

/*
 * The waiting offset of key, or NULL with *slot the free hash slot for it.
 * A hash, not a scan: an MQTT burst holds one key per unacknowledged
 * message, and a scan over them per message showed in profiles.
 */
static struct pipeline_offset *
pipeline_offset_find(struct pipeline_src *src, const char *key, size_t *slot)
{
	uint32_t h = 2166136261u;
	const char *c;
	size_t i, n;

	if (src->offsets == NULL) {
		/* Most sources never keep a position: allocate on first use. */
		src->offsets = xcalloc(src->offsets_cap, sizeof *src->offsets);
		for (n = 1; n < 2 * src->offsets_cap; n *= 2)
			;
		src->offset_slots = xcalloc(n, sizeof *src->offset_slots);
		src->offset_mask = n - 1;
	}

	for (c = key; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	for (i = h & src->offset_mask; src->offset_slots[i] != 0;
	     i = (i + 1) & src->offset_mask) {
		struct pipeline_offset *o =
		    &src->offsets[src->offset_slots[i] - 1];

		if (strcmp(o->key, key) == 0)
			return o;
	}
	*slot = i;
	return NULL;
}

int
pipeline_src_set_offset(
    struct pipeline_src *src, const char *key, const char *value)
{
	struct pipeline_offset *o;
	size_t slot;

	if (strlen(key) >= PIPELINE_OFFSET_KEY_MAX ||
	    (value != NULL && strlen(value) >= PIPELINE_OFFSET_VALUE_MAX))
		return -1;
	if ((o = pipeline_offset_find(src, key, &slot)) == NULL) {
		if (src->noffsets == src->offsets_cap) {
			if (src->p->committing || pipeline_commit(src->p) == -1)
				return -1;
			/* The commit emptied the table: find the slot anew. */
			pipeline_offset_find(src, key, &slot);
		}
		o = &src->offsets[src->noffsets++];
		src->offset_slots[slot] = (uint32_t)src->noffsets;
		xstrlcpy(o->key, key, sizeof o->key);
		src->p->noffsets++;
	}
	o->remove = value == NULL;
	xstrlcpy(o->value, value != NULL ? value : "", sizeof o->value);
	pipeline_schedule(src->p, 0);
	return 0;
}

int
pipeline_src_get_offset(
    struct pipeline_src *src, const char *key, char *buf, size_t len)
{
	struct pipeline_offset *o;
	size_t slot;

	/* A value waiting for its commit is already the truth for us. */
	if ((o = pipeline_offset_find(src, key, &slot)) != NULL) {
		if (o->remove)
			return 1;
		return xstrlcpy(buf, o->value, len) < len ? 0 : -1;
	}
	return store_offset_get(src->p->store, key, buf, len);
}

static void
pipeline_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;

	if (pipeline_commit(p) == -1)
		pipeline_schedule(p, 0);
}

/*
 * After COMMIT: first forget what was written (callbacks may add readings
 * and offsets for the next transaction), then hooks and completion
 * callbacks, then free the slots.
 */
static void
pipeline_committed(struct pipeline *p)
{
	struct pipeline_src *src;
	struct ringbuf_slot *slot;
	size_t s, i, n;

	for (s = 0; s < p->nsrcs; s++) {
		src = p->srcs[s];
		src->ncommitted = ringbuf_len(src->ring);
		if (src->noffsets > 0)
			memset(src->offset_slots, 0,
			    (src->offset_mask + 1) * sizeof *src->offset_slots);
		p->noffsets -= src->noffsets;
		src->noffsets = 0;
	}
	for (s = 0; s < p->nsrcs; s++) {
		src = p->srcs[s];
		n = src->ncommitted;
		for (i = 0; i < n; i++) {
			slot = ringbuf_at(src->ring, i);
			if (p->hooks.committed != NULL)
				p->hooks.committed(p->hooks.arg, &slot->r);
			if (slot->done != NULL)
				slot->done(1, slot->arg);
		}
		ringbuf_pop(src->ring, n);
		src->ncommitted = 0;
		src->stats.committed += n;
		p->stats.committed += n;
		p->stats.buffered -= n;
	}
}

int
pipeline_commit(struct pipeline *p)
{
	struct pipeline_src *src;
	size_t s, i, n;

	if ((p->stats.buffered == 0 && p->noffsets == 0) || p->committing)
		return 0;
	p->committing = 1;
	if (store_begin(p->store) == -1)
		goto fail;
	for (s = 0; s < p->nsrcs; s++) {
		src = p->srcs[s];
		n = ringbuf_len(src->ring);
		for (i = 0; i < n; i++) {
			struct reading *r = &ringbuf_at(src->ring, i)->r;

			/* Trusted since the stamp: correct ts, keep the id. */
			if (r->unsynced && p->clock != NULL)
				wallclock_fix(p->clock, r);
			if (store_add_reading(p->store, r) == -1) {
				store_rollback(p->store);
				goto fail;
			}
		}
		for (i = 0; i < src->noffsets; i++) {
			struct pipeline_offset *o = &src->offsets[i];

			if (store_offset_set(p->store, o->key,
				o->remove ? NULL : o->value) == -1) {
				store_rollback(p->store);
				goto fail;
			}
		}
	}
	if (p->hooks.in_txn != NULL && p->hooks.in_txn(p->hooks.arg) == -1) {
		store_rollback(p->store);
		goto fail;
	}
	if (store_commit(p->store) == -1) {
		store_rollback(p->store);
		goto fail;
	}
	if (p->hooks.txn_done != NULL)
		p->hooks.txn_done(p->hooks.arg, 1);
	p->stats.commits++;
	if (p->stats.consecutive_failures > 0)
		log_info("pipeline",
		    "store writable again after %llu failed "
		    "commits",
		    p->stats.consecutive_failures);
	p->stats.consecutive_failures = 0;
	/* Before the callbacks: they may schedule the next commit. */
	evtimer_del(p->commit_timer);
	evtimer_del(p->commit_soon);
	pipeline_committed(p);
	p->committing = 0;
	return 0;
fail:
	if (p->hooks.txn_done != NULL)
		p->hooks.txn_done(p->hooks.arg, 0);
	p->stats.commit_failures++;
	p->stats.consecutive_failures++;
	log_error("pipeline", "commit of %zu readings failed: %s",
	    p->stats.buffered, store_errmsg(p->store));
	p->committing = 0;
	return -1;
}

void
pipeline_stats(const struct pipeline *p, struct pipeline_stats *out)
{
	*out = p->stats;
}
