/*
 * Rules with the clock driven by the test: thresholds with `for` and a
 * clear level, one-sided and two-sided, rates, stale sensors, held events
 * when the store refuses them, reload without double firing, event ids
 * against an independently computed value, and the [[rule]] config checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "recid.h"
#include "rules.h"

#define MAX_EVENTS 32

struct seen {
	char rule[64];
	char sensor[64];
	char device[48];
	char detail[192];
	enum rules_event_kind kind;
	double ts;
	double value;
	enum priority severity;
	unsigned char id[RECORD_ID_LEN];
};

struct sink {
	struct seen ev[MAX_EVENTS];
	size_t n;
	int refuse; /* the store is failing */
	size_t refused;
};

static int
sink_emit(void *arg, const struct rules_event *ev)
{
	struct sink *s = arg;
	struct seen *e;

	if (s->refuse) {
		s->refused++;
		return -1;
	}
	assert_true(s->n < MAX_EVENTS);
	e = &s->ev[s->n++];
	snprintf(e->rule, sizeof e->rule, "%s", ev->rule);
	snprintf(e->sensor, sizeof e->sensor, "%s", ev->sensor);
	snprintf(e->device, sizeof e->device, "%s", ev->device);
	snprintf(e->detail, sizeof e->detail, "%s", ev->detail);
	e->kind = ev->kind;
	e->ts = ev->ts;
	e->value = ev->value;
	e->severity = ev->severity;
	memcpy(e->id, ev->id, RECORD_ID_LEN);
	return 0;
}

static struct config *
load(const char *text)
{
	struct config *cfg;
	char *cause = NULL;
	size_t i;

	cfg = config_load_text(text, strlen(text), "t.toml", &cause);
	if (cfg == NULL)
		fail_msg("not TOML: %s", cause);
	config_finish(cfg);
	for (i = 0; i < cfg->nerrors; i++)
		fprintf(stderr, "%s\n", cfg->errors[i]);
	assert_int_equal(cfg->nerrors, 0);
	return cfg;
}

static struct rules *
rules_for(const char *text, struct sink *s, double mono_now)
{
	struct config *cfg = load(text);
	struct rules_opts o;
	struct rules *rs;

	memset(s, 0, sizeof *s);
	memset(&o, 0, sizeof o);
	o.agent_id = "agent-1";
	o.emit = sink_emit;
	o.arg = s;
	o.mono_now = mono_now;
	rs = rules_new(cfg, &o);
	config_free(cfg); /* the rules keep copies */
	return rs;
}

static void
feed(struct rules *rs, const char *sensor, double ts, double value)
{
	struct reading r;

	memset(&r, 0, sizeof r);
	snprintf(r.device, sizeof r.device, "dev");
	snprintf(r.sensor, sizeof r.sensor, "%s", sensor);
	r.ts = ts;
	r.value = value;
	/* The monotonic clock follows the readings' time here. */
	rules_reading(rs, &r, 1000 + ts);
}

static const char *
state_of(struct rules *rs, size_t i)
{
	struct rules_stat st;

	assert_int_equal(rules_stat(rs, i, &st), 0);
	return st.state;
}

static void
test_threshold_for_and_hysteresis(void **state)
{
	struct sink s;
	struct rules *rs;
	struct rules_stat st;

	rs = rules_for("[[rule]]\nname = \"overheat\"\nsensor = \"temp.*\"\n"
		       "above = 30\nclear = 28\nfor = 10\n"
		       "severity = \"high\"\n",
	    &s, 1);
	feed(rs, "temp.hold", 0, 25);
	feed(rs, "temp.hold", 1, 31); /* the condition starts */
	assert_string_equal(state_of(rs, 0), "pending");
	feed(rs, "temp.hold", 5, 29); /* it broke: `for` starts again */
	assert_string_equal(state_of(rs, 0), "ok");
	feed(rs, "temp.hold", 6, 31);
	feed(rs, "temp.hold", 15, 35); /* 9 s: not yet */
	assert_int_equal(s.n, 0);
	feed(rs, "hum.hold", 16, 99);  /* not matched */
	feed(rs, "temp.hold", 16, 32); /* 10 s held: fires */
	assert_int_equal(s.n, 1);
	assert_string_equal(state_of(rs, 0), "firing");
	/* Between clear and above it neither fires nor clears. */
	feed(rs, "temp.hold", 17, 29);
	feed(rs, "temp.hold", 18, 31);
	feed(rs, "temp.hold", 19, 28);
	assert_int_equal(s.n, 1);
	feed(rs, "temp.hold", 20, 27.9); /* below clear */
	assert_int_equal(s.n, 2);
	assert_string_equal(state_of(rs, 0), "ok");

	assert_int_equal(s.ev[0].kind, RULES_FIRE);
	assert_string_equal(s.ev[0].rule, "overheat");
	assert_string_equal(s.ev[0].sensor, "temp.hold");
	assert_string_equal(s.ev[0].device, "dev");
	assert_true(s.ev[0].ts == 16 && s.ev[0].value == 32);
	assert_int_equal(s.ev[0].severity, PRIORITY_HIGH);
	assert_string_equal(s.ev[0].detail,
	    "{\"condition\":\"above\",\"value\":32,\"threshold\":30,"
	    "\"clear\":28,\"for_s\":10}");
	assert_int_equal(s.ev[1].kind, RULES_CLEAR);
	assert_true(s.ev[1].ts == 20 && s.ev[1].value == 27.9);

	assert_int_equal(rules_stat(rs, 0, &st), 0);
	assert_int_equal(st.fired, 1);
	assert_int_equal(st.cleared, 1);
	assert_string_equal(st.kind, "threshold");
	assert_int_equal(rules_stat(rs, 1, &st), -1);
	rules_free(rs);
}

