/* The upload queue against a real store in a scratch directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "recid.h"
#include "spool.h"
#include "store.h"

struct fixture {
	char dir[64];
	struct store *store;
	struct spool *spool;
	struct spool_batch batch;
};

struct seen {
	int n;
	enum priority prio[64];
	enum encode_kind kind[64];
	double ts[64];
};

static void
seen_cb(void *arg, const struct encode_record *r)
{
	struct seen *s = arg;

	if (s->n < 64) {
		s->prio[s->n] = r->priority;
		s->kind[s->n] = r->kind;
		s->ts[s->n] = r->ts;
	}
	s->n++;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct store_opts so = { 0 };
	struct spool_opts po;
	char *cause = NULL;

	strcpy(f->dir, "/tmp/outpost-spool.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->store = store_open(f->dir, &so, &cause);
	assert_non_null(f->store);
	memset(&po, 0, sizeof po);
	po.max_attempts = 3;
	f->spool = spool_new(f->store, &po);
	spool_batch_init(&f->batch, 100);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	spool_batch_free(&f->batch);
	spool_free(f->spool);
	store_free(f->store);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
add_readings(struct fixture *f, int n, enum priority p, double ts0)
{
	struct reading r;
	int i;

	assert_int_equal(store_begin(f->store), 0);
	for (i = 0; i < n; i++) {
		memset(&r, 0, sizeof r);
		strcpy(r.device, "dev");
		snprintf(r.sensor, sizeof r.sensor, "s.%d", p);
		r.ts = ts0 + i;
		r.value = i;
		r.priority = p;
		recid_reading("unit", &r);
		assert_int_equal(store_add_reading(f->store, &r), 0);
	}
	assert_int_equal(store_commit(f->store), 0);
}

static long long
count_state(struct fixture *f, int state)
{
	sqlite3_stmt *s;
	long long n;

	assert_int_equal(
	    sqlite3_prepare_v2(store_db(f->store),
		"SELECT count(*) FROM readings WHERE state = ?1", -1, &s, NULL),
	    SQLITE_OK);
	sqlite3_bind_int(s, 1, state);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void
test_claim_order_and_ack(void **state)
{
	struct fixture *f = *state;
	struct seen seen = { 0 };
	struct store_queue_stats qs;
	int i;

	add_readings(f, 5, PRIORITY_LOW, 1000);
	add_readings(f, 5, PRIORITY_NORMAL, 2000);
	add_readings(f, 3, PRIORITY_CRITICAL, 3000);
	assert_int_equal(
	    sqlite3_exec(store_db(f->store),
		"INSERT INTO events (id, rule, kind, device, sensor, ts, value, "
		"severity, priority) VALUES (randomblob(32), 'hot', 'fire', 'dev', "
		"'s', 3500, 40, 0, 0)",
		NULL, NULL, NULL),
	    SQLITE_OK);

	assert_int_equal(
	    spool_claim(f->spool, 6, PRIORITY_LOW, seen_cb, &seen, &f->batch),
	    6);
	assert_int_equal(seen.n, 6);
	/* Critical first (the event before critical readings), then normal,
	 * oldest first; no low record while higher ones wait. */
	assert_int_equal(seen.kind[0], ENCODE_EVENT);
	for (i = 1; i < 4; i++)
		assert_int_equal(seen.prio[i], PRIORITY_CRITICAL);
	assert_int_equal(seen.prio[4], PRIORITY_NORMAL);
	assert_true(seen.ts[4] == 2000 && seen.ts[5] == 2001);
	/* A claim writes nothing; the statistics still show the batch. */
	assert_int_equal(count_state(f, STORE_IN_FLIGHT), 0);
	assert_int_equal(count_state(f, STORE_QUEUED), 13);
	assert_int_equal(store_queue_stats(f->store, &qs), 0);
	assert_int_equal(qs.in_flight, 6);
	assert_int_equal(qs.pending, 8);
	assert_int_equal(qs.by_priority[PRIORITY_CRITICAL], 0);
	assert_int_equal(qs.by_priority[PRIORITY_NORMAL], 3);
	assert_int_equal(qs.by_priority[PRIORITY_LOW], 5);

	assert_int_equal(spool_ack(f->spool, &f->batch, 4000), 0);
	assert_int_equal(count_state(f, STORE_SENT), 5);
	assert_int_equal(count_state(f, STORE_IN_FLIGHT), 0);
	assert_int_equal(spool_pending(f->spool), 8);
	assert_int_equal(store_queue_stats(f->store, &qs), 0);
	assert_int_equal(qs.in_flight, 0);
	assert_int_equal(qs.pending, 8);

	/* A budget that admits only critical and high finds nothing. */
	seen.n = 0;
	assert_int_equal(
	    spool_claim(f->spool, 10, PRIORITY_HIGH, seen_cb, &seen, &f->batch),
	    0);
}

