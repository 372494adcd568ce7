/*
 * The configuration layer: defaults, ranges, types, unknown keys with
 * their lines, ${VAR} substitution, secrets, the printed effective config
 * (which must load again to the same values), the embedded default and
 * the reference file conf/outpost.toml.
 */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static const char *const sim_waveforms[] = { "sine", "random_walk", "step",
	"noise", NULL };

/* Reads the sim and system adapters' keys the way those adapters do. */
static void
consume_adapter_keys(struct config *cfg)
{
	struct cfg_device *d;
	size_t i;
	double f;
	long long n;
	char *s;
	int e;

	for (i = 0; i < cfg->ndevices; i++) {
		d = &cfg->devices[i];
		if (strcmp(d->type, "sim") == 0) {
			cfg_get_enum(
			    cfg, d->table, "waveform", sim_waveforms, 0, &e);
			cfg_get_double(
			    cfg, d->table, "min", 0, -1e300, 1e300, &f);
			cfg_get_double(
			    cfg, d->table, "max", 100, -1e300, 1e300, &f);
			cfg_get_double(
			    cfg, d->table, "period", 60, 0.001, 1e9, &f);
			cfg_get_int(cfg, d->table, "seed", 0, 0, INT64_MAX, &n);
		} else if (strcmp(d->type, "system") == 0) {
			cfg_get_bool(cfg, d->table, "cpu", 1, &e);
			cfg_get_bool(cfg, d->table, "memory", 1, &e);
			cfg_get_bool(cfg, d->table, "disk", 1, &e);
			cfg_get_bool(cfg, d->table, "thermal", 1, &e);
			cfg_get_bool(cfg, d->table, "uptime", 1, &e);
			cfg_get_bool(cfg, d->table, "load", 1, &e);
			cfg_get_string(cfg, d->table, "disk_path", "/", &s);
		}
	}
}

static void
dump_errors(const struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nerrors; i++)
		print_message("  %s\n", cfg->errors[i]);
}

/* Loads text as t.toml, runs the adapters' readers and config_finish. */
static struct config *
load(const char *text)
{
	struct config *cfg;
	char *cause = NULL;

	cfg = config_load_text(text, strlen(text), "t.toml", &cause);
	if (cfg == NULL)
		fail_msg("not TOML: %s", cause);
	consume_adapter_keys(cfg);
	config_finish(cfg);
	return cfg;
}

static struct config *
load_clean(const char *text)
{
	struct config *cfg = load(text);

	if (cfg->nerrors != 0) {
		dump_errors(cfg);
		fail_msg("%zu unexpected errors", cfg->nerrors);
	}
	return cfg;
}

/* The config's errors are exactly want[] (NULL-terminated), in order. */
static void
assert_errors(struct config *cfg, const char *const *want)
{
	size_t n;

	for (n = 0; want[n] != NULL; n++) {
		if (n >= cfg->nerrors || strcmp(cfg->errors[n], want[n]) != 0) {
			dump_errors(cfg);
			fail_msg("error %zu: want %s", n, want[n]);
		}
	}
	if (n != cfg->nerrors) {
		dump_errors(cfg);
		fail_msg("%zu errors, want %zu", cfg->nerrors, n);
	}
}

/* Loads text and expects exactly one error, err. */
static void
assert_one_error(const char *text, const char *err)
{
	struct config *cfg = load(text);
	const char *const want[] = { err, NULL };

	assert_errors(cfg, want);
	config_free(cfg);
}