static void
test_default_clear_is_the_threshold(void **state)
{
	struct sink s;
	struct rules *rs;

	rs = rules_for("[[rule]]\nname = \"freeze\"\nsensor = \"t\"\n"
		       "below = -5\n",
	    &s, 1);
	feed(rs, "t", 1, -5);	/* not below */
	feed(rs, "t", 2, -5.5); /* fires at once (for = 0) */
	feed(rs, "t", 3, -5);	/* at the line: stays */
	feed(rs, "t", 4, -7);
	assert_int_equal(s.n, 1);
	feed(rs, "t", 5, -4.9); /* clears */
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ev[0].severity, PRIORITY_CRITICAL);
	assert_int_equal(s.ev[1].kind, RULES_CLEAR);
	rules_free(rs);
}

static void
test_band_and_sensors_apart(void **state)
{
	struct sink s;
	struct rules *rs;
	struct rules_stat st;

	rs = rules_for("[[rule]]\nname = \"band\"\nsensor = \"temp.[ab]?\"\n"
		       "above = 50\nbelow = -5\n",
	    &s, 1);
	feed(rs, "temp.a1", 1, 60);
	feed(rs, "temp.b2", 1, -10);
	feed(rs, "temp.c3", 1, 60);  /* not matched */
	feed(rs, "temp.a12", 1, 60); /* not matched */
	assert_int_equal(s.n, 2);
	assert_int_equal(rules_stat(rs, 0, &st), 0);
	assert_int_equal(st.firing, 2);
	feed(rs, "temp.a1", 2, 0); /* inside the band: clears */
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ev[2].sensor, "temp.a1");
	assert_int_equal(s.ev[2].kind, RULES_CLEAR);
	assert_int_equal(rules_stat(rs, 0, &st), 0);
	assert_int_equal(st.firing, 1);
	assert_string_equal(st.state, "firing");
	rules_free(rs);
}

static void
test_rate(void **state)
{
	struct sink s;
	struct rules *rs;

	rs = rules_for("[[rule]]\nname = \"surge\"\nsensor = \"p\"\n"
		       "rate_above = 2\nclear = 0.5\n",
	    &s, 1);
	feed(rs, "p", 0, 10);
	feed(rs, "p", 1, 11); /* 1/s */
	assert_int_equal(s.n, 0);
	feed(rs, "p", 2, 14); /* 3/s: fires */
	assert_int_equal(s.n, 1);
	assert_true(s.ev[0].value == 14);
	assert_string_equal(s.ev[0].detail,
	    "{\"condition\":\"rate_above\",\"rate\":3,\"threshold\":2,"
	    "\"clear\":0.5,\"for_s\":0}");
	feed(rs, "p", 1.5, 0); /* out of order: no rate */
	feed(rs, "p", 4, 15);  /* 0.5/s: not below clear */
	assert_int_equal(s.n, 1);
	feed(rs, "p", 8, 15); /* 0/s: clears */
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ev[1].kind, RULES_CLEAR);
	rules_free(rs);

	/* A falling rate with `for`. */
	rs = rules_for("[[rule]]\nname = \"drop\"\nsensor = \"p\"\n"
		       "rate_below = -1\nfor = 2\n",
	    &s, 1);
	feed(rs, "p", 0, 100);
	feed(rs, "p", 1, 90); /* -10/s: pending */
	feed(rs, "p", 2, 80);
	assert_int_equal(s.n, 0);
	feed(rs, "p", 3, 70); /* held 2 s */
	assert_int_equal(s.n, 1);
	rules_free(rs);
}

