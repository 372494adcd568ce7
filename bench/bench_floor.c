/*
 * The workload and the raw SQLite floor shared by the benchmarks. The floor
 * uses the schema store_open creates (so the indexes are exactly the
 * store's), then a connection of its own with the same pragmas and one
 * INSERT: what SQLite alone can do with our rows on this machine.
 */
#include <sys/stat.h>

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "bench_floor.h"
#include "recid.h"
#include "store.h"

#define BENCH_TEMPLATES 16

/* A fishing vessel's sensors. */
static const char *const bench_names[BENCH_TEMPLATES][3] = {
	{ "hold", "temp.hold.fore", "celsius" },
	{ "hold", "temp.hold.aft", "celsius" },
	{ "hold", "humidity.hold", "percent" },
	{ "engine", "temp.engine.coolant", "celsius" },
	{ "engine", "rpm.engine.main", "rpm" },
	{ "engine", "pressure.oil", "kPa" },
	{ "engine", "fuel.rate", "l/h" },
	{ "tank", "fuel.level.port", "percent" },
	{ "tank", "fuel.level.starboard", "percent" },
	{ "deck", "wind.speed", "m/s" },
	{ "deck", "wind.direction", "degrees" },
	{ "bridge", "gps.speed", "knots" },
	{ "bridge", "heading", "degrees" },
	{ "winch", "load.winch.port", "kN" },
	{ "winch", "load.winch.starboard", "kN" },
	{ "system", "cpu.usage", "percent" },
};

double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
bench_floor_row(long i, struct reading *r)
{
	const char *const *t = bench_names[i % BENCH_TEMPLATES];

	memset(r, 0, sizeof *r);
	strcpy(r->device, t[0]);
	strcpy(r->sensor, t[1]);
	strcpy(r->unit, t[2]);
	r->priority =
	    i % BENCH_TEMPLATES == 3 ? PRIORITY_CRITICAL : PRIORITY_NORMAL;
	r->ts = 1717000000.0 + (double)i * 0.01;
	r->value = 20.0 + (double)(i % 1000) * 0.125;
	r->mono_ns = 1000000000ULL + (uint64_t)i * 10000000ULL;
}

static int
bench_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void
bench_rmtree(const char *dir)
{
	nftw(dir, bench_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void
bench_mkdtemp(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "/tmp/%s.XXXXXX", name);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

static void
bench_check(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "sqlite: %s: %s\n", what,
		    db != NULL ? sqlite3_errmsg(db) : "open failed");
		exit(1);
	}
}

long long
bench_page_size(void)
{
	const char *env = getenv("BENCH_PAGE_SIZE");

	return env != NULL ? atoll(env) : 1024;
}

double
bench_floor_run(const char *dir, long rows, long txn)
{
	struct store_opts so = { .page_size = bench_page_size() };
	sqlite3_stmt *ins, *begin, *commit;
	sqlite3 *db;
	struct reading r;
	struct store *st;
	unsigned char(*ids)[RECORD_ID_LEN];
	char path[512], *cause = NULL;
	double t0, t;
	long i;

	if ((st = store_open(dir, &so, &cause)) == NULL) {
		fprintf(stderr, "store_open: %s\n", cause);
		exit(1);
	}
	store_free(st);
	if ((ids = calloc((size_t)rows, RECORD_ID_LEN)) == NULL) {
		perror("calloc");
		exit(1);
	}
	for (i = 0; i < rows; i++) {
		bench_floor_row(i, &r);
		recid_reading("bench", &r);
		memcpy(ids[i], r.id, RECORD_ID_LEN);
	}
	snprintf(path, sizeof path, "%s/outpost.db", dir);
	bench_check(NULL,
	    sqlite3_open_v2(
		path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL),
	    "open");
	bench_check(db,
	    sqlite3_exec(db,
		"PRAGMA journal_mode = WAL;"
		"PRAGMA synchronous = NORMAL; PRAGMA cache_size = -512;"
		"PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 1000",
		NULL, NULL, NULL),
	    "pragmas");
	bench_check(db,
	    sqlite3_prepare_v2(db,
		"INSERT OR IGNORE INTO readings "
		"(id, device, sensor, ts, value, unit, meta, priority, mono_ns, "
		"synced) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
		-1, &ins, NULL),
	    "prepare");
	bench_check(db,
	    sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL),
	    "prepare");
	bench_check(
	    db, sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL), "prepare");

	t0 = bench_now();
	for (i = 0; i < rows; i++) {
		if (i % txn == 0) {
			bench_check(db, sqlite3_step(begin), "begin");
			sqlite3_reset(begin);
		}
		bench_floor_row(i, &r);
		sqlite3_bind_blob(ins, 1, ids[i], RECORD_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, r.device, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, r.sensor, -1, SQLITE_STATIC);
		sqlite3_bind_double(ins, 4, r.ts);
		sqlite3_bind_double(ins, 5, r.value);
		sqlite3_bind_text(ins, 6, r.unit, -1, SQLITE_STATIC);
		sqlite3_bind_null(ins, 7);
		sqlite3_bind_int(ins, 8, (int)r.priority);
		sqlite3_bind_int64(ins, 9, (sqlite3_int64)r.mono_ns);
		sqlite3_bind_int(ins, 10, 1);
		bench_check(db, sqlite3_step(ins), "insert");
		sqlite3_reset(ins);
		if ((i + 1) % txn == 0 || i + 1 == rows) {
			bench_check(db, sqlite3_step(commit), "commit");
			sqlite3_reset(commit);
		}
	}
	t = bench_now() - t0;
	sqlite3_finalize(ins);
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_close(db);
	free(ids);
	return (double)rows / t;
}
