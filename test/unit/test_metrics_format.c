/*
 * metrics and health rendering against a real agent (store in a scratch
 * directory, health on an ephemeral port, simulator and system devices):
 * the exposition format line by line, label escaping, the JSON system view
 * byte for byte, and the status rules (degraded by a failing adapter,
 * unhealthy while store commits fail, healthy again after).
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "adapter.h"
#include "agent.h"
#include "config.h"
#include "health.h"
#include "json_out.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "sysinfo.h"

struct fixture {
	char dir[64];
	struct agent *ag;
	sqlite3 *json; /* json_extract for assertions */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct config *cfg;
	char text[1024], *cause = NULL;
	int n;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/outpost-metrics.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	n = snprintf(text, sizeof text,
	    "[agent]\nid = \"unit\"\ndata_dir = \"%s/data\"\n"
	    "[logging]\nlevel = \"error\"\nformat = \"text\"\n"
	    "[store]\ncommit_interval = 0.02\n"
	    "[health]\nlisten = \"127.0.0.1:0\"\n"
	    "[cloud]\nenabled = false\n"
	    "[[device]]\nname = \"hold\"\ntype = \"sim\"\n"
	    "sensor = \"temp.hold\"\ninterval = 0.01\n"
	    "[[device]]\nname = \"system\"\ntype = \"system\"\n"
	    "interval = 0.05\n",
	    f->dir);
	assert_true(n > 0 && (size_t)n < sizeof text);
	cfg = config_load_text(text, strlen(text), "unit.toml", &cause);
	assert_non_null(cfg);
	assert_int_equal(agent_check_config(cfg), 0);
	f->ag = agent_new(cfg, &cause);
	if (f->ag == NULL)
		fail_msg("agent_new: %s", cause);
	assert_int_equal(sqlite3_open(":memory:", &f->json), SQLITE_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	agent_free(f->ag);
	sqlite3_close(f->json);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Runs the agent's loop for a while (readings, commits, samples). */
static void
run_for(struct fixture *f, double s)
{
	struct timeval tv;

	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	event_base_loopexit(agent_base(f->ag), &tv);
	event_base_dispatch(agent_base(f->ag));
}

/* json_extract(doc, path) as text; "(null)" for SQL NULL. Static buffer. */
static const char *
jget(struct fixture *f, const char *doc, const char *path)
{
	static char out[1024];
	sqlite3_stmt *s;
	const char *v;

	assert_int_equal(sqlite3_prepare_v2(f->json,
			     "SELECT json_extract(?1, ?2)", -1, &s, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(s, 1, doc, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = (const char *)sqlite3_column_text(s, 0);
	snprintf(out, sizeof out, "%s", v != NULL ? v : "(null)");
	sqlite3_finalize(s);
	return out;
}

static int
jvalid(struct fixture *f, const char *doc)
{
	sqlite3_stmt *s;
	int ok;

	assert_int_equal(
	    sqlite3_prepare_v2(f->json, "SELECT json_valid(?1)", -1, &s, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(s, 1, doc, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	ok = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return ok;
}

static char *
render_prometheus(struct fixture *f)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *text;

	metrics_render_prometheus(f->ag, b);
	len = evbuffer_get_length(b);
	text = malloc(len + 1);
	assert_non_null(text);
	evbuffer_remove(b, text, len);
	text[len] = '\0';
	evbuffer_free(b);
	return text;
}

/* The value of one exact series ("name{labels}"), or -1 if absent. */
static double
series(const char *text, const char *key)
{
	const char *p = text;
	size_t klen = strlen(key);

	while ((p = strstr(p, key)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[klen] == ' ')
			return strtod(p + klen + 1, NULL);
		p += klen;
	}
	return -1;
}

static int
name_char(int c, int first)
{
	return isalpha(c) || c == '_' || c == ':' || (!first && isdigit(c));
}

/* Checks one sample line; returns its metric name in name. */
static void
check_sample(const char *line, char *name, size_t size)
{
	const char *p = line;
	char *end;
	size_t n = 0;

	assert_true(name_char((unsigned char)*p, 1));
	while (name_char((unsigned char)*p, 0) && n < size - 1)
		name[n++] = *p++;
	name[n] = '\0';
	if (*p == '{') {
		p++;
		for (;;) {
			assert_true(name_char((unsigned char)*p, 1));
			while (name_char((unsigned char)*p, 0))
				p++;
			assert_int_equal(*p++, '=');
			assert_int_equal(*p++, '"');
			while (*p != '"') {
				assert_true(*p != '\0' && *p != '\n');
				if (*p == '\\') {
					p++;
					assert_true(*p == '\\' || *p == '"' ||
					    *p == 'n');
				}
				p++;
			}
			p++;
			if (*p == '}')
				break;
			assert_int_equal(*p++, ',');
		}
		p++;
	}
	assert_int_equal(*p++, ' ');
	if (strcmp(p, "+Inf") != 0 && strcmp(p, "-Inf") != 0 &&
	    strcmp(p, "NaN") != 0) {
		strtod(p, &end);
		if (end == p || *end != '\0')
			fail_msg("bad value in '%s'", line);
	}
}

/*
 * The exposition format: HELP then TYPE for every family, declared once,
 * samples of that family only until the next one, counters in _total,
 * histograms with their _bucket/_sum/_count.
 */
static void
check_exposition(char *text)
{
	char family[128] = "", type[16] = "", name[128], seen[8192] = " ";
	char *line, *save = NULL, help_of[128] = "", key[136];
	size_t nfamilies = 0, nsamples = 0, base;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%127s", help_of), 1);
			assert_true(strlen(line) > 8 + strlen(help_of));
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_int_equal(
			    sscanf(line + 7, "%127s %15s", family, type), 2);
			assert_string_equal(family, help_of);
			assert_true(strcmp(type, "counter") == 0 ||
			    strcmp(type, "gauge") == 0 ||
			    strcmp(type, "histogram") == 0);
			if (strcmp(type, "counter") == 0)
				assert_non_null(strstr(family, "_total"));
			snprintf(key, sizeof key, " %s ", family);
			if (strstr(seen, key) != NULL)
				fail_msg("family %s declared twice", family);
			assert_true(strlen(seen) + strlen(key) < sizeof seen);
			strcat(seen, key + 1);
			nfamilies++;
			continue;
		}
		assert_true(line[0] != '#');
		check_sample(line, name, sizeof name);
		base = strlen(family);
		if (strcmp(type, "histogram") == 0) {
			assert_memory_equal(name, family, base);
			assert_true(strcmp(name + base, "_bucket") == 0 ||
			    strcmp(name + base, "_sum") == 0 ||
			    strcmp(name + base, "_count") == 0);
		} else if (strcmp(name, family) != 0)
			fail_msg("sample %s under family %s", name, family);
		nsamples++;
	}
	assert_true(nfamilies >= 30);
	assert_true(nsamples > nfamilies);
}

static void
test_prometheus(void **state)
{
	struct fixture *f = *state;
	struct adapter *a;
	char *text;

	run_for(f, 0.3);
	a = agent_adapter_at(f->ag, 0);
	assert_non_null(a);
	/* Names come from the config (restricted); escape anyway. */
	free(a->name);
	a->name = strdup("a\"b\\c\nd");

	text = render_prometheus(f);
	assert_non_null(strstr(text,
	    "\noutpost_adapter_up{adapter="
	    "\"a\\\"b\\\\c\\nd\",type=\"sim\"} 1\n"));
	assert_non_null(strstr(text,
	    "# HELP outpost_info Version and id of this agent (always 1).\n"
	    "# TYPE outpost_info gauge\n"
	    "outpost_info{version=\"0.1.0\",agent_id=\"unit\"} 1\n"));
	assert_true(
	    series(text, "outpost_readings_total{result=\"committed\"}") > 0);
	assert_true(
	    series(text, "outpost_readings_total{result=\"filtered\"}") == 0);
	assert_true(series(text, "outpost_store_commits_total") > 0);
	assert_true(series(text, "outpost_health_status") == 0);
	assert_true(series(text,
			"outpost_adapter_readings_total"
			"{adapter=\"system\",type=\"system\"}") > 0);
	assert_true(
	    series(text, "outpost_queue_pending{priority=\"normal\"}") > 0);
	assert_true(
	    series(text, "outpost_queue_pending{priority=\"critical\"}") == 0);
	assert_true(series(text, "process_resident_memory_bytes") > 0);
	assert_true(series(text, "process_open_fds") > 0);
	assert_true(series(text, "outpost_system_memory_total_bytes") > 0);
	assert_true(series(text, "no_such_metric") == -1);
	check_exposition(text);
	free(text);
}

static void
test_system_json_exact(void **state)
{
	struct sysinfo_snapshot s;
	struct json_out j;

	memset(&s, 0, sizeof s);
	s.has_cpu = 1;
	s.cpu_percent = 12.5;
	s.has_memory = 1;
	s.mem_total_bytes = 1000;
	s.mem_available_bytes = 250;
	s.has_disk = 1;
	s.disk_total_bytes = 2000;
	s.disk_free_bytes = 500;
	s.has_uptime = 1;
	s.uptime_s = 100.5;
	s.has_load = 1;
	s.load1 = 0.5;
	s.load5 = 0.25;
	s.load15 = 1;
	s.nthermal = 2;
	strcpy(s.thermal[0].name, "cpu-thermal");
	s.thermal[0].celsius = 45.5;
	strcpy(s.thermal[1].name, "zone1");
	s.thermal[1].celsius = -3;

	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	metrics_system_fields(&j, &s);
	json_out_object_end(&j);
	assert_string_equal(j.buf,
	    "{\"cpu_percent\":12.5,"
	    "\"mem_total_bytes\":1000,\"mem_available_bytes\":250,"
	    "\"mem_used_percent\":75,\"disk_total_bytes\":2000,"
	    "\"disk_free_bytes\":500,\"disk_used_percent\":75,"
	    "\"uptime_s\":100.5,\"load\":[0.5,0.25,1],\"thermal\":["
	    "{\"name\":\"cpu-thermal\",\"celsius\":45.5},"
	    "{\"name\":\"zone1\",\"celsius\":-3}]}");

	/* Nothing readable: null, never zero. */
	memset(&s, 0, sizeof s);
	json_out_reset(&j);
	json_out_object_begin(&j, NULL);
	metrics_system_fields(&j, &s);
	json_out_object_end(&j);
	assert_string_equal(j.buf,
	    "{\"cpu_percent\":null,"
	    "\"mem_total_bytes\":null,\"mem_available_bytes\":null,"
	    "\"mem_used_percent\":null,\"disk_total_bytes\":null,"
	    "\"disk_free_bytes\":null,\"disk_used_percent\":null,"
	    "\"uptime_s\":null,\"load\":null,\"thermal\":[]}");
	json_out_free(&j);
}

static void
test_system_json_document(void **state)
{
	struct fixture *f = *state;
	struct json_out j;

	run_for(f, 0.1);
	json_out_init(&j);
	metrics_render_system_json(f->ag, &j);
	assert_string_equal(jget(f, j.buf, "$.agent_id"), "unit");
	assert_true(atof(jget(f, j.buf, "$.mem_total_bytes")) > 0);
	assert_true(atof(jget(f, j.buf, "$.uptime_s")) > 0);
	assert_true(atof(jget(f, j.buf, "$.process.rss_bytes")) > 0);
	assert_true(atof(jget(f, j.buf, "$.process.open_fds")) > 3);
	assert_true(jvalid(f, j.buf));
	json_out_free(&j);
}

static enum health_status
render_health(struct fixture *f, struct json_out *j)
{
	enum health_status st;

	json_out_reset(j);
	st = health_render(f->ag, j);
	assert_true(jvalid(f, j->buf));
	assert_string_equal(
	    jget(f, j->buf, "$.status"), health_status_name(st));
	return st;
}

static void
test_health_states(void **state)
{
	struct fixture *f = *state;
	struct adapter *a;
	struct json_out j;
	sqlite3 *db = store_db(agent_store(f->ag));
	FILE *devnull;
	char *text;

	json_out_init(&j);
	run_for(f, 0.2);
	assert_int_equal(render_health(f, &j), HEALTH_HEALTHY);
	assert_string_equal(jget(f, j.buf, "$.reasons"), "[]");
	assert_string_equal(jget(f, j.buf, "$.connection.state"), "disabled");
	assert_string_equal(jget(f, j.buf, "$.adapters[0].name"), "hold");
	assert_string_equal(
	    jget(f, j.buf, "$.adapters[0].detail.waveform"), "sine");
	assert_string_equal(
	    jget(f, j.buf, "$.adapters[1].detail.disk_path"), "/");
	assert_true(atof(jget(f, j.buf, "$.readings_processed")) > 0);

	/* A failing adapter degrades, and says why. */
	a = agent_adapter_at(f->ag, 0);
	a->state = ADAPTER_ERROR;
	strcpy(a->last_error, "boom");
	assert_int_equal(render_health(f, &j), HEALTH_DEGRADED);
	assert_string_equal(
	    jget(f, j.buf, "$.reasons"), "[\"adapter hold: boom\"]");
	text = render_prometheus(f);
	assert_true(series(text, "outpost_health_status") == 1);
	assert_true(
	    series(text, "outpost_adapter_up{adapter=\"hold\",type=\"sim\"}") ==
	    0);
	free(text);
	a->state = ADAPTER_CONNECTED;
	assert_int_equal(render_health(f, &j), HEALTH_HEALTHY);

	/* The store refuses writes: commits fail, the agent is unhealthy. */
	assert_non_null(devnull = fopen("/dev/null", "w"));
	log_set_stream(devnull);
	assert_int_equal(
	    sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL),
	    SQLITE_OK);
	run_for(f, 0.2);
	assert_int_equal(render_health(f, &j), HEALTH_UNHEALTHY);
	assert_non_null(
	    strstr(jget(f, j.buf, "$.reasons[0]"), "store commits failed"));
	assert_true(atof(jget(f, j.buf, "$.store.commit_failures")) > 0);
	text = render_prometheus(f);
	assert_true(series(text, "outpost_health_status") == 2);
	assert_true(series(text, "outpost_store_commit_failures_total") > 0);
	free(text);

	/* Writes allowed again: the next commit heals it. */
	assert_int_equal(
	    sqlite3_exec(db, "PRAGMA query_only = 0", NULL, NULL, NULL),
	    SQLITE_OK);
	run_for(f, 0.2);
	log_set_stream(stderr);
	fclose(devnull);
	assert_int_equal(render_health(f, &j), HEALTH_HEALTHY);
	json_out_free(&j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_system_json_exact),
		cmocka_unit_test_setup_teardown(
		    test_prometheus, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_system_json_document, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_health_states, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