static void
test_stale(void **state)
{
	struct sink s;
	struct rules *rs;

	/* A literal sensor is watched from the start. */
	rs = rules_for("[[rule]]\nname = \"quiet\"\nsensor = \"temp.hold\"\n"
		       "stale = 5\nseverity = \"normal\"\n"
		       "[[rule]]\nname = \"doors\"\nsensor = \"door.*\"\n"
		       "stale = 2\n",
	    &s, 100);
	assert_true(rules_next_deadline(rs) == 105);
	rules_tick(rs, 5000, 104.9);
	assert_int_equal(s.n, 0);
	rules_tick(rs, 5001, 105);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ev[0].kind, RULES_FIRE);
	assert_true(s.ev[0].ts == 5001); /* wall clock when noticed */
	assert_string_equal(s.ev[0].device, "");
	assert_int_equal(s.ev[0].severity, PRIORITY_NORMAL);
	rules_tick(rs, 5002, 106); /* fires once */
	assert_int_equal(s.n, 1);
	assert_true(rules_next_deadline(rs) == 0);

	/* A reading clears it and starts the wait again. */
	{
		struct reading r;

		memset(&r, 0, sizeof r);
		snprintf(r.sensor, sizeof r.sensor, "temp.hold");
		snprintf(r.device, sizeof r.device, "hold");
		r.ts = 5003;
		r.value = 4.5;
		rules_reading(rs, &r, 107);
		assert_int_equal(s.n, 2);
		assert_int_equal(s.ev[1].kind, RULES_CLEAR);
		assert_true(s.ev[1].value == 4.5);
		assert_true(rules_next_deadline(rs) == 112);

		/* A glob rule watches what it has seen. */
		snprintf(r.sensor, sizeof r.sensor, "door.a");
		rules_reading(rs, &r, 108);
		assert_true(rules_next_deadline(rs) == 110);
		rules_reading(rs, &r, 109); /* moves it later */
		assert_true(rules_next_deadline(rs) == 111);
	}
	rules_tick(rs, 5010, 111);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ev[2].rule, "doors");
	assert_string_equal(s.ev[2].sensor, "door.a");
	assert_true(s.ev[2].value == 4.5);
	rules_tick(rs, 5011, 112);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.ev[3].rule, "quiet");
	rules_free(rs);
}

static void
test_held_events_keep_order(void **state)
{
	struct sink s;
	struct rules *rs;
	struct rules_stat st;

	rs = rules_for(
	    "[[rule]]\nname = \"hot\"\nsensor = \"t\"\nabove = 1\n", &s, 1);
	s.refuse = 1;
	feed(rs, "t", 1, 5); /* fire: refused, held */
	feed(rs, "t", 2, 0); /* clear: held behind it */
	assert_int_equal(rules_unsaved(rs), 2);
	assert_int_equal(s.n, 0);
	/* The counters and states do not wait for the store. */
	assert_int_equal(rules_stat(rs, 0, &st), 0);
	assert_int_equal(st.fired, 1);
	assert_int_equal(st.cleared, 1);
	s.refuse = 0;
	feed(rs, "t", 3, 0.5); /* any reading retries */
	assert_int_equal(rules_unsaved(rs), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ev[0].kind, RULES_FIRE);
	assert_true(s.ev[0].ts == 1);
	assert_string_equal(s.ev[0].rule, "hot");
	assert_int_equal(s.ev[1].kind, RULES_CLEAR);
	assert_true(s.ev[1].ts == 2);
	rules_free(rs);
}

