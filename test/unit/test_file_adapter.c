/*
 * The file adapter inside a real agent, for what the integration scenarios
 * cannot force: a store that refuses (its write lock held elsewhere) while
 * lines arrive, over-long lines split across reads, lines holding several
 * readings, and the status detail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "adapter.h"
#include "agent.h"
#include "config.h"
#include "json_out.h"
#include "store.h"

struct fixture {
	char dir[64];
	char path[128]; /* the tailed file */
	struct agent *ag;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	strcpy(f->dir, "/tmp/outpost-file.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/in.log", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	agent_free(f->ag);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Starts an agent with one file device; extra holds its own keys. */
static void
start(struct fixture *f, const char *extra)
{
	struct config *cfg;
	char text[2048], *cause = NULL;
	int n;

	n = snprintf(text, sizeof text,
	    "[agent]\nid = \"unit\"\ndata_dir = \"%s/data\"\n"
	    "[logging]\nlevel = \"error\"\nformat = \"text\"\n"
	    "[store]\ncommit_interval = 0.02\n"
	    "[health]\nlisten = \"127.0.0.1:0\"\n"
	    "[cloud]\nenabled = false\n"
	    "[[device]]\nname = \"in\"\ntype = \"file\"\npath = \"%s\"\n"
	    "from = \"start\"\n%s",
	    f->dir, f->path, extra);
	assert_true(n > 0 && (size_t)n < sizeof text);
	cfg = config_load_text(text, strlen(text), "unit.toml", &cause);
	if (cfg == NULL)
		fail_msg("config: %s", cause);
	assert_int_equal(agent_check_config(cfg), 0);
	if ((f->ag = agent_new(cfg, &cause)) == NULL)
		fail_msg("agent_new: %s", cause);
}

static void
run_for(struct fixture *f, double s)
{
	struct timeval tv;

	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	event_base_loopexit(agent_base(f->ag), &tv);
	event_base_dispatch(agent_base(f->ag));
}

static void
append(struct fixture *f, const char *text)
{
	FILE *fp = fopen(f->path, "a");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* One integer from a query on the agent's store. */
static long long
query(struct fixture *f, const char *sql)
{
	sqlite3_stmt *s;
	long long v;

	assert_int_equal(
	    sqlite3_prepare_v2(store_db(agent_store(f->ag)), sql, -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static struct adapter *
adapter(struct fixture *f)
{
	return agent_adapter_at(f->ag, 0);
}

/*
 * The store's write lock is held by another connection: commits fail, the
 * ring fills, the pipeline refuses. No reading may be skipped or repeated:
 * once the lock goes, each is stored exactly once and the position is at
 * the end. With three readings per line the refusal falls mid-line.
 */
static void
refused_then_retried(struct fixture *f, int per_line)
{
	char db[160], line[128], want[64], *err = NULL;
	sqlite3 *locker;
	sqlite3_stmt *s;
	struct stat st;
	int i, nlines = 40 / per_line;

	append(f, "");
	start(f,
	    per_line == 1 ? "buffer = 4\npoll_interval = 0.05\n"
			  : "buffer = 4\npoll_interval = 0.05\n"
			    "format = \"json\"\n");
	run_for(f, 0.05);
	snprintf(db, sizeof db, "%s/data/outpost.db", f->dir);
	assert_int_equal(sqlite3_open(db, &locker), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, &err),
	    SQLITE_OK);
	for (i = 0; i < nlines; i++) {
		if (per_line == 1)
			snprintf(line, sizeof line, "%d\n", i + 1);
		else
			snprintf(line, sizeof line,
			    "[{\"value\":%d},{\"value\":%d},"
			    "{\"value\":%d}]\n",
			    3 * i + 1, 3 * i + 2, 3 * i + 3);
		append(f, line);
	}
	run_for(f, 0.4);
	assert_int_equal(adapter(f)->state, ADAPTER_ERROR);
	assert_true(adapter(f)->errors > 0);
	assert_non_null(strstr(adapter(f)->last_error, "refused"));

	assert_int_equal(
	    sqlite3_exec(locker, "COMMIT", NULL, NULL, &err), SQLITE_OK);
	sqlite3_close(locker);
	run_for(f, 0.5);
	assert_int_equal(query(f,
			     "SELECT count(*) FROM readings WHERE "
			     "device = 'in'"),
	    nlines * per_line);
	assert_int_equal(query(f,
			     "SELECT count(DISTINCT value) FROM readings "
			     "WHERE device = 'in' AND value >= 1"),
	    nlines * per_line);
	assert_int_equal(query(f,
			     "SELECT max(value) FROM readings WHERE "
			     "device = 'in'"),
	    nlines * per_line);
	assert_int_equal(adapter(f)->state, ADAPTER_CONNECTED);

	assert_int_equal(stat(f->path, &st), 0);
	snprintf(want, sizeof want, "%ju:%jd:0:", (uintmax_t)st.st_ino,
	    (intmax_t)st.st_size);
	assert_int_equal(sqlite3_prepare_v2(store_db(agent_store(f->ag)),
			     "SELECT value FROM offsets WHERE source = "
			     "'file:in'",
			     -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_memory_equal(sqlite3_column_text(s, 0), want, strlen(want));
	sqlite3_finalize(s);
}

static void
test_refused_then_retried(void **state)
{
	refused_then_retried(*state, 1);
}

static void
test_refused_mid_line(void **state)
{
	refused_then_retried(*state, 3);
}

/*
 * An over-long line written in pieces, read between them: one bad line,
 * and nothing of its tail taken for a reading. A line of exactly the
 * limit is fine.
 */
static void
test_long_line_in_pieces(void **state)
{
	struct fixture *f = *state;
	char piece[16];

	append(f, "");
	start(f, "max_line_bytes = 16\n");
	run_for(f, 0.05);
	memset(piece, '7', 10);
	piece[10] = '\0';
	append(f, "1\n");
	append(f, piece);
	run_for(f, 0.05);
	append(f, piece);
	run_for(f, 0.05);
	append(f, piece);
	run_for(f, 0.05);
	/* The tail of the long line looks like a number on its own. */
	append(f, "42\n1234567890.12345\n3\n");
	run_for(f, 0.2);
	assert_int_equal(query(f,
			     "SELECT count(*) FROM readings WHERE "
			     "device = 'in'"),
	    3);
	assert_int_equal(query(f,
			     "SELECT count(*) FROM readings WHERE device = "
			     "'in' AND value IN (1, 1234567890.12345, 3)"),
	    3);
	assert_int_equal(adapter(f)->errors, 1);
	assert_non_null(strstr(adapter(f)->last_error, "max_line_bytes"));
}

/* A JSON array line: several readings, named by the line itself. */
static void
test_several_readings_per_line(void **state)
{
	struct fixture *f = *state;
	struct json_out j;

	append(f, "");
	start(f, "format = \"json\"\n");
	run_for(f, 0.05);
	append(f,
	    "[{\"sensor\":\"a\",\"value\":1},{\"sensor\":\"b\",\"value\":2}]\n"
	    "{\"sensor\":\"c\",\"value\":3}\n"
	    "[{\"sensor\":\"d\",\"value\":\"x\"},{\"sensor\":\"e\","
	    "\"value\":5}]\n");
	run_for(f, 0.2);
	assert_int_equal(query(f,
			     "SELECT count(*) FROM readings WHERE "
			     "device = 'in'"),
	    3);
	assert_int_equal(query(f,
			     "SELECT sum(value) FROM readings WHERE device = "
			     "'in' AND sensor IN ('a', 'b', 'c')"),
	    6);
	assert_int_equal(adapter(f)->errors, 1);

	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	adapter(f)->ops->status(adapter(f), &j);
	json_out_object_end(&j);
	assert_non_null(strstr(j.buf, "\"mode\":\"tail\""));
	assert_non_null(strstr(j.buf, "\"format\":\"json\""));
	assert_non_null(strstr(j.buf, "\"watch\":\"inotify\""));
	assert_non_null(strstr(j.buf, "\"lines\":2"));
	assert_non_null(strstr(j.buf, "\"bad_lines\":1"));
	json_out_free(&j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_refused_then_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_refused_mid_line, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_long_line_in_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_several_readings_per_line, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
