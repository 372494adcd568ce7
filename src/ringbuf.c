/*
 * Fixed-capacity FIFO of readings awaiting commit. Slots are allocated once;
 * push and pop only move indices, so the hot path never allocates.
 */
#include <stdlib.h>

#include "ringbuf.h"
#include "xmalloc.h"

struct ringbuf {
	struct ringbuf_slot *slots;
	size_t capacity;
	size_t head; /* oldest */
	size_t len;
};

struct ringbuf *
ringbuf_new(size_t capacity)
{
	struct ringbuf *rb = xcalloc(1, sizeof *rb);

	if (capacity == 0)
		capacity = 1;
	rb->slots = xcalloc(capacity, sizeof *rb->slots);
	rb->capacity = capacity;
	return rb;
}

void
ringbuf_free(struct ringbuf *rb)
{
	if (rb == NULL)
		return;
	free(rb->slots);
	free(rb);
}

size_t
ringbuf_len(const struct ringbuf *rb)
{
	return rb->len;
}

size_t
ringbuf_capacity(const struct ringbuf *rb)
{
	return rb->capacity;
}

int
ringbuf_full(const struct ringbuf *rb)
{
	return rb->len == rb->capacity;
}

struct ringbuf_slot *
ringbuf_push(struct ringbuf *rb)
{
	struct ringbuf_slot *slot;

	if (rb->len == rb->capacity)
		return NULL;
	slot = &rb->slots[(rb->head + rb->len) % rb->capacity];
	rb->len++;
	return slot;
}

struct ringbuf_slot *
ringbuf_at(struct ringbuf *rb, size_t i)
{
	if (i >= rb->len)
		return NULL;
	return &rb->slots[(rb->head + i) % rb->capacity];
}

void
ringbuf_pop(struct ringbuf *rb, size_t n)
{
	if (n > rb->len)
		n = rb->len;
	rb->head = (rb->head + n) % rb->capacity;
	rb->len -= n;
	/* Empty: start over at slot 0, so a ring that is drained at every
	 * commit only ever touches its first pages (RSS on small devices). */
	if (rb->len == 0)
		rb->head = 0;
}