static char *
print_config(const struct config *cfg)
{
	FILE *f = tmpfile();
	char *buf;
	long n;

	assert_non_null(f);
	config_print(cfg, f);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void
test_defaults(void **state)
{
	struct config *cfg;
	char host[256];

	unsetenv("OUTPOST_ADMIN_TOKEN");
	unsetenv("OUTPOST_TOKEN");
	cfg = load_clean("");
	assert_string_equal(cfg->path, "t.toml");
	if (gethostname(host, sizeof host) == 0 && host[0] != '\0')
		assert_string_equal(cfg->agent.id, host);
	assert_string_equal(cfg->agent.data_dir, "/var/lib/outpost");
	assert_int_equal(cfg->logging.level, LOG_INFO);
	assert_int_equal(cfg->logging.format, LOG_FORMAT_JSON);
	assert_int_equal(cfg->store.durability, STORE_DURABILITY_NORMAL);
	assert_true(cfg->store.max_db_mb == 64);
	assert_true(cfg->store.retention_hours == 168);
	assert_true(cfg->store.commit_interval_s == 5.0);
	assert_true(cfg->store.commit_max == 500);
	assert_true(cfg->store.checkpoint_pages == 1000);
	assert_true(cfg->store.page_size == 1024);
	assert_string_equal(cfg->health.listen, "127.0.0.1:8787");
	assert_string_equal(cfg->health.admin_token, "");
	assert_true(cfg->health.timeout_s == 10);
	assert_true(cfg->health.max_body_bytes == 1048576);
	assert_int_equal(cfg->cloud.enabled, 0);
	assert_string_equal(cfg->cloud.endpoint, "");
	assert_int_equal(cfg->cloud.format, CLOUD_FORMAT_JSON);
	assert_string_equal(cfg->cloud.token, "");
	assert_string_equal(
	    cfg->cloud.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_string_equal(cfg->cloud.client_cert, "");
	assert_string_equal(cfg->cloud.client_key, "");
	assert_int_equal(cfg->cloud.insecure, 0);
	assert_true(cfg->cloud.batch_size == 100);
	assert_true(cfg->cloud.flush_interval_s == 5);
	assert_true(cfg->cloud.timeout_s == 10);
	assert_int_equal(cfg->cloud.compress, CLOUD_COMPRESS_NONE);
	assert_true(cfg->cloud.max_bytes_per_s == 0);
	assert_true(cfg->cloud.daily_budget_mb == 0);
	assert_true(cfg->cloud.retry.base_delay_s == 2.0);
	assert_true(cfg->cloud.retry.max_delay_s == 300.0);
	assert_true(cfg->cloud.retry.max_attempts == 0);
	assert_int_equal(cfg->cloud.retry.jitter, 1);
	assert_true(cfg->cloud.breaker.failure_threshold == 5);
	assert_true(cfg->cloud.breaker.recovery_timeout_s == 60);
	assert_true(cfg->cloud.ttl_hours[PRIORITY_CRITICAL] == 0);
	assert_true(cfg->cloud.ttl_hours[PRIORITY_HIGH] == 720);
	assert_true(cfg->cloud.ttl_hours[PRIORITY_NORMAL] == 168);
	assert_true(cfg->cloud.ttl_hours[PRIORITY_LOW] == 24);
	assert_true(cfg->sensors.poll_interval_s == 5);
	assert_true(cfg->sensors.buffer == 128);
	assert_int_equal(cfg->privacy.enabled, 1);
	assert_int_equal(cfg->privacy.ndeny, 0);
	assert_null(cfg->privacy.deny[0]);
	assert_int_equal(cfg->privacy.nallow, 0);
	assert_int_equal(cfg->privacy.nredact_meta, 0);
	assert_int_equal(cfg->ndevices, 0);
	assert_int_equal(cfg->nrules, 0);

	/* Defaults are in the tree, flagged, and not "in the file". */
	assert_true(toml_get(cfg->root, "store")->flags & TOML_DEFAULT);
	assert_false(cfg_has(toml_get(cfg->root, "store")->u.tab, "max_db_mb"));
	assert_true(
	    toml_get(toml_get(cfg->root, "store")->u.tab, "max_db_mb")->flags &
	    TOML_DEFAULT);
	config_free(cfg);
}

static void
test_values_and_devices(void **state)
{
	struct config *cfg;
	struct cfg_device *d;
	struct cfg_rule *r;

	cfg =
	    load_clean("[agent]\n"
		       "id = \"trawler-7\"\n"
		       "data_dir = \"/data\"\n"
		       "[logging]\n"
		       "level = \"debug\"\n"
		       "format = \"text\"\n"
		       "[store]\n"
		       "durability = \"full\"\n"
		       "commit_interval = 0.25\n"
		       "[cloud]\n"
		       "enabled = true\n"
		       "endpoint = \"https://ingest.example.com/v1/batches\"\n"
		       "format = \"influx\"\n"
		       "ttl.low = 1.5\n"
		       "[sensors]\n"
		       "poll_interval = 2\n"
		       "buffer = 64\n"
		       "[privacy]\n"
		       "deny = [\"gps.*\", \"cam.*\"]\n"
		       "redact_meta = [\"operator\"]\n"
		       "[[device]]\n"
		       "name = \"hold\"\n"
		       "type = \"sim\"\n"
		       "[[device]]\n"
		       "name = \"deck.2\"\n"
		       "type = \"sim\"\n"
		       "sensor = \"temp/deck:2\"\n"
		       "unit = \"\xc2\xb0"
		       "C\"\n"
		       "priority = \"critical\"\n"
		       "interval = 0.05\n"
		       "buffer = 1000\n"
		       "[[rule]]\n"
		       "name = \"overheat\"\n"
		       "sensor = \"temp.*\"\n"
		       "above = 30\n"
		       "[[rule]]\n"
		       "name = \"freeze\"\n"
		       "sensor = \"temp.[ab]?\"\n"
		       "below = -5.5\n"
		       "above = 50.0\n"
		       "for = 10\n"
		       "severity = \"high\"\n");
	assert_string_equal(cfg->agent.id, "trawler-7");
	assert_string_equal(cfg->agent.data_dir, "/data");
	assert_int_equal(cfg->logging.level, LOG_DEBUG);
	assert_int_equal(cfg->logging.format, LOG_FORMAT_TEXT);
	assert_int_equal(cfg->store.durability, STORE_DURABILITY_FULL);
	assert_true(cfg->store.commit_interval_s == 0.25);
	assert_int_equal(cfg->cloud.enabled, 1);
	assert_int_equal(cfg->cloud.format, CLOUD_FORMAT_INFLUX);
	assert_true(cfg->cloud.ttl_hours[PRIORITY_LOW] == 1.5);
	assert_true(cfg->cloud.ttl_hours[PRIORITY_HIGH] == 720);
	assert_int_equal(cfg->privacy.ndeny, 2);
	assert_string_equal(cfg->privacy.deny[1], "cam.*");
	assert_null(cfg->privacy.deny[2]);
	assert_string_equal(cfg->privacy.redact_meta[0], "operator");

	assert_int_equal(cfg->ndevices, 2);
	d = &cfg->devices[0];
	assert_string_equal(d->name, "hold");
	assert_string_equal(d->type, "sim");
	assert_string_equal(d->sensor, "hold"); /* default: the name */
	assert_string_equal(d->unit, "");
	assert_int_equal(d->priority, PRIORITY_NORMAL);
	assert_true(d->interval_s == 2); /* [sensors] poll_interval */
	assert_true(d->buffer == 64);	 /* [sensors] buffer */
	assert_int_equal(d->line, 21);
	assert_string_equal(d->table->name, "[[device]] 'hold'");
	d = &cfg->devices[1];
	assert_string_equal(d->sensor, "temp/deck:2");
	assert_string_equal(d->unit,
	    "\xc2\xb0"
	    "C");
	assert_int_equal(d->priority, PRIORITY_CRITICAL);
	assert_true(d->interval_s == 0.05);
	assert_true(d->buffer == 1000);

	assert_int_equal(cfg->nrules, 2);
	r = &cfg->rules[0];
	assert_string_equal(r->name, "overheat");
	assert_string_equal(r->sensor, "temp.*");
	assert_int_equal(r->has_above, 1);
	assert_true(r->above == 30);
	assert_int_equal(r->has_below, 0);
	assert_true(r->for_s == 0);
	assert_int_equal(r->severity, PRIORITY_CRITICAL);
	assert_int_equal(r->line, 32);
	r = &cfg->rules[1];
	assert_true(r->below == -5.5 && r->above == 50.0 && r->for_s == 10);
	assert_int_equal(r->severity, PRIORITY_HIGH);
	config_free(cfg);
}

static void
test_unknown_keys(void **state)
{
	static const char rule[] =
	    "[[rule]]\nname = \"r\"\n"
	    "sensor = \"s\"\nabove = 1\nhysteresis = 0.5\n";
	struct config *cfg;
	double h;
	const char *const want[] = { "t.toml:1: unknown key 'top' at top level",
		"t.toml:2: unknown key 'z' in [logging]",
		"t.toml:4: unknown key 'foo' in [store]",
		"t.toml:5: unknown section [bogus]",
		"t.toml:7: unknown section [cloud.extra]",
		"t.toml:9: unknown section [[widget]]",
		"t.toml:13: unknown key 'colour' in [[device]] 'hold'",
		"t.toml:14: unknown key 'x' in [[device]] 'hold'",
		"t.toml:19: unknown key 'hysteresis' in [[rule]] 'r'",
		"t.toml:20: unknown section [a]", NULL };

	cfg = load("top = 1\n"
		   "logging.z = 1\n"
		   "[store]\n"
		   "foo = 1\n"
		   "[bogus]\n"
		   "x = 1\n"
		   "[cloud.extra]\n"
		   "y = 2\n"
		   "[[widget]]\n"
		   "[[device]]\n"
		   "name = \"hold\"\n"
		   "type = \"sim\"\n"
		   "colour = \"red\"\n"
		   "x.y = 1\n"
		   "[[rule]]\n"
		   "name = \"r\"\n"
		   "sensor = \"s\"\n"
		   "above = 1\n"
		   "hysteresis = 1\n"
		   "[a.b]\n");
	assert_errors(cfg, want);
	config_free(cfg);

	/* Rule keys are left for later features: reading one makes it known. */
	cfg = config_load_text(rule, sizeof rule - 1, "t.toml", NULL);
	assert_non_null(cfg);
	assert_int_equal(cfg_get_double(cfg, cfg->rules[0].table, "hysteresis",
			     0, 0, 10, &h),
	    0);
	assert_true(h == 0.5);
	config_finish(cfg);
	assert_int_equal(cfg->nerrors, 0);
	config_free(cfg);
}

static void
test_wrong_types_and_ranges(void **state)
{
	struct config *cfg;
	const char *const want[] = {
		"t.toml:1: [sensors]: expected a table, got integer",
		"t.toml:3: [store] max_db_mb: expected integer, got string",
		"t.toml:4: [store] retention_hours: -1 is out of range "
		"(0..87600)",
		"t.toml:5: [store] commit_interval: 0 is out of range "
		"(0.001..60)",
		"t.toml:6: [store] commit_max: expected integer, got float",
		"t.toml:7: [store] durability: 'fast' is not one of normal, "
		"full",
		"t.toml:9: [logging] level: expected string, got integer",
		"t.toml:11: [health] listen: 'localhost' is not host:port "
		"(port 0..65535, IPv6 as [addr]:port)",
		"t.toml:12: [health] timeout: 0.05 is out of range (0.1..3600)",
		"t.toml:14: [cloud] batch_size: 0 is out of range (1..100000)",
		"t.toml:15: [cloud] insecure: expected boolean, got string",
		"t.toml:17: [cloud.retry] base_delay: expected number, got "
		"boolean",
		"t.toml:19: [privacy] deny: element 2: expected string, got "
		"integer",
		"t.toml:20: [privacy] allow: expected array of strings, got "
		"string",
		"t.toml:21: [privacy] redact_meta: element 1 is empty", NULL
	};

	cfg = load("sensors = 1\n"
		   "[store]\n"
		   "max_db_mb = \"64\"\n"
		   "retention_hours = -1\n"
		   "commit_interval = 0\n"
		   "commit_max = 5.0\n"
		   "durability = \"fast\"\n"
		   "[logging]\n"
		   "level = 3\n"
		   "[health]\n"
		   "listen = \"localhost\"\n"
		   "timeout = 0.05\n"
		   "[cloud]\n"
		   "batch_size = 0\n"
		   "insecure = \"yes\"\n"
		   "[cloud.retry]\n"
		   "base_delay = true\n"
		   "[privacy]\n"
		   "deny = [\"a\", 1]\n"
		   "allow = \"a\"\n"
		   "redact_meta = [\"\"]\n");
	assert_errors(cfg, want);
	/* The mistyped or out-of-range values fall back to defaults. */
	assert_true(cfg->store.max_db_mb == 64);
	assert_true(cfg->store.commit_interval_s == 5.0);
	assert_int_equal(cfg->store.durability, STORE_DURABILITY_NORMAL);
	assert_string_equal(cfg->health.listen, "localhost");
	assert_true(cfg->sensors.poll_interval_s == 5);
	config_free(cfg);

	/* Integers are fine where a number of seconds is expected. */
	cfg = load_clean("[sensors]\npoll_interval = 1\n[[device]]\n"
			 "name = \"a\"\ntype = \"sim\"\ninterval = 3\n");
	assert_true(cfg->sensors.poll_interval_s == 1.0);
	assert_true(cfg->devices[0].interval_s == 3.0);
	config_free(cfg);

	assert_one_error("[store]\nmax_db_mb = 0\n",
	    "t.toml:2: [store] max_db_mb: 0 is out of range (1..1048576)");
	assert_one_error("[store]\nmax_db_mb = 1048577\n",
	    "t.toml:2: [store] max_db_mb: 1048577 is out of range "
	    "(1..1048576)");
	assert_one_error("[store]\npage_size = 3000\n",
	    "t.toml:2: [store] page_size: 3000 is not a power of two");
	assert_one_error("[store]\npage_size = 256\n",
	    "t.toml:2: [store] page_size: 256 is out of range (512..65536)");
	assert_one_error("[store]\ncheckpoint_pages = 15\n",
	    "t.toml:2: [store] checkpoint_pages: 15 is out of range "
	    "(16..1000000)");
	assert_one_error("[health]\nmax_body_bytes = 10\n",
	    "t.toml:2: [health] max_body_bytes: 10 is out of range "
	    "(1024..1073741824)");
	assert_one_error("[health]\nlisten = \"127.0.0.1:65536\"\n",
	    "t.toml:2: [health] listen: '127.0.0.1:65536' is not host:port "
	    "(port 0..65535, IPv6 as [addr]:port)");
	assert_one_error("[health]\nlisten = \"::1:80\"\n",
	    "t.toml:2: [health] listen: '::1:80' is not host:port "
	    "(port 0..65535, IPv6 as [addr]:port)");
	assert_one_error("[health]\nlisten = \"host:\"\n",
	    "t.toml:2: [health] listen: 'host:' is not host:port "
	    "(port 0..65535, IPv6 as [addr]:port)");
	assert_one_error("[cloud.retry]\nbase_delay = 10\nmax_delay = 5\n",
	    "t.toml:3: [cloud.retry] max_delay: 5 is below base_delay (10)");
	assert_one_error("[cloud.retry]\nbase_delay = 600\n",
	    "t.toml:2: [cloud.retry] max_delay: 300 is below base_delay "
	    "(600)");
	assert_one_error("[cloud]\nmax_bytes_per_s = -1\n",
	    "t.toml:2: [cloud] max_bytes_per_s: -1 is out of range "
	    "(0..1073741824)");
	assert_one_error("[cloud.ttl]\nhigh = -1\n",
	    "t.toml:2: [cloud.ttl] high: -1 is out of range (0..876000)");
	assert_one_error("[cloud.breaker]\nfailure_threshold = 0\n",
	    "t.toml:2: [cloud.breaker] failure_threshold: 0 is out of range "
	    "(1..1000000)");
	assert_one_error("[agent]\nid = \"has space\"\n",
	    "t.toml:2: [agent] id: 'has space' must be 1 to 64 characters "
	    "of A-Z a-z 0-9 _ . -");
	assert_one_error("[agent]\ndata_dir = \"\"\n",
	    "t.toml:2: [agent] data_dir: must not be empty");
	assert_one_error("[cloud]\n\nretry = 1\n",
	    "t.toml:3: [cloud.retry]: expected a table, got integer");
	assert_one_error("device = 1\n",
	    "t.toml:1: [[device]]: expected an array of tables, got integer");
	assert_one_error("device = [1]\n",
	    "t.toml:1: [[device]]: expected a table, got integer");

	cfg = load_clean("[health]\nlisten = \"[::1]:0\"\n");
	config_free(cfg);
	cfg = load_clean("[health]\nlisten = \"my-host.local:80\"\n");
	config_free(cfg);
	/* Static arrays of inline tables are entries too. */
	cfg = load_clean("device = [{name = \"a\", type = \"sim\"}]\n");
	assert_int_equal(cfg->ndevices, 1);
	config_free(cfg);
}

static void
test_cloud_checks(void **state)
{
	struct config *cfg;

	assert_one_error("[cloud]\nenabled = true\n",
	    "t.toml:1: [cloud] endpoint: required when enabled = true");
	assert_one_error("[cloud]\nenabled = true\nendpoint = \"http://x/\"\n",
	    "t.toml:3: [cloud] endpoint: 'http://x/': http:// needs "
	    "insecure = true");
	assert_one_error("[cloud]\nenabled = true\nendpoint = \"ftp://x/\"\n",
	    "t.toml:3: [cloud] endpoint: 'ftp://x/' must start with "
	    "https://");
	assert_one_error("[cloud]\nenabled = true\nendpoint = \"https:///p\"\n",
	    "t.toml:3: [cloud] endpoint: 'https:///p' has no host");
	assert_one_error("[cloud]\nenabled = true\nendpoint = \"https://x\"\n"
			 "ca_file = \"\"\n",
	    "t.toml:4: [cloud] ca_file: required unless insecure = true");
	assert_one_error("[cloud]\nclient_cert = \"/c.pem\"\n",
	    "t.toml:2: [cloud] client_cert: client_cert and client_key go "
	    "together");
	assert_one_error("[cloud]\nformat = \"xml\"\n",
	    "t.toml:2: [cloud] format: 'xml' is not one of json, influx");
	/* Off: the endpoint is not checked. */
	cfg = load_clean("[cloud]\nendpoint = \"ftp://x/\"\n");
	config_free(cfg);
	cfg = load_clean(
	    "[cloud]\nenabled = true\ninsecure = true\n"
	    "endpoint = \"http://127.0.0.1:9/ingest\"\nca_file = \"\"\n"
	    "client_cert = \"c.pem\"\nclient_key = \"k.pem\"\n");
	assert_int_equal(cfg->cloud.insecure, 1);
	config_free(cfg);
}

static void
test_device_and_rule_checks(void **state)
{
	struct config *cfg;
	const char *const want[] = {
		"t.toml:1: [[device]]: missing required key 'name'",
		"t.toml:1: [[device]]: missing required key 'type'",
		"t.toml:4: [[device]] name: 'bad name' must be 1 to 47 "
		"characters of A-Z a-z 0-9 _ . -",
		"t.toml:8: [[device]] 'a' priority: 'urgent' is not one of "
		"critical, high, normal, low",
		"t.toml:9: [[device]] 'a' interval: 0 is out of range "
		"(0.001..86400)",
		"t.toml:10: [[device]] 'a' unit: 'sixteen-bytes-xx' is longer "
		"than 15 bytes",
		"t.toml:11: [[device]] 'a' buffer: 0 is out of range "
		"(1..1000000)",
		"t.toml:14: [[device]] name: duplicate device name 'a' (first "
		"on line 5)",
		"t.toml:18: [[device]] 'b' sensor: 'a b' must be 1 to 63 "
		"characters of A-Z a-z 0-9 _ . - : /",
		"t.toml:19: [[rule]]: missing required key 'name'",
		"t.toml:19: [[rule]]: missing required key 'sensor'",
		"t.toml:19: [[rule]]: needs 'above' or 'below'",
		"t.toml:23: [[rule]] 'r' above: expected number, got string",
		"t.toml:24: [[rule]] 'r' for: -1 is out of range (0..86400)",
		"t.toml:25: [[rule]] 'r' severity: 'bad' is not one of "
		"critical, high, normal, low",
		"t.toml:29: [[rule]] name: duplicate rule name 'r' (first on "
		"line 20)",
		NULL
	};

	cfg = load("[[device]]\n"
		   "[[device]]\n"
		   "type = \"sim\"\n"
		   "name = \"bad name\"\n"
		   "[[device]]\n"
		   "name = \"a\"\ntype = \"sim\"\npriority = \"urgent\"\n"
		   "interval = 0\n"
		   "unit = \"sixteen-bytes-xx\"\n"
		   "buffer = 0\n"
		   "[[device]]\n"
		   "type = \"sim\"\n"
		   "name = \"a\"\n"
		   "[[device]]\n"
		   "name = \"b\"\ntype = \"sim\"\nsensor = \"a b\"\n"
		   "[[rule]]\n"
		   "[[rule]]\n"
		   "name = \"r\"\nsensor = \"s\"\n"
		   "above = \"hot\"\n"
		   "for = -1\n"
		   "severity = \"bad\"\n"
		   "[[rule]]\n"
		   "sensor = \"s\"\nbelow = 1\n"
		   "name = \"r\"\n");
	/* Two errors on one line keep the order they were found in. */
	assert_errors(cfg, want);
	config_free(cfg);

	/* 48 characters is one too many, 47 fit. */
	assert_one_error("[[device]]\nname = \"abcdefghijabcdefghijabcdefghij"
			 "abcdefghijabcdefgh\"\ntype = \"sim\"\n",
	    "t.toml:2: [[device]] name: 'abcdefghijabcdefghijabcdefghijabcdefg"
	    "hijabcdefgh' must be 1 to 47 characters of A-Z a-z 0-9 _ . -");
	cfg = load_clean("[[device]]\nname = \"abcdefghijabcdefghijabcdefghij"
			 "abcdefghijabcdefg\"\ntype = \"sim\"\n");
	assert_int_equal(strlen(cfg->devices[0].sensor), 47);
	config_free(cfg);
}

static void
test_errors_sorted_and_collected(void **state)
{
	static const char text[] = "[store]\n"
				   "early = 1\n"
				   "max_db_mb = true\n"
				   "[logging]\n"
				   "level = \"loud\"\n"
				   "late = 2\n"
				   "[store.more]\n";
	struct config *cfg;
	const char *const want[] = { "t.toml:2: unknown key 'early' in [store]",
		"t.toml:3: [store] max_db_mb: expected integer, got boolean",
		"t.toml:5: [logging] level: 'loud' is not one of debug, info, "
		"warn, error",
		"t.toml:6: unknown key 'late' in [logging]",
		"t.toml:7: unknown section [store.more]", NULL };

	cfg = config_load_text(text, sizeof text - 1, "t.toml", NULL);
	assert_non_null(cfg);
	/* Before config_finish: reading order ([logging] before [store]). */
	assert_int_equal(cfg->nerrors, 2);
	assert_string_equal(cfg->errors[0], want[2]);
	assert_string_equal(cfg->errors[1], want[1]);
	config_finish(cfg);
	assert_errors(cfg, want);
	config_free(cfg);

	/* Not TOML at all: no config, one cause. */
	assert_null(config_load_text("x", 1, "t.toml", NULL));
}

static void
test_env_expansion(void **state)
{
	struct config *cfg;
	char *s, *cause = NULL;

	setenv("OUTPOST_T_DIR", "/srv/op", 1);
	setenv("OUTPOST_T_EMPTY", "", 1);
	unsetenv("OUTPOST_T_UNSET");

	s = config_expand_env(
	    "${OUTPOST_T_DIR}/db-${OUTPOST_T_UNSET:-x}", NULL);
	assert_string_equal(s, "/srv/op/db-x");
	free(s);
	s = config_expand_env("[${OUTPOST_T_EMPTY:-dflt}|${OUTPOST_T_UNSET}|"
			      "${OUTPOST_T_DIR:-no}]",
	    NULL);
	assert_string_equal(s, "[dflt||/srv/op]");
	free(s);
	s = config_expand_env(
	    "pa$$word $5 $ end$ $${OUTPOST_T_DIR} $$$${X}", NULL);
	assert_string_equal(s, "pa$$word $5 $ end$ ${OUTPOST_T_DIR} $$${X}");
	free(s);
	s = config_expand_env("${OUTPOST_T_UNSET:-a b:c}", NULL);
	assert_string_equal(s, "a b:c");
	free(s);
	assert_null(config_expand_env("x${OUTPOST_T_DIR", &cause));
	assert_string_equal(cause, "unterminated '${' (no closing '}')");
	free(cause);
	assert_null(config_expand_env("${1X}", &cause));
	assert_string_equal(cause,
	    "invalid variable reference '${1X}' "
	    "(expected ${NAME} or ${NAME:-default})");
	free(cause);
	assert_null(config_expand_env("${A-B}", &cause));
	free(cause);
	assert_null(config_expand_env("${}", &cause));
	free(cause);

	cfg = load_clean("[agent]\n"
			 "data_dir = \"${OUTPOST_T_DIR}/data\"\n"
			 "id = \"${OUTPOST_T_UNSET:-boat-1}\"\n"
			 "[privacy]\n"
			 "deny = [\"${OUTPOST_T_DIR}\", 'lit']\n"
			 "[[device]]\n"
			 "name = \"d\"\n"
			 "type = \"sim\"\n"
			 "unit = \"${OUTPOST_T_UNSET}\"\n"
			 "waveform = \"${OUTPOST_T_UNSET:-step}\"\n");
	assert_string_equal(cfg->agent.data_dir, "/srv/op/data");
	assert_string_equal(cfg->agent.id, "boat-1");
	assert_string_equal(cfg->privacy.deny[0], "/srv/op");
	assert_string_equal(cfg->devices[0].unit, "");
	/* Substituted once, in the tree: a second read sees the same. */
	assert_int_equal(
	    cfg_get_string(cfg, cfg->devices[0].table, "waveform", "sine", &s),
	    0);
	assert_string_equal(s, "step");
	config_free(cfg);

	assert_one_error("[agent]\n\ndata_dir = \"${OUTPOST_T_DIR\"\n",
	    "t.toml:3: [agent] data_dir: unterminated '${' (no closing '}')");
	assert_one_error("[privacy]\ndeny = [\n'a',\n'${}'\n]\n",
	    "t.toml:4: [privacy] deny: element 2: invalid variable reference "
	    "'${}' (expected ${NAME} or ${NAME:-default})");
	unsetenv("OUTPOST_T_DIR");
	unsetenv("OUTPOST_T_EMPTY");
}

static void
test_secrets_masked(void **state)
{
	struct config *cfg;
	char *out, *pw;

	static const char text[] =
	    "[[device]]\nname = \"m\"\n"
	    "type = \"mqtt\"\npassword = \"hunter2\"\nusername = \"bob\"\n";

	setenv("OUTPOST_TOKEN", "tok-from-env", 1);
	unsetenv("OUTPOST_ADMIN_TOKEN");
	cfg = config_load_text(text, sizeof text - 1, "t.toml", NULL);
	assert_non_null(cfg);
	assert_int_equal(
	    cfg_get_secret(cfg, cfg->devices[0].table, "password", "", &pw), 0);
	assert_string_equal(pw, "hunter2");
	assert_int_equal(
	    cfg_get_string(cfg, cfg->devices[0].table, "username", "", &pw), 0);
	assert_string_equal(cfg->cloud.token, "tok-from-env");
	assert_string_equal(cfg->health.admin_token, "");
	config_finish(cfg);
	assert_int_equal(cfg->nerrors, 0);
	out = print_config(cfg);
	assert_null(strstr(out, "hunter2"));
	assert_null(strstr(out, "tok-from-env"));
	assert_non_null(strstr(out, "\ntoken = \"***\"\n"));
	assert_non_null(strstr(out, "\nadmin_token = \"\"\n"));
	assert_non_null(strstr(out, "\npassword = \"***\"\n"));
	assert_non_null(strstr(out, "\nusername = \"bob\"\n"));
	free(out);
	config_free(cfg);
	unsetenv("OUTPOST_TOKEN");
}

/* The fields a print must carry over (all but secrets). */
static void
assert_same_config(const struct config *a, const struct config *b)
{
	size_t i;
	int p;

	assert_string_equal(a->agent.id, b->agent.id);
	assert_string_equal(a->agent.data_dir, b->agent.data_dir);
	assert_int_equal(a->logging.level, b->logging.level);
	assert_int_equal(a->logging.format, b->logging.format);
	assert_int_equal(a->store.durability, b->store.durability);
	assert_true(a->store.max_db_mb == b->store.max_db_mb);
	assert_true(a->store.retention_hours == b->store.retention_hours);
	assert_true(a->store.commit_interval_s == b->store.commit_interval_s);
	assert_true(a->store.commit_max == b->store.commit_max);
	assert_true(a->store.checkpoint_pages == b->store.checkpoint_pages);
	assert_string_equal(a->health.listen, b->health.listen);
	assert_true(a->health.timeout_s == b->health.timeout_s);
	assert_true(a->health.max_body_bytes == b->health.max_body_bytes);
	assert_int_equal(a->cloud.enabled, b->cloud.enabled);
	assert_string_equal(a->cloud.endpoint, b->cloud.endpoint);
	assert_int_equal(a->cloud.format, b->cloud.format);
	assert_string_equal(a->cloud.ca_file, b->cloud.ca_file);
	assert_int_equal(a->cloud.insecure, b->cloud.insecure);
	assert_true(a->cloud.batch_size == b->cloud.batch_size);
	assert_true(a->cloud.flush_interval_s == b->cloud.flush_interval_s);
	assert_true(a->cloud.timeout_s == b->cloud.timeout_s);
	assert_true(a->cloud.max_bytes_per_s == b->cloud.max_bytes_per_s);
	assert_true(a->cloud.daily_budget_mb == b->cloud.daily_budget_mb);
	assert_true(a->cloud.retry.base_delay_s == b->cloud.retry.base_delay_s);
	assert_true(a->cloud.retry.max_delay_s == b->cloud.retry.max_delay_s);
	assert_true(a->cloud.retry.max_attempts == b->cloud.retry.max_attempts);
	assert_int_equal(a->cloud.retry.jitter, b->cloud.retry.jitter);
	assert_true(a->cloud.breaker.failure_threshold ==
	    b->cloud.breaker.failure_threshold);
	assert_true(a->cloud.breaker.recovery_timeout_s ==
	    b->cloud.breaker.recovery_timeout_s);
	for (p = 0; p < PRIORITY_COUNT; p++)
		assert_true(a->cloud.ttl_hours[p] == b->cloud.ttl_hours[p]);
	assert_true(a->sensors.poll_interval_s == b->sensors.poll_interval_s);
	assert_true(a->sensors.buffer == b->sensors.buffer);
	assert_int_equal(a->privacy.enabled, b->privacy.enabled);
	assert_int_equal(a->privacy.ndeny, b->privacy.ndeny);
	for (i = 0; i < a->privacy.ndeny; i++)
		assert_string_equal(a->privacy.deny[i], b->privacy.deny[i]);
	assert_int_equal(a->ndevices, b->ndevices);
	for (i = 0; i < a->ndevices; i++) {
		assert_string_equal(a->devices[i].name, b->devices[i].name);
		assert_string_equal(a->devices[i].type, b->devices[i].type);
		assert_string_equal(a->devices[i].sensor, b->devices[i].sensor);
		assert_string_equal(a->devices[i].unit, b->devices[i].unit);
		assert_int_equal(
		    a->devices[i].priority, b->devices[i].priority);
		assert_true(
		    a->devices[i].interval_s == b->devices[i].interval_s);
		assert_true(a->devices[i].buffer == b->devices[i].buffer);
	}
	assert_int_equal(a->nrules, b->nrules);
	for (i = 0; i < a->nrules; i++) {
		assert_string_equal(a->rules[i].name, b->rules[i].name);
		assert_string_equal(a->rules[i].sensor, b->rules[i].sensor);
		assert_int_equal(a->rules[i].has_above, b->rules[i].has_above);
		assert_int_equal(a->rules[i].has_below, b->rules[i].has_below);
		assert_true(a->rules[i].above == b->rules[i].above);
		assert_true(a->rules[i].below == b->rules[i].below);
		assert_true(a->rules[i].for_s == b->rules[i].for_s);
		assert_int_equal(a->rules[i].severity, b->rules[i].severity);
	}
}

/* Rules' own keys, as the rules feature would read them. */
static void
consume_rule_keys(struct config *cfg)
{
	double d;
	size_t i;

	for (i = 0; i < cfg->nrules; i++)
		cfg_get_double(
		    cfg, cfg->rules[i].table, "hysteresis", 0, 0, 100, &d);
}

static void
test_print_round_trip(void **state)
{
	static const char text[] =
	    "[[rule]]\n"
	    "name = \"hot\"\n"
	    "sensor = \"temp.*\"\n"
	    "above = 30.25\n"
	    "hysteresis = 0.1\n"
	    "[cloud.ttl]\n"
	    "low = 0.3\n"
	    "[privacy]\n"
	    "deny = [\"gps.*\", \"q\\\"uote\\\\\"]\n"
	    "[[device]]\n"
	    "name = \"hold\"\n"
	    "type = \"sim\"\n"
	    "unit = \"\xc2\xb0"
	    "C\"\n"
	    "min = -1e-7\n"
	    "period = 1\n"
	    "waveform = \"noise\"\n"
	    "[cloud]\n"
	    "enabled = true\n"
	    "endpoint = \"https://c.example/v1?a=${OUTPOST_T_LIT}\"\n"
	    "token = \"abc\"\n"
	    "ca_file = \"/ca\\twith tab.pem\"\n"
	    "flush_interval = 0.1\n"
	    "max_bytes_per_s = 65536\n"
	    "daily_budget_mb = 2.5\n"
	    "[agent]\n"
	    "id = \"boat\"\n"
	    "data_dir = 'C:\\dir'\n"
	    "[store]\n"
	    "durability = \"full\"\n"
	    "[[device]]\n"
	    "name = \"sys\"\n"
	    "type = \"system\"\n"
	    "interval = 2\n"
	    "cpu = false\n";
	struct config *a, *b;
	char *out1, *out2, *cause = NULL;
	const char *order[] = { "\n[agent]\n", "\n[logging]\n", "\n[store]\n",
		"\n[health]\n", "\n[cloud]\n", "\n[cloud.retry]\n",
		"\n[cloud.breaker]\n", "\n[cloud.ttl]\n", "\n[sensors]\n",
		"\n[privacy]\n", "\n[[device]]\nname = \"hold\"",
		"\n[[device]]\nname = \"sys\"", "\n[[rule]]\n", NULL };
	const char *prev, *at;
	size_t i;

	/* The substituted value holds "${": printed as "$${" so it stays. */
	unsetenv("OUTPOST_ADMIN_TOKEN");
	setenv("OUTPOST_T_LIT", "${NOT_A_VAR}", 1);
	a = config_load_text(text, sizeof text - 1, "t.toml", &cause);
	assert_non_null(a);
	consume_adapter_keys(a);
	consume_rule_keys(a);
	config_finish(a);
	if (a->nerrors != 0) {
		dump_errors(a);
		fail();
	}
	assert_string_equal(
	    a->cloud.endpoint, "https://c.example/v1?a=${NOT_A_VAR}");
	assert_true(a->cloud.max_bytes_per_s == 65536);
	assert_true(a->cloud.daily_budget_mb == 2.5);
	out1 = print_config(a);

	/* Sections in the fixed order, whatever the file's order. */
	prev = out1;
	for (i = 0; order[i] != NULL; i++) {
		if ((at = strstr(out1, order[i])) == NULL || at < prev)
			fail_msg("%s out of order in:\n%s", order[i], out1);
		prev = at;
	}
	assert_non_null(strstr(out1, "\nmax_db_mb = 64\n"));
	assert_non_null(strstr(out1, "\nsensor = \"hold\"\n"));
	assert_non_null(strstr(out1, "\nmin = -1e-07\n"));
	assert_non_null(strstr(out1, "\nlow = 0.3\n"));
	assert_non_null(strstr(out1, "\npoll_interval = 5.0\n"));
	assert_non_null(strstr(out1, "\ndata_dir = \"C:\\\\dir\"\n"));
	assert_non_null(strstr(out1, "\nca_file = \"/ca\\twith tab.pem\"\n"));
	assert_non_null(strstr(out1, "?a=$${NOT_A_VAR}\"\n"));

	unsetenv("OUTPOST_T_LIT");
	b = config_load_text(out1, strlen(out1), "printed", &cause);
	if (b == NULL)
		fail_msg("printed config is not TOML: %s\n%s", cause, out1);
	consume_adapter_keys(b);
	consume_rule_keys(b);
	config_finish(b);
	if (b->nerrors != 0) {
		dump_errors(b);
		fail_msg("printed config invalid:\n%s", out1);
	}
	assert_same_config(a, b);
	assert_string_equal(b->cloud.token, "***");
	/* Printing the printed config changes nothing. */
	out2 = print_config(b);
	assert_string_equal(out1, out2);
	free(out1);
	free(out2);
	config_free(a);
	config_free(b);
}

static void
test_embedded_default(void **state)
{
	struct config *cfg, *again;
	char *cause = NULL, *out;

	cfg = config_load(NULL, &cause);
	assert_non_null(cfg);
	consume_adapter_keys(cfg);
	config_finish(cfg);
	if (cfg->nerrors != 0) {
		dump_errors(cfg);
		fail();
	}
	assert_string_equal(cfg->path, "(embedded)");
	assert_string_equal(cfg->agent.data_dir, "./outpost-data");
	assert_string_equal(cfg->health.listen, "127.0.0.1:8787");
	assert_int_equal(cfg->cloud.enabled, 0);
	assert_int_equal(cfg->logging.level, LOG_INFO);
	assert_int_equal(cfg->logging.format, LOG_FORMAT_JSON);
	assert_int_equal(cfg->ndevices, 3);
	assert_int_equal(cfg->nrules, 0);
	assert_string_equal(cfg->devices[0].name, "hold");
	assert_string_equal(cfg->devices[0].sensor, "temp.hold");
	assert_string_equal(cfg->devices[0].unit, "celsius");
	assert_true(cfg->devices[0].interval_s == 1.0);
	assert_string_equal(cfg->devices[1].name, "engine");
	assert_string_equal(cfg->devices[1].sensor, "temp.engine");
	assert_true(cfg->devices[1].interval_s == 2.0);
	assert_string_equal(cfg->devices[2].name, "system");
	assert_string_equal(cfg->devices[2].type, "system");
	assert_string_equal(cfg->devices[2].sensor, "system");
	assert_true(cfg->devices[2].interval_s == 10);

	out = print_config(cfg);
	again = config_load_text(out, strlen(out), "printed", &cause);
	assert_non_null(again);
	consume_adapter_keys(again);
	config_finish(again);
	assert_int_equal(again->nerrors, 0);
	assert_same_config(cfg, again);
	free(out);
	config_free(again);
	config_free(cfg);
}

static void
test_reference_file(void **state)
{
	const char *srcdir = getenv("OUTPOST_TEST_SRCDIR");
	struct config *cfg, *dflt;
	char path[4096], *cause = NULL;

	snprintf(path, sizeof path, "%s/conf/outpost.toml",
	    srcdir != NULL ? srcdir : ".");
	cfg = config_load(path, &cause);
	if (cfg == NULL)
		fail_msg("%s", cause);
	consume_adapter_keys(cfg);
	config_finish(cfg);
	if (cfg->nerrors != 0) {
		dump_errors(cfg);
		fail();
	}
	assert_true(cfg->ndevices >= 2);
	assert_string_equal(cfg->devices[0].type, "sim");
	assert_string_equal(cfg->path, path);

	/* Every default it states is the built-in one. */
	dflt = load_clean("");
	assert_string_equal(cfg->agent.data_dir, dflt->agent.data_dir);
	assert_int_equal(cfg->store.durability, dflt->store.durability);
	assert_true(cfg->store.max_db_mb == dflt->store.max_db_mb);
	assert_true(cfg->store.retention_hours == dflt->store.retention_hours);
	assert_true(
	    cfg->store.commit_interval_s == dflt->store.commit_interval_s);
	assert_true(cfg->store.commit_max == dflt->store.commit_max);
	assert_true(
	    cfg->store.checkpoint_pages == dflt->store.checkpoint_pages);
	assert_string_equal(cfg->health.listen, dflt->health.listen);
	assert_true(cfg->health.timeout_s == dflt->health.timeout_s);
	assert_true(cfg->health.max_body_bytes == dflt->health.max_body_bytes);
	assert_string_equal(cfg->cloud.ca_file, dflt->cloud.ca_file);
	assert_true(cfg->cloud.batch_size == dflt->cloud.batch_size);
	assert_true(
	    cfg->cloud.retry.max_delay_s == dflt->cloud.retry.max_delay_s);
	assert_true(cfg->cloud.ttl_hours[PRIORITY_HIGH] ==
	    dflt->cloud.ttl_hours[PRIORITY_HIGH]);
	assert_true(
	    cfg->sensors.poll_interval_s == dflt->sensors.poll_interval_s);
	assert_true(cfg->sensors.buffer == dflt->sensors.buffer);
	assert_true(cfg->devices[0].buffer == dflt->sensors.buffer);
	config_free(dflt);
	config_free(cfg);
}

static void
test_load_failures(void **state)
{
	struct config *cfg;
	char dir[] = "/tmp/outpost-config-XXXXXX", path[256];
	char want[512];
	char *cause = NULL, *big;
	FILE *f;
	size_t n = 1024 * 1024 + 1;

	assert_null(config_load("/nonexistent/outpost.toml", &cause));
	assert_string_equal(
	    cause, "/nonexistent/outpost.toml: No such file or directory");
	free(cause);

	assert_non_null(mkdtemp(dir));
	assert_null(config_load(dir, &cause));
	assert_non_null(strstr(cause, ": Is a directory"));
	free(cause);

	snprintf(path, sizeof path, "%s/big.toml", dir);
	big = malloc(n);
	memset(big, '#', n);
	big[n - 1] = '\n';
	f = fopen(path, "w");
	assert_int_equal(fwrite(big, 1, n, f), n);
	fclose(f);
	assert_null(config_load(path, &cause));
	assert_non_null(strstr(cause, "big.toml: larger than 1048576 bytes"));
	free(cause);
	/* Exactly the limit is fine. */
	f = fopen(path, "w");
	assert_int_equal(fwrite(big + 1, 1, n - 1, f), n - 1);
	fclose(f);
	cfg = config_load(path, &cause);
	assert_non_null(cfg);
	config_free(cfg);
	free(big);

	f = fopen(path, "w");
	fputs("[store]\nmax_db_mb = 1\nmax_db_mb = 2\n", f);
	fclose(f);
	assert_null(config_load(path, &cause));
	snprintf(want, sizeof want,
	    "%s:3: duplicate key 'max_db_mb' in "
	    "[store] (first on line 2)",
	    path);
	assert_string_equal(cause, want);
	free(cause);
	unlink(path);
	rmdir(dir);

	/* Line 0: no line in the message. */
	cfg = load("");
	cfg_error(cfg, 0, "general %d", 1);
	assert_string_equal(cfg->errors[cfg->nerrors - 1], "t.toml: general 1");
	config_free(cfg);
	config_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_and_devices),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types_and_ranges),
		cmocka_unit_test(test_cloud_checks),
		cmocka_unit_test(test_device_and_rule_checks),
		cmocka_unit_test(test_errors_sorted_and_collected),
		cmocka_unit_test(test_env_expansion),
		cmocka_unit_test(test_secrets_masked),
		cmocka_unit_test(test_print_round_trip),
		cmocka_unit_test(test_embedded_default),
		cmocka_unit_test(test_reference_file),
		cmocka_unit_test(test_load_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