static void
test_nack_then_dead_letter(void **state)
{
	struct fixture *f = *state;
	struct seen seen = { 0 };
	long long dead = -1;
	int round;

	add_readings(f, 4, PRIORITY_NORMAL, 1000);
	for (round = 1; round <= 3; round++) {
		assert_int_equal(spool_claim(f->spool, 10, PRIORITY_LOW,
				     seen_cb, &seen, &f->batch),
		    4);
		assert_int_equal(spool_nack(f->spool, &f->batch, &dead), 0);
		/* max_attempts = 3: the third failure dead-letters them. */
		assert_int_equal(dead, round < 3 ? 0 : 4);
	}
	assert_int_equal(count_state(f, STORE_DEAD_LETTER), 4);
	assert_int_equal(
	    spool_claim(f->spool, 10, PRIORITY_LOW, seen_cb, &seen, &f->batch),
	    0);
}

static void
test_ack_later_rides_the_next_transaction(void **state)
{
	struct fixture *f = *state;
	struct seen seen = { 0 };
	struct spool_opts po;
	struct store_queue_stats qs;

	memset(&po, 0, sizeof po);
	po.delete_on_ack = 1;
	spool_set_opts(f->spool, &po);
	add_readings(f, 6, PRIORITY_NORMAL, 1000);
	assert_int_equal(
	    spool_claim(f->spool, 4, PRIORITY_LOW, seen_cb, &seen, &f->batch),
	    4);
	assert_int_equal(spool_ack_later(f->spool, &f->batch, 2000), 0);
	/* Nothing written yet, but neither queued nor in flight. */
	assert_int_equal(store_count_readings(f->store), 6);
	assert_int_equal(store_queue_stats(f->store, &qs), 0);
	assert_int_equal(qs.pending, 2);
	assert_int_equal(qs.in_flight, 0);

	/* A group commit that fails keeps the acknowledgement waiting. */
	assert_int_equal(store_begin(f->store), 0);
	assert_int_equal(spool_settle_in(f->spool), 0);
	store_rollback(f->store);
	spool_settle_done(f->spool, 0);
	assert_int_equal(store_count_readings(f->store), 6);

	/* The next one writes it with its own rows. */
	assert_int_equal(store_begin(f->store), 0);
	assert_int_equal(spool_settle_in(f->spool), 0);
	assert_int_equal(store_commit(f->store), 0);
	spool_settle_done(f->spool, 1);
	assert_int_equal(store_count_readings(f->store), 2);
	assert_int_equal(store_queue_stats(f->store, &qs), 0);
	assert_int_equal(qs.pending, 2);

	/* Without a commit in between, the next claim writes it first and
	 * never hands out an acknowledged record again. */
	seen.n = 0;
	assert_int_equal(
	    spool_claim(f->spool, 1, PRIORITY_LOW, seen_cb, &seen, &f->batch),
	    1);
	assert_int_equal(spool_ack_later(f->spool, &f->batch, 2001), 0);
	seen.n = 0;
	assert_int_equal(
	    spool_claim(f->spool, 4, PRIORITY_LOW, seen_cb, &seen, &f->batch),
	    1);
	assert_true(seen.ts[0] == 1005);
	assert_int_equal(store_count_readings(f->store), 1);
}

