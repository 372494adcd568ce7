/*
 * Ingest through the agent's own reading path: readings filled the way an
 * adapter fills them are submitted to the pipeline, which stamps the
 * SHA-256 id, buffers them in the source's ring and group-commits them to
 * the store, all on one libevent loop. In the same run, the raw SQLite
 * floor (bench_floor.c): the same rows through one bare prepared INSERT in
 * transactions of the same size, and the ratio.
 *
 * usage: bench_ingest [readings] [txn]	(default 1000000 1000)
 */
#include <sys/resource.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bench_floor.h"
#include "log.h"
#include "pipeline.h"
#include "store.h"

#define INGEST_CHUNK 500 /* readings per loop turn, like a busy adapter */

struct ingest {
	struct pipeline_src *src;
	struct event *ev;
	long next;
	long total;
};

static double
ingest_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long
ingest_peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void
ingest_chunk_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest *in = arg;
	struct reading r;
	struct timeval now = { 0, 0 };
	long end = in->next + INGEST_CHUNK;

	if (end > in->total)
		end = in->total;
	for (; in->next < end; in->next++) {
		bench_floor_row(in->next, &r);
		if (pipeline_submit(in->src, &r, NULL, NULL) == -1) {
			fprintf(stderr, "reading %ld refused\n", in->next);
			exit(1);
		}
	}
	if (in->next < in->total)
		evtimer_add(in->ev, &now);
}

static double
ingest_run(const char *dir, long rows, long txn, double *cpu_us)
{
	struct store_opts so = { 0 };
	struct pipeline_opts po = { "bench", 1.0, (size_t)txn };
	struct event_base *base = event_base_new();
	struct store *st;
	struct pipeline *p;
	struct ingest in;
	struct timeval now = { 0, 0 };
	char *cause = NULL;
	double t0, c0, t;

	so.checkpoint_pages = 1000;
	so.page_size = bench_page_size();
	if ((st = store_open(dir, &so, &cause)) == NULL) {
		fprintf(stderr, "store_open: %s\n", cause);
		exit(1);
	}
	p = pipeline_new(base, st, &po);
	memset(&in, 0, sizeof in);
	in.src = pipeline_src_new(p, "bench", (size_t)txn);
	in.total = rows;
	in.ev = evtimer_new(base, ingest_chunk_cb, &in);
	evtimer_add(in.ev, &now);

	c0 = ingest_cpu_s();
	t0 = bench_now();
	event_base_dispatch(base);
	pipeline_commit(p);
	t = bench_now() - t0;
	*cpu_us = (ingest_cpu_s() - c0) * 1e6 / (double)rows;

	if (store_count_readings(st) != rows) {
		fprintf(stderr, "store holds %lld readings, wanted %ld\n",
		    store_count_readings(st), rows);
		exit(1);
	}
	event_free(in.ev);
	pipeline_src_free(in.src);
	pipeline_free(p);
	store_free(st);
	event_base_free(base);
	return (double)rows / t;
}

int
main(int argc, char **argv)
{
	long rows = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	long txn = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
	char dir[64];
	double agent, floor, cpu_us;
	long rss;

	log_configure(LOG_WARN, LOG_FORMAT_TEXT);
	if (rows <= 0 || txn <= 0) {
		fprintf(stderr, "usage: bench_ingest [readings] [txn]\n");
		return 1;
	}
	bench_mkdtemp(dir, sizeof dir, "bench_ingest");
	agent = ingest_run(dir, rows, txn, &cpu_us);
	rss = ingest_peak_rss_kib();
	bench_rmtree(dir);
	printf("ingest_pipeline readings=%ld txn=%ld rate=%.0f/s "
	       "cpu=%.2fus/reading peak_rss=%ldKiB\n",
	    rows, txn, agent, cpu_us, rss);
	fflush(stdout);

	bench_mkdtemp(dir, sizeof dir, "bench_floor");
	floor = bench_floor_run(dir, rows, txn);
	bench_rmtree(dir);
	printf("sqlite_floor readings=%ld txn=%ld rate=%.0f/s\n", rows, txn,
	    floor);
	printf("ratio agent/floor=%.2f\n", agent / floor);
	return 0;
}
