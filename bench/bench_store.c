/*
 * Insert rate of the store (store_add_reading in group commits) against
 * the raw SQLite floor of bench_floor.c: the same rows and ids, the same
 * pragmas and indexes, one bare prepared INSERT; the ratio is store.c's
 * own overhead. Then, on the store's table, the cost of the queue
 * statistics (all queued, then nearly all sent) and of one big purge.
 *
 * usage: bench_store [rows]	(default 1000000; scratch dirs in /tmp)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bench_floor.h"
#include "recid.h"
#include "store.h"

static struct store *
bench_store_open(const char *dir)
{
	struct store_opts so = { .page_size = bench_page_size() };
	struct store *st;
	char *cause = NULL;

	if ((st = store_open(dir, &so, &cause)) == NULL) {
		fprintf(stderr, "store_open: %s\n", cause);
		exit(1);
	}
	return st;
}

static void
bench_store_fail(struct store *st, const char *what)
{
	fprintf(stderr, "%s: %s\n", what, store_errmsg(st));
	exit(1);
}

/* The ids are the pipeline's cost, not the store's: hashed beforehand. */
static unsigned char *
bench_ids(long rows)
{
	unsigned char *ids;
	struct reading r;
	long i;

	if ((ids = calloc((size_t)rows, RECORD_ID_LEN)) == NULL) {
		perror("calloc");
		exit(1);
	}
	for (i = 0; i < rows; i++) {
		bench_floor_row(i, &r);
		recid_reading("bench", &r);
		memcpy(ids + i * RECORD_ID_LEN, r.id, RECORD_ID_LEN);
	}
	return ids;
}

static double
bench_store_insert(
    struct store *st, const unsigned char *ids, long rows, long txn)
{
	struct reading r;
	double t0;
	long i;

	t0 = bench_now();
	for (i = 0; i < rows; i++) {
		if (i % txn == 0 && store_begin(st) == -1)
			bench_store_fail(st, "begin");
		bench_floor_row(i, &r);
		memcpy(r.id, ids + i * RECORD_ID_LEN, RECORD_ID_LEN);
		if (store_add_reading(st, &r) == -1)
			bench_store_fail(st, "add");
		if ((i + 1) % txn == 0 || i + 1 == rows) {
			if (store_commit(st) == -1)
				bench_store_fail(st, "commit");
			/* As the agent does: a compare, now and then a copy. */
			store_checkpoint(st, 0);
		}
	}
	return (double)rows / (bench_now() - t0);
}

static void
bench_stats(struct store *st, long rows, const char *label)
{
	struct store_queue_stats qs;
	double t0, t;
	int i;

	/* Once to warm the page cache, as a polled /health keeps it. */
	if (store_queue_stats(st, &qs) == -1)
		bench_store_fail(st, "stats");
	t0 = bench_now();
	for (i = 0; i < 10; i++)
		store_queue_stats(st, &qs);
	t = (bench_now() - t0) / 10;
	printf("store_queue_stats %s rows=%ld pending=%lld time=%.2fms\n",
	    label, rows, qs.pending, t * 1e3);
	fflush(stdout);
}

static void
bench_queries(struct store *st, long rows)
{
	long long purged;
	double t0, t;

	bench_stats(st, rows, "all_queued");
	if (sqlite3_exec(store_db(st),
		"UPDATE readings SET state = 2, "
		"sent_at = ts + 1 WHERE seq % 1000 != 0",
		NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "update: %s\n", sqlite3_errmsg(store_db(st)));
		exit(1);
	}
	store_checkpoint(st, 1);
	bench_stats(st, rows, "mostly_sent");
	t0 = bench_now();
	if (store_purge_sent(st, 1e12, &purged) == -1)
		bench_store_fail(st, "purge");
	t = bench_now() - t0;
	printf("store_purge_sent rows=%lld time=%.0fms\n", purged, t * 1e3);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static const long txns[] = { 100, 1000 };
	unsigned char *ids;
	struct store *st;
	char dir[64];
	double rate;
	long rows = 1000000;
	size_t i;

	if (argc > 1 && (rows = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: bench_store [rows]\n");
		return 1;
	}
	ids = bench_ids(rows);
	for (i = 0; i < sizeof txns / sizeof *txns; i++) {
		bench_mkdtemp(dir, sizeof dir, "bench_store");
		st = bench_store_open(dir);
		rate = bench_store_insert(st, ids, rows, txns[i]);
		if (store_count_readings(st) != rows) {
			fprintf(stderr, "store: %lld rows, wanted %ld\n",
			    store_count_readings(st), rows);
			return 1;
		}
		printf("store_insert txn=%ld rows=%ld rate=%.0f/s\n", txns[i],
		    rows, rate);
		fflush(stdout);
		if (i == sizeof txns / sizeof *txns - 1)
			bench_queries(st, rows);
		store_free(st);
		bench_rmtree(dir);

		bench_mkdtemp(dir, sizeof dir, "bench_floor");
		printf("sqlite_floor txn=%ld rows=%ld rate=%.0f/s\n", txns[i],
		    rows, bench_floor_run(dir, rows, txns[i]));
		fflush(stdout);
		bench_rmtree(dir);
	}
	free(ids);
	return 0;
}