static void
test_ack_matches_the_id_not_only_the_seq(void **state)
{
	struct fixture *f = *state;
	struct seen seen = { 0 };

	add_readings(f, 3, PRIORITY_NORMAL, 1000);
	assert_int_equal(
	    spool_claim(f->spool, 3, PRIORITY_LOW, seen_cb, &seen, &f->batch),
	    3);
	/* While the batch was away, its newest row was shed and its seq
	 * went to a new reading. */
	assert_int_equal(sqlite3_exec(store_db(f->store),
			     "UPDATE readings SET id = randomblob(32), "
			     "ts = 5000 WHERE seq = (SELECT max(seq) FROM "
			     "readings)",
			     NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(spool_ack(f->spool, &f->batch, 2000), 0);
	assert_int_equal(count_state(f, STORE_SENT), 2);
	assert_int_equal(count_state(f, STORE_QUEUED), 1);
}

static void
test_reject_and_requeue(void **state)
{
	struct fixture *f = *state;
	struct seen seen = { 0 };
	struct store_queue_stats qs;
	long long n = 0;

	add_readings(f, 6, PRIORITY_HIGH, 1000);
	assert_int_equal(
	    spool_claim(f->spool, 2, PRIORITY_LOW, seen_cb, &seen, &f->batch),
	    2);
	assert_int_equal(spool_reject(f->spool, &f->batch), 0);
	assert_int_equal(count_state(f, STORE_DEAD_LETTER), 2);

	/* Released (stop, reload): the same records are claimed again. */
	assert_int_equal(
	    spool_claim(f->spool, 3, PRIORITY_LOW, seen_cb, &seen, &f->batch),
	    3);
	assert_int_equal(store_queue_stats(f->store, &qs), 0);
	assert_int_equal(qs.pending, 1);
	assert_int_equal(qs.in_flight, 3);
	assert_int_equal(spool_release(f->spool, &f->batch), 0);
	assert_int_equal(store_queue_stats(f->store, &qs), 0);
	assert_int_equal(qs.pending, 4);
	assert_int_equal(qs.in_flight, 0);
	seen.n = 0;
	assert_int_equal(
	    spool_claim(f->spool, 3, PRIORITY_LOW, seen_cb, &seen, &f->batch),
	    3);
	assert_true(seen.ts[0] == 1002 && seen.ts[2] == 1004);
	assert_int_equal(spool_release(f->spool, &f->batch), 0);

	/* A store written by an older version, which marked in_flight in
	 * the rows: start-up requeues them (invariant 4). */
	assert_int_equal(sqlite3_exec(store_db(f->store),
			     "UPDATE readings SET state = 1 WHERE seq IN "
			     "(SELECT seq FROM readings WHERE state = 0 "
			     "LIMIT 3)",
			     NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(store_queue_stats(f->store, &qs), 0);
	assert_int_equal(qs.in_flight, 3);
	assert_int_equal(store_requeue_in_flight(f->store, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_queue_stats(f->store, &qs), 0);
	assert_int_equal(qs.pending, 4);
	assert_int_equal(qs.in_flight, 0);
	assert_int_equal(qs.dead_letter, 2);
}

static void
test_ack_deletes_when_nothing_is_kept(void **state)
{
	struct fixture *f = *state;
	struct seen seen = { 0 };
	struct spool_opts po;

	memset(&po, 0, sizeof po);
	po.delete_on_ack = 1;
	spool_set_opts(f->spool, &po);
	add_readings(f, 7, PRIORITY_NORMAL, 1000);
	assert_int_equal(
	    spool_claim(f->spool, 4, PRIORITY_LOW, seen_cb, &seen, &f->batch),
	    4);
	assert_int_equal(spool_ack(f->spool, &f->batch, 2000), 0);
	assert_int_equal(count_state(f, STORE_SENT), 0);
	assert_int_equal(count_state(f, STORE_QUEUED), 3);
	assert_int_equal(store_count_readings(f->store), 3);
	/* A failure still keeps the records, with the attempt counted. */
	assert_int_equal(
	    spool_claim(f->spool, 4, PRIORITY_LOW, seen_cb, &seen, &f->batch),
	    3);
	assert_int_equal(spool_nack(f->spool, &f->batch, NULL), 0);
	assert_int_equal(store_count_readings(f->store), 3);
}

static void
test_ttl_expiry_counts_shed(void **state)
{
	struct fixture *f = *state;
	struct spool_opts po;
	struct store_queue_stats qs;
	long long shed = -1;

	memset(&po, 0, sizeof po);
	po.ttl_s[PRIORITY_LOW] = 100;
	spool_set_opts(f->spool, &po);
	add_readings(f, 10, PRIORITY_LOW, 1000);   /* ts 1000..1009 */
	add_readings(f, 10, PRIORITY_CRITICAL, 0); /* ttl 0: forever */
	assert_int_equal(spool_expire(f->spool, 1105.5, &shed), 0);
	assert_int_equal(shed, 6); /* ts < 1005.5 */
	assert_int_equal(store_queue_stats(f->store, &qs), 0);
	assert_int_equal(qs.by_priority[PRIORITY_LOW], 4);
	assert_int_equal(qs.by_priority[PRIORITY_CRITICAL], 10);
	assert_int_equal(qs.shed_total, 6);

	/* More expired than one look at the head takes: all of them go,
	 * window after window, and the young ones stay. */
	add_readings(f, 4500, PRIORITY_LOW, 2000);
	add_readings(f, 7, PRIORITY_LOW, 9000);
	assert_int_equal(spool_expire(f->spool, 8000, &shed), 0);
	assert_int_equal(shed, 4 + 4500);
	assert_int_equal(store_queue_stats(f->store, &qs), 0);
	assert_int_equal(qs.by_priority[PRIORITY_LOW], 7);
}

static void
test_shed_order_under_pressure(void **state)
{
	struct fixture *f = *state;
	struct spool_opts po;
	struct store_queue_stats qs;
	long long shed = 0, live;

	add_readings(f, 3000, PRIORITY_CRITICAL, 1000);
	add_readings(f, 3000, PRIORITY_NORMAL, 1000);
	add_readings(f, 3000, PRIORITY_LOW, 1000);
	live = spool_live_bytes(f->spool);
	assert_true(live > 0);
	memset(&po, 0, sizeof po);
	/* Room for about two thirds: all low must go, no critical. */
	po.max_db_bytes = live * 2 / 3;
	spool_set_opts(f->spool, &po);
	assert_int_equal(spool_shed(f->spool, &shed), 0);
	assert_true(spool_live_bytes(f->spool) <= po.max_db_bytes);
	assert_int_equal(store_queue_stats(f->store, &qs), 0);
	assert_int_equal(qs.by_priority[PRIORITY_LOW], 0);
	assert_int_equal(qs.by_priority[PRIORITY_CRITICAL], 3000);
	assert_true(qs.by_priority[PRIORITY_NORMAL] <= 3000);
	assert_int_equal(shed, 3000 + (3000 - qs.by_priority[PRIORITY_NORMAL]));
	assert_int_equal(qs.shed_total, shed);
	/* Under the cap: nothing more to do. */
	assert_int_equal(spool_shed(f->spool, &shed), 0);
	assert_int_equal(shed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_claim_order_and_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_nack_then_dead_letter, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ack_deletes_when_nothing_is_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ack_later_rides_the_next_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ack_matches_the_id_not_only_the_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reject_and_requeue, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ttl_expiry_counts_shed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_shed_order_under_pressure, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
