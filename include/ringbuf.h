/*
 * A fixed-capacity FIFO of readings waiting for their commit, with the
 * submitter's completion callback beside each. Allocated once at its
 * configured capacity: memory is bounded by configuration (invariant 7).
 */
#ifndef OUTPOST_RINGBUF_H
#define OUTPOST_RINGBUF_H

#include <stddef.h>

#include "reading.h"

typedef void ringbuf_done_cb(int ok, void *arg);

struct ringbuf_slot {
	struct reading r;
	ringbuf_done_cb *done;
	void *arg;
};

struct ringbuf;

struct ringbuf *ringbuf_new(size_t capacity);
void ringbuf_free(struct ringbuf *);
size_t ringbuf_len(const struct ringbuf *);
size_t ringbuf_capacity(const struct ringbuf *);
int ringbuf_full(const struct ringbuf *);
/* Returns the slot to fill at the tail, or NULL when full. */
struct ringbuf_slot *ringbuf_push(struct ringbuf *);
/* The i-th oldest slot (0 = head), or NULL. */
struct ringbuf_slot *ringbuf_at(struct ringbuf *, size_t i);
/* Drops the n oldest slots (their callbacks are the caller's business). */
void ringbuf_pop(struct ringbuf *, size_t n);

#endif