static void
test_reconfigure_does_not_fire_twice(void **state)
{
	struct sink s;
	struct rules *rs;
	struct rules_stat st;
	struct config *cfg;

	rs = rules_for("[[rule]]\nname = \"hot\"\nsensor = \"t.*\"\n"
		       "above = 30\n"
		       "[[rule]]\nname = \"gone\"\nsensor = \"t.*\"\n"
		       "above = 0\n",
	    &s, 1);
	feed(rs, "t.a", 1, 40);
	feed(rs, "t.b", 1, 40);
	assert_int_equal(s.n, 4);

	/* Same name, new threshold and a narrower glob; "gone" goes. */
	cfg = load("[[rule]]\nname = \"hot\"\nsensor = \"t.a\"\n"
		   "above = 35\nclear = 20\n"
		   "[[rule]]\nname = \"new\"\nsensor = \"t.*\"\nabove = 30\n");
	rules_reconfigure(rs, cfg, 2);
	config_free(cfg);
	assert_int_equal(rules_count(rs), 2);
	assert_int_equal(rules_stat(rs, 0, &st), 0);
	assert_string_equal(st.name, "hot");
	assert_int_equal(st.fired, 2);	/* counters carried over */
	assert_int_equal(st.firing, 1); /* t.b is no longer watched */
	feed(rs, "t.a", 3, 40);		/* "hot" still firing: no event */
	assert_int_equal(s.n, 5);	/* only "new" fired */
	assert_string_equal(s.ev[4].rule, "new");
	feed(rs, "t.a", 4, 25); /* "new" clears; "hot" holds above 20 */
	assert_int_equal(s.n, 6);
	assert_string_equal(s.ev[5].rule, "new");
	feed(rs, "t.a", 5, 19);
	assert_int_equal(s.n, 7);
	assert_string_equal(s.ev[6].rule, "hot");
	assert_int_equal(s.ev[6].kind, RULES_CLEAR);
	rules_free(rs);
}

static void
test_event_id(void **state)
{
	unsigned char a[RECORD_ID_LEN], b[RECORD_ID_LEN];
	char hex[65];

	rules_event_id(
	    "agent-1", "overheat", "temp.hold", 1717000000.5, RULES_FIRE, a);
	recid_hex(a, hex);
	/* Python: sha256(u16be-length-prefixed agent, rule, sensor +
	 * struct.pack(">d", ts) + u16be-length-prefixed b"fire"). */
	assert_string_equal(hex,
	    "b64b8b41c2e0ebf0a79db14440f6d678"
	    "672d8d35d48f4add84dbe73d51c28074");
	rules_event_id(
	    "agent-1", "overheat", "temp.hold", 1717000000.5, RULES_CLEAR, b);
	assert_memory_not_equal(a, b, RECORD_ID_LEN);
}

static void
test_exec_without_loop_is_an_error(void **state)
{
	struct sink s;
	struct rules *rs;
	struct rules_stat st;

	rs = rules_for("[[rule]]\nname = \"x\"\nsensor = \"t\"\nabove = 1\n"
		       "action = \"exec\"\ncommand = [\"/bin/true\"]\n"
		       "action_on = \"fire\"\n",
	    &s, 1);
	feed(rs, "t", 1, 2);
	feed(rs, "t", 2, 0); /* clear: no action asked for */
	assert_int_equal(rules_stat(rs, 0, &st), 0);
	assert_int_equal(st.actions, 0);
	assert_int_equal(st.action_errors, 1);
	assert_string_equal(st.last_error, "no event loop to run actions");
	assert_int_equal(s.n, 2); /* the events are stored regardless */
	rules_free(rs);
}

