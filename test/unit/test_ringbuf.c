#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ringbuf.h"

static void
test_fifo_and_wrap(void **state)
{
	struct ringbuf *rb = ringbuf_new(3);
	struct ringbuf_slot *s;
	int i;

	assert_int_equal(ringbuf_capacity(rb), 3);
	assert_null(ringbuf_at(rb, 0));
	for (i = 0; i < 3; i++) {
		s = ringbuf_push(rb);
		assert_non_null(s);
		s->r.value = i;
	}
	assert_true(ringbuf_full(rb));
	assert_null(ringbuf_push(rb));
	ringbuf_pop(rb, 2);
	assert_int_equal(ringbuf_len(rb), 1);
	assert_true(ringbuf_at(rb, 0)->r.value == 2);
	/* Wrap around the end of the slot array. */
	ringbuf_push(rb)->r.value = 3;
	ringbuf_push(rb)->r.value = 4;
	assert_true(ringbuf_full(rb));
	for (i = 0; i < 3; i++)
		assert_true(ringbuf_at(rb, (size_t)i)->r.value == 2 + i);
	assert_null(ringbuf_at(rb, 3));
	ringbuf_pop(rb, 10);
	assert_int_equal(ringbuf_len(rb), 0);
	ringbuf_free(rb);
}

static void
test_zero_capacity_is_one(void **state)
{
	struct ringbuf *rb = ringbuf_new(0);

	assert_int_equal(ringbuf_capacity(rb), 1);
	assert_non_null(ringbuf_push(rb));
	assert_null(ringbuf_push(rb));
	ringbuf_free(rb);
	ringbuf_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_and_wrap),
		cmocka_unit_test(test_zero_capacity_is_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
