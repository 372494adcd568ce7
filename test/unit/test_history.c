/*
 * The status page's history: a bounded ring that keeps the newest samples
 * in order, and its JSON columns; and the store accessor the page lists
 * recent events with (newest first, limited, strings as stored).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "history.h"
#include "json_out.h"
#include "log.h"
#include "store.h"

static struct history_sample
sample(double ts, long long crit, long long low)
{
	struct history_sample s;

	memset(&s, 0, sizeof s);
	s.ts = ts;
	s.by_priority[PRIORITY_CRITICAL] = crit;
	s.by_priority[PRIORITY_LOW] = low;
	s.oldest_age_s = -1;
	s.rss_bytes = -1;
	return s;
}

static void
test_ring_keeps_the_newest_in_order(void **state)
{
	struct history *h = history_new(3, 30);
	struct history_sample s;
	int i;

	assert_int_equal(history_capacity(h), 3);
	assert_true(history_interval(h) == 30);
	assert_int_equal(history_count(h), 0);
	assert_null(history_at(h, 0));
	for (i = 1; i <= 5; i++) {
		s = sample(i, i * 10, 0);
		history_add(h, &s);
		assert_int_equal(history_count(h), i < 3 ? i : 3);
	}
	/* 1 and 2 made room; 3, 4, 5 remain, oldest first. */
	for (i = 0; i < 3; i++) {
		assert_non_null(history_at(h, (size_t)i));
		assert_true(history_at(h, (size_t)i)->ts == 3 + i);
		assert_int_equal(
		    history_at(h, (size_t)i)->by_priority[PRIORITY_CRITICAL],
		    (3 + i) * 10);
	}
	assert_null(history_at(h, 3));
	/* An hour of samples and more: still three. */
	for (i = 0; i < 1000; i++) {
		s = sample(100 + i, 0, i);
		history_add(h, &s);
	}
	assert_int_equal(history_count(h), 3);
	assert_int_equal(history_at(h, 0)->by_priority[PRIORITY_LOW], 997);
	assert_int_equal(history_at(h, 2)->by_priority[PRIORITY_LOW], 999);
	history_free(h);
	history_free(NULL);
}

static void
test_zero_points_is_one(void **state)
{
	struct history *h = history_new(0, 1);
	struct history_sample s = sample(7, 1, 2);

	assert_int_equal(history_capacity(h), 1);
	history_add(h, &s);
	s.ts = 8;
	history_add(h, &s);
	assert_int_equal(history_count(h), 1);
	assert_true(history_at(h, 0)->ts == 8);
	history_free(h);
}

static void
test_json_columns(void **state)
{
	struct history *h = history_new(2, 0.5);
	struct history_sample s;
	struct json_out j;

	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	history_render_json(h, &j);
	json_out_object_end(&j);
	assert_string_equal(j.buf,
	    "{\"interval_s\":0.5,\"capacity\":2,\"ts\":[],\"critical\":[],"
	    "\"high\":[],\"normal\":[],\"low\":[],\"oldest_age_s\":[],"
	    "\"readings_per_s\":[],\"rss_bytes\":[]}");

	s = sample(1700000000.04, 1, 4);
	s.by_priority[PRIORITY_HIGH] = 2;
	s.by_priority[PRIORITY_NORMAL] = 3;
	history_add(h, &s);
	s = sample(1700000000.56, 0, 0);
	s.oldest_age_s = 61.4;
	s.readings_per_s = 12.345;
	s.rss_bytes = 5242880;
	history_add(h, &s);
	json_out_reset(&j);
	json_out_object_begin(&j, NULL);
	history_render_json(h, &j);
	json_out_object_end(&j);
	/* Tenths of seconds, whole ages, rates to 0.01, null when unknown. */
	assert_string_equal(j.buf,
	    "{\"interval_s\":0.5,\"capacity\":2,"
	    "\"ts\":[1700000000,1700000000.6],\"critical\":[1,0],"
	    "\"high\":[2,0],\"normal\":[3,0],\"low\":[4,0],"
	    "\"oldest_age_s\":[null,61],\"readings_per_s\":[0,12.35],"
	    "\"rss_bytes\":[null,5242880]}");
	json_out_free(&j);
	history_free(h);
}

struct seen {
	int n;
	char rules[8][64];
	double ts[8];
	char kinds[8][8];
	int severity[8];
	int state[8];
};

static void
seen_cb(void *arg, const struct store_event *ev)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	snprintf(s->rules[s->n], sizeof s->rules[0], "%s", ev->rule);
	snprintf(s->kinds[s->n], sizeof s->kinds[0], "%s", ev->kind);
	s->ts[s->n] = ev->ts;
	s->severity[s->n] = (int)ev->severity;
	s->state[s->n] = (int)ev->state;
	s->n++;
}

static void
test_store_recent_events(void **state)
{
	char dir[] = "/tmp/outpost-test-history.XXXXXX", *cause = NULL;
	char path[128], *sql;
	struct store_opts so;
	struct store *st;
	struct seen seen;
	sqlite3 *db;
	int i;

	log_set_stream(fopen("/dev/null", "w"));
	assert_non_null(mkdtemp(dir));
	memset(&so, 0, sizeof so);
	st = store_open(dir, &so, &cause);
	assert_non_null(st);

	memset(&seen, 0, sizeof seen);
	assert_int_equal(store_recent_events(st, 5, seen_cb, &seen), 0);
	assert_int_equal(seen.n, 0);

	db = store_db(st);
	for (i = 0; i < 6; i++) {
		sql = sqlite3_mprintf(
		    "INSERT INTO events (id, rule, kind, device, sensor, ts, "
		    "value, severity, priority, state) VALUES (randomblob(32), "
		    "'r%d<&>', '%s', 'hold', 'temp.hold', %d, 1.5, %d, %d, %d)",
		    i, i % 2 ? "clear" : "fire", 1000 + i, i % 4, i % 4, i % 4);
		assert_int_equal(
		    sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_free(sql);
	}
	/* Newest first, at most n, strings as stored (escaping is HTML's). */
	assert_int_equal(store_recent_events(st, 4, seen_cb, &seen), 4);
	assert_int_equal(seen.n, 4);
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "r%d<&>", 5 - i);
		assert_string_equal(seen.rules[i], path);
		assert_true(seen.ts[i] == 1005 - i);
		assert_string_equal(
		    seen.kinds[i], (5 - i) % 2 ? "clear" : "fire");
		assert_int_equal(seen.severity[i], (5 - i) % 4);
		assert_int_equal(seen.state[i], (5 - i) % 4);
	}
	store_free(st);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_keeps_the_newest_in_order),
		cmocka_unit_test(test_zero_points_is_one),
		cmocka_unit_test(test_json_columns),
		cmocka_unit_test(test_store_recent_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