static void
test_config_checks(void **state)
{
	static const struct {
		const char *keys;
		const char *error;
	} cases[] = {
		{ "above = 1\nstale = 3\n",
		    "t.toml:1: [[rule]] 'r': use one kind of condition: "
		    "'above'/'below', 'rate_above'/'rate_below' or 'stale'" },
		{ "rate_above = 1\nbelow = 3\n",
		    "t.toml:1: [[rule]] 'r': use one kind of condition: "
		    "'above'/'below', 'rate_above'/'rate_below' or 'stale'" },
		{ "above = 1\nclear = 2\n",
		    "t.toml:5: [[rule]] 'r' clear: 2 is above above (1)" },
		{ "below = 1\nclear = 0\n",
		    "t.toml:5: [[rule]] 'r' clear: 0 is below below (1)" },
		{ "above = 5\nbelow = 1\nclear = 3\n",
		    "t.toml:6: [[rule]] 'r' clear: needs a one-sided rule "
		    "(either above or below)" },
		{ "above = 1\nbelow = 5\n",
		    "t.toml:4: [[rule]] 'r' above: 1 is below below (5): the "
		    "rule would always hold" },
		{ "stale = 5\nfor = 2\n",
		    "t.toml:5: [[rule]] 'r' for: does not apply to a stale "
		    "rule" },
		{ "stale = 0\n",
		    "t.toml:4: [[rule]] 'r' stale: 0 is out of range "
		    "(0.001..3.1536e+07)" },
		{ "above = 1\naction = \"exec\"\n",
		    "t.toml:1: [[rule]] 'r': action = \"exec\" needs "
		    "'command'" },
		{ "above = 1\naction = \"exec\"\ncommand = [\"sh\", \"-c\"]\n",
		    "t.toml:6: [[rule]] 'r' command: 'sh' must be an absolute "
		    "path (it is run without a shell or PATH search)" },
		{ "above = 1\naction = \"exec\"\ncommand = []\n",
		    "t.toml:6: [[rule]] 'r' command: is empty" },
		{ "above = 1\ncommand = [\"/bin/true\"]\n",
		    "t.toml:5: [[rule]] 'r' command: needs action = \"exec\"" },
		{ "above = 1\naction = \"mqtt\"\ntopic = \"a/b\"\n",
		    "t.toml:1: [[rule]] 'r': action = \"mqtt\" needs 'url'" },
		{ "above = 1\naction = \"mqtt\"\nurl = \"mqtt://h\"\n",
		    "t.toml:1: [[rule]] 'r': action = \"mqtt\" needs "
		    "'topic'" },
		{ "above = 1\naction = \"mqtt\"\nurl = \"mqtts://h\"\n"
		  "topic = \"a\"\n",
		    "t.toml:6: [[rule]] 'r' url: 'mqtts://h' is not an "
		    "mqtt:// URL (TLS is not supported for actions)" },
		{ "above = 1\naction = \"mqtt\"\nurl = \"mqtt://h:0\"\n"
		  "topic = \"a\"\n",
		    "t.toml:6: [[rule]] 'r' url: 'mqtt://h:0': bad port" },
		{ "above = 1\naction = \"mqtt\"\nurl = \"mqtt://h\"\n"
		  "topic = \"a/+\"\n",
		    "t.toml:7: [[rule]] 'r' topic: 'a/+' is not a topic one "
		    "may publish to (empty, or with + or #)" },
		{ "above = 1\naction = \"mqtt\"\nurl = \"mqtt://h\"\n"
		  "topic = \"a\"\nqos = 2\n",
		    "t.toml:8: [[rule]] 'r' qos: 2 is out of range (0..1)" },
		{ "above = 1\ntopic = \"a\"\n",
		    "t.toml:5: [[rule]] 'r' topic: needs action = \"mqtt\"" },
		{ "above = 1\naction = \"sms\"\n",
		    "t.toml:5: [[rule]] 'r' action: 'sms' is not one of log, "
		    "exec, mqtt" },
		{ "above = 1\naction = \"exec\"\ncommand = [\"/bin/true\"]\n"
		  "timeout = 0\n",
		    "t.toml:7: [[rule]] 'r' timeout: 0 is out of range "
		    "(0.001..86400)" },
	};
	struct config *cfg;
	char text[512];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text,
		    "[[rule]]\nname = \"r\"\nsensor = \"s\"\n%s",
		    cases[i].keys);
		cfg = config_load_text(text, strlen(text), "t.toml", NULL);
		assert_non_null(cfg);
		config_finish(cfg);
		if (cfg->nerrors != 1 ||
		    strcmp(cfg->errors[0], cases[i].error) != 0)
			fail_msg("case %zu: %zu errors, first: %s", i,
			    cfg->nerrors,
			    cfg->nerrors > 0 ? cfg->errors[0] : "(none)");
		config_free(cfg);
	}

	/* Every key of an exec rule, read back. */
	cfg = load("[[rule]]\nname = \"r\"\nsensor = \"s\"\nabove = 3\n"
		   "clear = 2\naction = \"exec\"\n"
		   "command = [\"/usr/bin/logger\", \"a b\"]\ntimeout = 2.5\n"
		   "action_on = \"clear\"\n");
	assert_int_equal(cfg->rules[0].kind, CFG_RULE_THRESHOLD);
	assert_int_equal(cfg->rules[0].has_clear, 1);
	assert_true(cfg->rules[0].clear == 2);
	assert_int_equal(cfg->rules[0].action, CFG_ACTION_EXEC);
	assert_int_equal(cfg->rules[0].ncommand, 2);
	assert_string_equal(cfg->rules[0].command[1], "a b");
	assert_true(cfg->rules[0].timeout_s == 2.5);
	assert_int_equal(cfg->rules[0].action_on, CFG_ACTION_ON_CLEAR);
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold_for_and_hysteresis),
		cmocka_unit_test(test_default_clear_is_the_threshold),
		cmocka_unit_test(test_band_and_sensors_apart),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_held_events_keep_order),
		cmocka_unit_test(test_reconfigure_does_not_fire_twice),
		cmocka_unit_test(test_event_id),
		cmocka_unit_test(test_exec_without_loop_is_an_error),
		cmocka_unit_test(test_config_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
