/*
 * The system adapter inside a real agent: which sensors it stores, with
 * which units and values, one timestamp per tick; and the configuration
 * problems it reports.
 */
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

#include "adapter.h"
#include "agent.h"
#include "config.h"
#include "json_out.h"
#include "store.h"

struct fixture {
	char dir[64];
	struct agent *ag;
};

static struct config *
load(const char *dir, const char *devices)
{
	struct config *cfg;
	char text[2048], *cause = NULL;
	int n;

	n = snprintf(text, sizeof text,
	    "[agent]\nid = \"unit\"\ndata_dir = \"%s/data\"\n"
	    "[logging]\nlevel = \"error\"\nformat = \"text\"\n"
	    "[store]\ncommit_interval = 0.02\n"
	    "[health]\nlisten = \"127.0.0.1:0\"\n"
	    "[cloud]\nenabled = false\n%s",
	    dir, devices);
	assert_true(n > 0 && (size_t)n < sizeof text);
	cfg = config_load_text(text, strlen(text), "unit.toml", &cause);
	if (cfg == NULL)
		fail_msg("config: %s", cause);
	return cfg;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	strcpy(f->dir, "/tmp/outpost-system.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
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

static void
start(struct fixture *f, const char *devices)
{
	struct config *cfg = load(f->dir, devices);
	char *cause = NULL;

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
test_readings(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	sqlite3_stmt *s;
	const char *sensor, *unit;
	double minv, maxv;
	int seen = 0, n, ticks;

	start(f,
	    "[[device]]\nname = \"host\"\ntype = \"system\"\n"
	    "sensor = \"box\"\ninterval = 0.05\ndisk_path = \"/tmp\"\n");
	run_for(f, 0.4);
	db = store_db(agent_store(f->ag));
	assert_int_equal(
	    sqlite3_prepare_v2(db,
		"SELECT sensor, unit, "
		"min(value), max(value), count(*) FROM readings WHERE "
		"device = 'host' GROUP BY sensor ORDER BY sensor",
		-1, &s, NULL),
	    SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		sensor = (const char *)sqlite3_column_text(s, 0);
		unit = (const char *)sqlite3_column_text(s, 1);
		minv = sqlite3_column_double(s, 2);
		maxv = sqlite3_column_double(s, 3);
		n = sqlite3_column_int(s, 4);
		assert_true(n >= 3);
		if (strcmp(sensor, "box.cpu_percent") == 0 ||
		    strcmp(sensor, "box.mem_used_percent") == 0 ||
		    strcmp(sensor, "box.disk_used_percent") == 0) {
			assert_string_equal(unit, "percent");
			assert_true(minv >= 0 && maxv <= 100);
		} else if (strcmp(sensor, "box.mem_available_bytes") == 0 ||
		    strcmp(sensor, "box.disk_free_bytes") == 0) {
			assert_string_equal(unit, "bytes");
			assert_true(minv > 0);
		} else if (strcmp(sensor, "box.uptime_s") == 0) {
			assert_string_equal(unit, "seconds");
			assert_true(minv > 0 && maxv >= minv);
		} else if (strcmp(sensor, "box.load1") == 0) {
			assert_string_equal(unit, "");
			assert_true(minv >= 0);
		} else if (strncmp(sensor, "box.thermal.", 12) == 0) {
			/* Only where the host has thermal zones. */
			assert_string_equal(unit, "celsius");
			continue;
		} else
			fail_msg("unexpected sensor %s", sensor);
		seen++;
	}
	sqlite3_finalize(s);
	/* This host has /proc and a /tmp: all seven fixed figures. */
	assert_int_equal(seen, 7);

	/* One timestamp per tick: as many distinct ts as uptime readings. */
	assert_int_equal(
	    sqlite3_prepare_v2(db,
		"SELECT count(DISTINCT ts), "
		"sum(sensor = 'box.uptime_s') FROM readings WHERE device = 'host'",
		-1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	ticks = sqlite3_column_int(s, 1);
	assert_int_equal(sqlite3_column_int(s, 0), ticks);
	assert_true(ticks >= 3);
	sqlite3_finalize(s);
	assert_int_equal(agent_adapter_at(f->ag, 0)->state, ADAPTER_CONNECTED);
	assert_int_equal(agent_adapter_at(f->ag, 0)->errors, 0);
}

static void
test_subset(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *s;
	struct adapter *a;
	struct json_out j;

	/* The sensor defaults to the device name. */
	start(f,
	    "[[device]]\nname = \"sys\"\ntype = \"system\"\n"
	    "interval = 0.05\ncpu = false\nmemory = false\ndisk = false\n"
	    "thermal = false\nload = false\n");
	run_for(f, 0.3);
	assert_int_equal(
	    sqlite3_prepare_v2(store_db(agent_store(f->ag)),
		"SELECT group_concat(DISTINCT sensor) FROM readings", -1, &s,
		NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal(
	    (const char *)sqlite3_column_text(s, 0), "sys.uptime_s");
	sqlite3_finalize(s);

	a = agent_adapter_at(f->ag, 0);
	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	a->ops->status(a, &j);
	json_out_object_end(&j);
	assert_string_equal(j.buf,
	    "{\"cpu\":false,\"memory\":false,"
	    "\"disk\":false,\"thermal\":false,\"uptime\":true,\"load\":false,"
	    "\"disk_path\":\"/\",\"interval_s\":0.05}");
	json_out_free(&j);
}

/* Nothing readable: counted as an error, state ERROR, no reading faked. */
static void
test_nothing_readable(void **state)
{
	struct fixture *f = *state;
	struct adapter *a;

	start(f,
	    "[[device]]\nname = \"sys\"\ntype = \"system\"\n"
	    "interval = 0.05\ncpu = false\nmemory = false\nthermal = false\n"
	    "uptime = false\nload = false\n"
	    "disk_path = \"/nonexistent/outpost\"\n");
	run_for(f, 0.3);
	a = agent_adapter_at(f->ag, 0);
	assert_int_equal(a->state, ADAPTER_ERROR);
	assert_true(a->errors >= 3);
	assert_string_equal(a->last_error, "no system figure could be read");
	assert_int_equal(a->readings, 0);
	assert_int_equal(store_count_readings(agent_store(f->ag)), 0);
}

/* The problem text contains want, at the device's line. */
static void
check_error(const char *dir, const char *device, const char *want)
{
	struct config *cfg = load(dir, device);
	size_t i;
	int found = 0;

	assert_true(agent_check_config(cfg) > 0);
	for (i = 0; i < cfg->nerrors; i++) {
		if (strstr(cfg->errors[i], want) != NULL &&
		    strstr(cfg->errors[i], "unit.toml:13:") != NULL)
			found = 1;
	}
	if (!found)
		fail_msg("no '%s' in %s", want,
		    cfg->nerrors > 0 ? cfg->errors[0] : "(none)");
	config_free(cfg);
}

static void
test_config_errors(void **state)
{
	struct fixture *f = *state;

	check_error(f->dir,
	    "[[device]]\nname = \"s\"\ntype = \"system\"\n"
	    "cpu = false\nmemory = false\ndisk = false\nthermal = false\n"
	    "uptime = false\nload = false\n",
	    "every system figure is off");
	check_error(f->dir,
	    "[[device]]\nname = \"s\"\ntype = \"system\"\n"
	    "disk_path = \"var/lib\"\n",
	    "disk_path must be an absolute path");
	check_error(f->dir,
	    "[[device]]\nname = \"s\"\ntype = \"system\"\n"
	    "sensor = \"a.very.long.sensor.prefix.for.the.host.xxxxx\"\n",
	    "too long for the system sensors (at most 43 characters)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_readings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subset, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_nothing_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_config_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
