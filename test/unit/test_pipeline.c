/* The pipeline against a real store in a scratch directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "pipeline.h"
#include "recid.h"
#include "store.h"

struct fixture {
	char dir[64];
	struct event_base *base;
	struct store *store;
	struct pipeline *p;
};

struct acks {
	int ok;
	int refused;
};

static void
acks_cb(int ok, void *arg)
{
	struct acks *a = arg;

	if (ok)
		a->ok++;
	else
		a->refused++;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct store_opts so = { 0 };
	struct pipeline_opts po = { "unit", 0.05, 100 };
	char *cause = NULL;

	strcpy(f->dir, "/tmp/outpost-pipeline.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	so.checkpoint_pages = 1000;
	f->store = store_open(f->dir, &so, &cause);
	assert_non_null(f->store);
	f->base = event_base_new();
	f->p = pipeline_new(f->base, f->store, &po);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	pipeline_free(f->p);
	store_free(f->store);
	event_base_free(f->base);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
reading_make(struct reading *r, int i)
{
	memset(r, 0, sizeof *r);
	strcpy(r->device, "dev");
	strcpy(r->sensor, "temp");
	r->ts = 1700000000.0 + i;
	r->value = i * 0.5;
	r->priority = PRIORITY_NORMAL;
}

static void
loop_for(struct fixture *f, double seconds)
{
	struct timeval tv = { 0, (suseconds_t)(seconds * 1e6) };

	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

static void
test_acknowledged_only_after_commit(void **state)
{
	struct fixture *f = *state;
	struct pipeline_src *src = pipeline_src_new(f->p, "a", 16);
	struct acks acks = { 0, 0 };
	struct reading r;
	int i;

	for (i = 0; i < 5; i++) {
		reading_make(&r, i);
		assert_int_equal(pipeline_submit(src, &r, acks_cb, &acks), 0);
	}
	/* Nothing is acknowledged before the loop runs the commit. */
	assert_int_equal(acks.ok, 0);
	assert_int_equal(store_count_readings(f->store), 0);
	loop_for(f, 0.01);
	assert_int_equal(acks.ok, 5);
	assert_int_equal(store_count_readings(f->store), 5);
	assert_int_equal(pipeline_src_stats(src)->committed, 5);
	pipeline_src_free(src);
}

static void
test_group_commit_batches(void **state)
{
	struct fixture *f = *state;
	struct pipeline_src *src = pipeline_src_new(f->p, "a", 1000);
	struct pipeline_stats st;
	struct reading r;
	int i;

	/* Unacknowledged readings wait for the interval or commit_max. */
	for (i = 0; i < 250; i++) {
		reading_make(&r, i);
		pipeline_submit(src, &r, NULL, NULL);
	}
	assert_int_equal(store_count_readings(f->store), 0);
	loop_for(f, 0.2);
	pipeline_stats(f->p, &st);
	assert_int_equal(store_count_readings(f->store), 250);
	/* 250 readings at commit_max 100: a handful of transactions. */
	assert_in_range(st.commits, 1, 3);
	assert_int_equal(st.buffered, 0);
	pipeline_src_free(src);
}

static void
test_full_ring_commits_instead_of_dropping(void **state)
{
	struct fixture *f = *state;
	struct pipeline_src *src = pipeline_src_new(f->p, "small", 4);
	struct reading r;
	int i;

	for (i = 0; i < 10; i++) {
		reading_make(&r, i);
		assert_int_equal(pipeline_submit(src, &r, NULL, NULL), 0);
	}
	assert_true(store_count_readings(f->store) >= 8);
	pipeline_src_free(src); /* commits the rest */
	assert_int_equal(store_count_readings(f->store), 10);
}

static void
test_store_failure_keeps_readings(void **state)
{
	struct fixture *f = *state;
	struct pipeline_src *src = pipeline_src_new(f->p, "a", 2);
	struct pipeline_stats st;
	struct acks acks = { 0, 0 };
	struct reading r;
	int i;

	assert_int_equal(sqlite3_exec(store_db(f->store),
			     "PRAGMA query_only = 1", NULL, NULL, NULL),
	    SQLITE_OK);
	for (i = 0; i < 3; i++) {
		reading_make(&r, i);
		pipeline_submit(src, &r, acks_cb, &acks);
	}
	/* Ring of 2, store failing: the third is refused, none acknowledged. */
	assert_int_equal(acks.ok, 0);
	assert_int_equal(acks.refused, 1);
	loop_for(f, 0.02);
	pipeline_stats(f->p, &st);
	assert_true(st.consecutive_failures >= 1);
	assert_int_equal(st.buffered, 2);
	assert_int_equal(acks.ok, 0);

	assert_int_equal(sqlite3_exec(store_db(f->store),
			     "PRAGMA query_only = 0", NULL, NULL, NULL),
	    SQLITE_OK);
	loop_for(f, 0.2);
	pipeline_stats(f->p, &st);
	assert_int_equal(acks.ok, 2);
	assert_int_equal(st.consecutive_failures, 0);
	assert_int_equal(store_count_readings(f->store), 2);
	pipeline_src_free(src);
}

