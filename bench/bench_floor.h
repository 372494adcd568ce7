/*
 * Shared by the benchmarks: the synthetic workload (realistic names, one
 * row per index) and the raw SQLite floor every ingest figure is compared
 * with.
 */
#ifndef OUTPOST_BENCH_FLOOR_H
#define OUTPOST_BENCH_FLOOR_H

#include "reading.h"

/* Row i of the workload, id not filled. */
void bench_floor_row(long i, struct reading *r);
/*
 * Inserts rows 0..rows-1 (ids precomputed, outside the timing) into a
 * fresh store schema in dir through one bare prepared INSERT, txn rows per
 * transaction, with the store's pragmas. Returns rows per second.
 */
double bench_floor_run(const char *dir, long rows, long txn);
double bench_now(void);
/*
 * The page size of every store a benchmark creates: the agent's default
 * for a new store (1024), or BENCH_PAGE_SIZE from the environment.
 */
long long bench_page_size(void);
/* A fresh scratch directory under /tmp, and its removal. */
void bench_mkdtemp(char *dir, size_t len, const char *name);
void bench_rmtree(const char *dir);

#endif