static int
admit_deny_secret(void *arg, struct reading *r)
{
	(*(int *)arg)++;
	return strcmp(r->sensor, "secret") == 0 ? -1 : 0;
}

static void
test_admit_hook_and_ids(void **state)
{
	struct fixture *f = *state;
	struct pipeline_src *src = pipeline_src_new(f->p, "a", 8);
	struct pipeline_hooks hooks = { .admit = admit_deny_secret };
	struct reading r, expect;
	struct acks acks = { 0, 0 };
	int calls = 0;
	sqlite3_stmt *st;

	hooks.arg = &calls;
	pipeline_set_hooks(f->p, &hooks);
	reading_make(&r, 1);
	strcpy(r.sensor, "secret");
	pipeline_submit(src, &r, acks_cb, &acks);
	reading_make(&r, 2);
	pipeline_submit(src, &r, acks_cb, &acks);
	loop_for(f, 0.01);
	assert_int_equal(calls, 2);
	assert_int_equal(acks.ok, 2); /* policy drops are acknowledged */
	assert_int_equal(pipeline_src_stats(src)->filtered, 1);
	assert_int_equal(store_count_readings(f->store), 1);

	/* The stored id is the record id of the reading. */
	reading_make(&expect, 2);
	recid_reading("unit", &expect);
	assert_int_equal(sqlite3_prepare_v2(store_db(f->store),
			     "SELECT id FROM readings", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(st, 0), RECORD_ID_LEN);
	assert_memory_equal(
	    sqlite3_column_blob(st, 0), expect.id, RECORD_ID_LEN);
	sqlite3_finalize(st);
	pipeline_set_hooks(f->p, NULL);
	pipeline_src_free(src);
}

struct offset_ack {
	struct pipeline_src *src;
	int acks;
};

/* What an MQTT adapter does: after the commit, forget the packet id. */
static void
offset_ack_cb(int ok, void *arg)
{
	struct offset_ack *oa = arg;

	oa->acks++;
	assert_int_equal(pipeline_src_set_offset(oa->src, "mqtt:7", NULL), 0);
}

static void
test_offsets_commit_with_readings(void **state)
{
	struct fixture *f = *state;
	struct pipeline_src *src = pipeline_src_new(f->p, "file", 8);
	struct offset_ack oa = { src, 0 };
	struct reading r;
	char buf[64];

	reading_make(&r, 1);
	pipeline_submit(src, &r, NULL, NULL);
	assert_int_equal(pipeline_src_set_offset(src, "file:/x", "100"), 0);
	assert_int_equal(pipeline_src_set_offset(src, "file:/x", "200"), 0);
	/* Pending values are visible to the source before the commit... */
	assert_int_equal(
	    pipeline_src_get_offset(src, "file:/x", buf, sizeof buf), 0);
	assert_string_equal(buf, "200");
	/* ...but not in the store. */
	assert_int_equal(
	    store_offset_get(f->store, "file:/x", buf, sizeof buf), 1);
	loop_for(f, 0.1);
	assert_int_equal(
	    store_offset_get(f->store, "file:/x", buf, sizeof buf), 0);
	assert_string_equal(buf, "200");
	assert_int_equal(store_count_readings(f->store), 1);

	/* A key set with a reading, removed from the reading's callback:
	 * the removal is written by the next commit, not lost. */
	reading_make(&r, 2);
	pipeline_submit(src, &r, offset_ack_cb, &oa);
	assert_int_equal(pipeline_src_set_offset(src, "mqtt:7", "h"), 0);
	loop_for(f, 0.01);
	assert_int_equal(oa.acks, 1);
	assert_int_equal(
	    store_offset_get(f->store, "mqtt:7", buf, sizeof buf), 0);
	loop_for(f, 0.1);
	assert_int_equal(
	    store_offset_get(f->store, "mqtt:7", buf, sizeof buf), 1);
	assert_int_equal(
	    pipeline_src_get_offset(src, "mqtt:7", buf, sizeof buf), 1);
	/* Too long a key is refused. */
	memset(buf, 'k', sizeof buf - 1);
	buf[sizeof buf - 1] = '\0';
	assert_int_equal(pipeline_src_set_offset(src, buf, "1") == -1,
	    sizeof buf > PIPELINE_OFFSET_KEY_MAX);
	pipeline_src_free(src);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_acknowledged_only_after_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_group_commit_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_full_ring_commits_instead_of_dropping, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_failure_keeps_readings, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_admit_hook_and_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_offsets_commit_with_readings, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
