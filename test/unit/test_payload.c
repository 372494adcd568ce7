/*
 * Payload decoding: every format with exact values, the one-line error
 * texts, and the all-or-nothing rule (a bad payload hands out nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "payload.h"

#define GOT_MAX 64

struct got {
	struct reading r[GOT_MAX];
	size_t n;
	size_t stop_at; /* cb returns -1 for this reading (1-based); 0 never */
};

static struct payload *P;
static struct got G;
static char E[256];

static int
collect_cb(void *arg, struct reading *r)
{
	struct got *g = arg;

	if (g->n < GOT_MAX)
		g->r[g->n] = *r;
	g->n++;
	if (g->stop_at != 0 && g->n == g->stop_at)
		return -1;
	return 0;
}

static long
dec(const struct payload_opts *o, const char *data)
{
	memset(&G, 0, sizeof G);
	memset(E, 'x', sizeof E - 1);
	E[sizeof E - 1] = '\0';
	return payload_decode(
	    P, o, data, strlen(data), collect_cb, &G, E, sizeof E);
}

static long
dec_fmt(enum payload_format f, const char *data)
{
	struct payload_opts o;

	memset(&o, 0, sizeof o);
	o.format = f;
	return dec(&o, data);
}

/* A failed decode: -1, the message, and nothing handed out. */
static void
expect_error(long n, const char *msg)
{
	assert_int_equal(n, -1);
	assert_string_equal(E, msg);
	assert_int_equal(G.n, 0);
	assert_null(strchr(E, '\n'));
}

static int
setup(void **state)
{
	P = payload_new();
	return P == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	payload_free(P);
	return 0;
}

static void
test_format_names(void **state)
{
	enum payload_format f;

	assert_int_equal(payload_format_parse("number", &f), 0);
	assert_int_equal(f, PAYLOAD_NUMBER);
	assert_int_equal(payload_format_parse("json", &f), 0);
	assert_int_equal(f, PAYLOAD_JSON);
	assert_int_equal(payload_format_parse("influx", &f), 0);
	assert_int_equal(f, PAYLOAD_INFLUX);
	assert_int_equal(payload_format_parse("csv", &f), 0);
	assert_int_equal(f, PAYLOAD_CSV);
	assert_int_equal(payload_format_parse("JSON", &f), -1);
	assert_int_equal(payload_format_parse("", &f), -1);
	assert_string_equal(payload_format_name(PAYLOAD_INFLUX), "influx");
}

static void
test_number(void **state)
{
	assert_int_equal(dec_fmt(PAYLOAD_NUMBER, " \t21.25\r\n"), 1);
	assert_true(G.r[0].value == 21.25);
	assert_true(G.r[0].ts == 0);
	assert_string_equal(G.r[0].sensor, "");
	assert_string_equal(E, "");
	assert_int_equal(dec_fmt(PAYLOAD_NUMBER, "-4e3"), 1);
	assert_true(G.r[0].value == -4000);
	assert_int_equal(dec_fmt(PAYLOAD_NUMBER, "0.1"), 1);
	assert_true(G.r[0].value == 0.1);

	expect_error(dec_fmt(PAYLOAD_NUMBER, ""), "payload is not a number");
	expect_error(dec_fmt(PAYLOAD_NUMBER, "   "), "payload is not a number");
	expect_error(
	    dec_fmt(PAYLOAD_NUMBER, "12abc"), "payload is not a number");
	expect_error(dec_fmt(PAYLOAD_NUMBER, "1 2"), "payload is not a number");
	expect_error(dec_fmt(PAYLOAD_NUMBER, "nan"), "payload is not a number");
	expect_error(dec_fmt(PAYLOAD_NUMBER, "inf"), "payload is not a number");
	expect_error(
	    dec_fmt(PAYLOAD_NUMBER, "0x10"), "payload is not a number");
	expect_error(
	    dec_fmt(PAYLOAD_NUMBER, "1e999"), "payload is not a number");
	expect_error(dec_fmt(PAYLOAD_NUMBER, "-"), "payload is not a number");
	expect_error(dec_fmt(PAYLOAD_NUMBER, "."), "payload is not a number");
}

static void
test_number_embedded_nul(void **state)
{
	struct payload_opts o;
	long n;

	memset(&o, 0, sizeof o);
	o.format = PAYLOAD_NUMBER;
	memset(&G, 0, sizeof G);
	n = payload_decode(P, &o,
	    "12\0"
	    "5",
	    4, collect_cb, &G, E, sizeof E);
	expect_error(n, "payload is not a number");
}

static void
test_scale_offset(void **state)
{
	struct payload_opts o;

	memset(&o, 0, sizeof o);
	o.format = PAYLOAD_NUMBER;
	o.scale = 0.001;
	o.offset = -1;
	assert_int_equal(dec(&o, "42000"), 1);
	assert_true(G.r[0].value == 42000 * 0.001 - 1);
	/* scale 0 means 1 */
	o.scale = 0;
	o.offset = 0.5;
	assert_int_equal(dec(&o, "2"), 1);
	assert_true(G.r[0].value == 2.5);
	o.scale = 1e300;
	o.offset = 0;
	expect_error(
	    dec(&o, "1e300"), "reading 0: value out of range after scaling");
}

static void
test_json_value_path(void **state)
{
	struct payload_opts o;

	memset(&o, 0, sizeof o);
	o.format = PAYLOAD_JSON;
	o.value_path = "$.sensors.temp";
	assert_int_equal(dec(&o, "{\"sensors\":{\"temp\":21.5},\"ts\":5}"), 1);
	assert_true(G.r[0].value == 21.5);
	assert_true(G.r[0].ts == 0);
	assert_int_equal(dec(&o, "{\"sensors\":{\"temp\":-7}}"), 1);
	assert_true(G.r[0].value == -7);

	expect_error(dec(&o, "{\"sensors\":{\"temp\":\"21.5\"}}"),
	    "value at $.sensors.temp is text, not a number");
	expect_error(dec(&o, "{\"sensors\":{\"temp\":true}}"),
	    "value at $.sensors.temp is true, not a number");
	expect_error(dec(&o, "{\"sensors\":{\"temp\":null}}"),
	    "value at $.sensors.temp is null, not a number");
	expect_error(dec(&o, "{\"sensors\":{}}"), "no value at $.sensors.temp");
	expect_error(dec(&o, "{\"sensors\":{\"temp\":1e999}}"),
	    "value at $.sensors.temp is not finite");
	expect_error(dec(&o, "{\"sensors\":"),
	    "payload is not valid JSON (malformed JSON)");
	o.value_path = "temp";
	/* SQLite's own wording of a bad path changes between versions. */
	assert_int_equal(dec(&o, "{\"temp\":1}"), -1);
	assert_non_null(strstr(E, "temp"));
	assert_int_equal(G.n, 0);
}

static void
test_json_ts_path(void **state)
{
	struct payload_opts o;

	memset(&o, 0, sizeof o);
	o.format = PAYLOAD_JSON;
	o.value_path = "$.v";
	o.ts_path = "$.t";
	assert_int_equal(dec(&o, "{\"v\":1,\"t\":1717000000.5}"), 1);
	assert_true(G.r[0].ts == 1717000000.5);
	assert_int_equal(
	    dec(&o, "{\"v\":1,\"t\":\"2024-05-29T16:26:40Z\"}"), 1);
	assert_true(G.r[0].ts == 1717000000);
	assert_int_equal(
	    dec(&o, "{\"v\":1,\"t\":\"2024-05-29T18:26:40.25+02:00\"}"), 1);
	assert_true(G.r[0].ts == 1717000000.25);
	assert_int_equal(
	    dec(&o, "{\"v\":1,\"t\":\"2024-05-29 14:26:40-0200\"}"), 1);
	assert_true(G.r[0].ts == 1717000000);
	/* No zone: UTC. Leap day. */
	assert_int_equal(dec(&o, "{\"v\":1,\"t\":\"2024-02-29T00:00:00\"}"), 1);
	assert_true(G.r[0].ts == 1709164800);

	expect_error(dec(&o, "{\"v\":1}"), "$.t is missing");
	expect_error(dec(&o, "{\"v\":1,\"t\":\"yesterday\"}"),
	    "$.t is not a number nor an ISO-8601 time");
	expect_error(dec(&o, "{\"v\":1,\"t\":\"2024-13-01T00:00:00Z\"}"),
	    "$.t is not a number nor an ISO-8601 time");
	expect_error(dec(&o, "{\"v\":1,\"t\":\"2024-05-29T16:26:40Zjunk\"}"),
	    "$.t is not a number nor an ISO-8601 time");
	expect_error(
	    dec(&o, "{\"v\":1,\"t\":[1]}"), "$.t is array, not a time");
	expect_error(dec(&o, "{\"v\":1,\"t\":1717000000000}"),
	    "$.t is out of range (Unix seconds expected)");
	expect_error(dec(&o, "{\"v\":1,\"t\":-5}"),
	    "$.t is out of range (Unix seconds expected)");
}

static void
test_json_one_object(void **state)
{
	assert_int_equal(dec_fmt(PAYLOAD_JSON,
			     "{\"sensor\":\"temp.hold\",\"value\":4.25,"
			     "\"ts\":1717000000.5,\"unit\":\"celsius\","
			     "\"meta\":{\"vessel\":\"trawler-7\",\"n\":[1,2]},"
			     "\"device\":\"ignored\"}"),
	    1);
	assert_string_equal(G.r[0].sensor, "temp.hold");
	assert_true(G.r[0].value == 4.25);
	assert_true(G.r[0].ts == 1717000000.5);
	assert_string_equal(G.r[0].unit, "celsius");
	assert_string_equal(
	    G.r[0].meta, "{\"vessel\":\"trawler-7\",\"n\":[1,2]}");
	assert_string_equal(G.r[0].device, "");

	/* Only value is required; an empty meta is no meta. */
	assert_int_equal(
	    dec_fmt(PAYLOAD_JSON, " {\"value\":3,\"meta\":{}} "), 1);
	assert_true(G.r[0].value == 3);
	assert_string_equal(G.r[0].sensor, "");
	assert_string_equal(G.r[0].meta, "");

	expect_error(
	    dec_fmt(PAYLOAD_JSON, "{\"sensor\":\"a\"}"), "value is missing");
	expect_error(dec_fmt(PAYLOAD_JSON, "{\"value\":\"1\"}"),
	    "value is not a number");
	expect_error(dec_fmt(PAYLOAD_JSON, "{\"value\":1,\"sensor\":5}"),
	    "sensor is not a string");
	expect_error(dec_fmt(PAYLOAD_JSON, "{\"value\":1,\"sensor\":\"\"}"),
	    "sensor is empty, longer than 63 bytes or has control characters");
	expect_error(
	    dec_fmt(PAYLOAD_JSON, "{\"value\":1,\"sensor\":\"a\\nb\"}"),
	    "sensor is empty, longer than 63 bytes or has control characters");
	expect_error(dec_fmt(PAYLOAD_JSON,
			 "{\"value\":1,\"unit\":\"a-very-long-unit-name\"}"),
	    "unit is empty, longer than 15 bytes or has control characters");
	expect_error(dec_fmt(PAYLOAD_JSON, "{\"value\":1,\"meta\":[1]}"),
	    "meta is not an object");
	expect_error(dec_fmt(PAYLOAD_JSON, "{\"value\":1,\"ts\":\"x\"}"),
	    "ts is not a number nor an ISO-8601 time");
	expect_error(dec_fmt(PAYLOAD_JSON, "42"),
	    "payload is a JSON integer, not a reading object or an array of "
	    "them");
	expect_error(dec_fmt(PAYLOAD_JSON, ""),
	    "payload is not valid JSON (malformed JSON)");
	expect_error(dec_fmt(PAYLOAD_JSON, "{\"value\":1} x"),
	    "payload is not valid JSON (malformed JSON)");
}

static void
test_json_meta_too_long(void **state)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof buf, "{\"value\":1,\"meta\":{\"k\":\"");
	memset(buf + n, 'm', 200);
	strcpy(buf + n + 200, "\"}}");
	expect_error(
	    dec_fmt(PAYLOAD_JSON, buf), "meta is longer than 191 bytes");
}

static void
test_json_array(void **state)
{
	assert_int_equal(
	    dec_fmt(PAYLOAD_JSON,
		"[{\"sensor\":\"a\",\"value\":1},"
		"{\"sensor\":\"b\",\"value\":-2.5,\"ts\":1717000001},"
		"{\"value\":3e2,\"meta\":{\"deep\":{\"value\":9}}}]"),
	    3);
	assert_string_equal(G.r[0].sensor, "a");
	assert_true(G.r[0].value == 1);
	assert_string_equal(G.r[1].sensor, "b");
	assert_true(G.r[1].value == -2.5);
	assert_true(G.r[1].ts == 1717000001);
	assert_string_equal(G.r[2].sensor, "");
	assert_true(G.r[2].value == 300);
	/* A "value" nested in meta is not the reading's. */
	assert_string_equal(G.r[2].meta, "{\"deep\":{\"value\":9}}");

	assert_int_equal(dec_fmt(PAYLOAD_JSON, "[]"), 0);
	assert_int_equal(G.n, 0);
}

static void
test_json_array_errors_name_the_record(void **state)
{
	expect_error(dec_fmt(PAYLOAD_JSON,
			 "[{\"value\":1},{\"value\":2},{\"value\":3},"
			 "{\"value\":\"x\"}]"),
	    "record 3: value is not a number");
	expect_error(
	    dec_fmt(PAYLOAD_JSON, "[{\"value\":1},{\"sensor\":\"b\"}]"),
	    "record 1: value is missing");
	expect_error(dec_fmt(PAYLOAD_JSON, "[{\"value\":1},{}]"),
	    "record 1: value is missing");
	expect_error(dec_fmt(PAYLOAD_JSON, "[{\"value\":1},5]"),
	    "record 1: integer, not a reading object");
	expect_error(dec_fmt(PAYLOAD_JSON, "[[{\"value\":1}]]"),
	    "record 0: array, not a reading object");
	expect_error(dec_fmt(PAYLOAD_JSON, "[{\"value\":1,\"ts\":true}]"),
	    "record 0: ts is true, not a time");
	expect_error(dec_fmt(PAYLOAD_JSON, "[{\"value\":1},"),
	    "payload is not valid JSON (malformed JSON)");
}

static void
test_json_nul_byte(void **state)
{
	struct payload_opts o;
	static const char doc[] = "{\"value\":1}\0garbage";
	long n;

	memset(&o, 0, sizeof o);
	o.format = PAYLOAD_JSON;
	memset(&G, 0, sizeof G);
	n = payload_decode(
	    P, &o, doc, sizeof doc - 1, collect_cb, &G, E, sizeof E);
	expect_error(n, "payload has a NUL byte");
}

static void
test_limits(void **state)
{
	struct payload_opts o;
	char buf[8192];
	size_t len = 0;
	int i;

	memset(&o, 0, sizeof o);
	o.format = PAYLOAD_JSON;
	o.max_readings = 3;
	assert_int_equal(
	    dec(&o, "[{\"value\":1},{\"value\":2},{\"value\":3}]"), 3);
	expect_error(dec(&o,
			 "[{\"value\":1},{\"value\":2},{\"value\":3},"
			 "{\"value\":4}]"),
	    "more than 3 readings");
	o.format = PAYLOAD_INFLUX;
	expect_error(dec(&o, "m a=1,b=2\nm c=3,d=4\n"), "more than 3 readings");

	/* Many readings (beyond what collect keeps) all come out. */
	o.format = PAYLOAD_JSON;
	o.max_readings = 0;
	buf[len++] = '[';
	for (i = 0; i < 500; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len,
		    "%s{\"value\":%d}", i ? "," : "", i);
	buf[len++] = ']';
	buf[len] = '\0';
	assert_int_equal(dec(&o, buf), 500);
	assert_int_equal(G.n, 500);
	assert_true(G.r[GOT_MAX - 1].value == GOT_MAX - 1);
}

static void
test_consumer_stops(void **state)
{
	static const char doc[] = "[{\"value\":1},{\"value\":2},{\"value\":3}]";
	struct payload_opts o;
	long n;

	memset(&o, 0, sizeof o);
	o.format = PAYLOAD_JSON;
	memset(&G, 0, sizeof G);
	G.stop_at = 2;
	n = payload_decode(
	    P, &o, doc, strlen(doc), collect_cb, &G, E, sizeof E);
	assert_int_equal(n, -1);
	assert_int_equal(G.n, 2);
	assert_string_equal(E, "stopped by the consumer at reading 1 of 3");
}

static void
test_influx(void **state)
{
	assert_int_equal(
	    dec_fmt(PAYLOAD_INFLUX,
		"# comment\n"
		"\n"
		"  \t\n"
		"weather,location=us\\ west,unit=F "
		"temp=82.5,hum=40i,ok=true,note=\"a b,c=\\\"d\\\"\" "
		"1465839830100400200\r\n"
		"cpu value=-1.5e-3\n"
		"disk,path=/data free=17u"),
	    4);
	assert_string_equal(G.r[0].sensor, "weather.temp");
	assert_true(G.r[0].value == 82.5);
	assert_string_equal(G.r[0].unit, "F");
	assert_string_equal(G.r[0].meta, "{\"location\":\"us west\"}");
	assert_true(G.r[0].ts == 1465839830.1004002);
	assert_string_equal(G.r[1].sensor, "weather.hum");
	assert_true(G.r[1].value == 40);
	assert_true(G.r[1].ts == G.r[0].ts);
	assert_string_equal(G.r[1].meta, G.r[0].meta);
	assert_string_equal(G.r[2].sensor, "cpu");
	assert_true(G.r[2].value == -1.5e-3);
	assert_true(G.r[2].ts == 0);
	assert_string_equal(G.r[2].meta, "");
	assert_string_equal(G.r[2].unit, "");
	assert_string_equal(G.r[3].sensor, "disk.free");
	assert_true(G.r[3].value == 17);
	assert_string_equal(G.r[3].meta, "{\"path\":\"/data\"}");
}

static void
test_influx_escapes(void **state)
{
	assert_int_equal(dec_fmt(PAYLOAD_INFLUX,
			     "my\\ meas\\,x,t\\=k=v\\,1\\\\,q=\"x\" f\\ 1=2 "
			     "1717000000000000000"),
	    1);
	assert_string_equal(G.r[0].sensor, "my meas,x.f 1");
	assert_true(G.r[0].value == 2);
	assert_true(G.r[0].ts == 1717000000);
	assert_string_equal(
	    G.r[0].meta, "{\"t=k\":\"v,1\\\\\",\"q\":\"\\\"x\\\"\"}");
}

static void
test_influx_errors(void **state)
{
	expect_error(dec_fmt(PAYLOAD_INFLUX, ""), "no line protocol data");
	expect_error(
	    dec_fmt(PAYLOAD_INFLUX, "# only\n\n"), "no line protocol data");
	expect_error(dec_fmt(PAYLOAD_INFLUX, "cpu\n"), "line 1: no field set");
	expect_error(dec_fmt(PAYLOAD_INFLUX, "cpu v=1\ncpu s=\"x\",b=t\n"),
	    "line 2: no numeric field");
	expect_error(dec_fmt(PAYLOAD_INFLUX, "cpu v=1\n\ncpu v=abc\n"),
	    "line 3: field v: bad value");
	expect_error(
	    dec_fmt(PAYLOAD_INFLUX, "cpu v=1 12x"), "line 1: bad timestamp");
	expect_error(
	    dec_fmt(PAYLOAD_INFLUX, "cpu v=1 -5"), "line 1: bad timestamp");
	expect_error(dec_fmt(PAYLOAD_INFLUX, "cpu v=1 99999999999999999999"),
	    "line 1: bad timestamp");
	expect_error(dec_fmt(PAYLOAD_INFLUX, "cpu v=1 1 2"),
	    "line 1: text after the timestamp");
	expect_error(
	    dec_fmt(PAYLOAD_INFLUX, ",t=1 v=1"), "line 1: no measurement");
	expect_error(
	    dec_fmt(PAYLOAD_INFLUX, "cpu,t v=1"), "line 1: bad tag key");
	expect_error(dec_fmt(PAYLOAD_INFLUX, "cpu,t= v=1"),
	    "line 1: tag t: empty or too long value");
	expect_error(
	    dec_fmt(PAYLOAD_INFLUX, "cpu =1"), "line 1: bad field key");
	expect_error(
	    dec_fmt(PAYLOAD_INFLUX, "cpu v=1,"), "line 1: bad field key");
	expect_error(dec_fmt(PAYLOAD_INFLUX, "cpu v=\"open"),
	    "line 1: field v: bad value");
	expect_error(dec_fmt(PAYLOAD_INFLUX, "cpu v=1.5i"),
	    "line 1: field v: bad value");
	expect_error(
	    dec_fmt(PAYLOAD_INFLUX, "cpu v=-1u"), "line 1: field v: bad value");
	expect_error(dec_fmt(PAYLOAD_INFLUX, "cpu v=99999999999999999999i"),
	    "line 1: field v: bad value");
	expect_error(
	    dec_fmt(PAYLOAD_INFLUX, "cpu v=nan"), "line 1: field v: bad value");
	expect_error(dec_fmt(PAYLOAD_INFLUX,
			 "a_rather_long_measurement_name_that_goes_on_and_on_"
			 "and_on x_field=1"),
	    "line 1: sensor a_rather_long_measurement_name_that_goes_on_and_"
	    "on_and_on.x_field longer than 63 bytes");
	expect_error(dec_fmt(PAYLOAD_INFLUX, "cpu,unit=a-very-long-unit v=1"),
	    "line 1: unit longer than 15 bytes");
}

static void
test_influx_all_or_nothing(void **state)
{
	/* Good lines before a bad one are not handed out either. */
	expect_error(dec_fmt(PAYLOAD_INFLUX, "a v=1\nb v=2\nc v=oops\n"),
	    "line 3: field v: bad value");
}

static void
test_csv(void **state)
{
	struct payload_opts o;

	memset(&o, 0, sizeof o);
	o.format = PAYLOAD_CSV;
	o.csv_column = 3;
	assert_int_equal(dec(&o, "2024-05-29,pump, 12.5 ,ok\n"), 1);
	assert_true(G.r[0].value == 12.5);
	assert_int_equal(dec(&o, "a,\"b,c\",\" -3 \"\r\n"), 1);
	assert_true(G.r[0].value == -3);
	assert_int_equal(dec(&o, "\"x\"\"y\",,7"), 1);
	assert_true(G.r[0].value == 7);
	o.csv_separator = ';';
	o.csv_column = 2;
	assert_int_equal(dec(&o, "1,5;2.5"), 1);
	assert_true(G.r[0].value == 2.5);
	expect_error(dec(&o, "1;x"), "column 2 is not a number");
	o.csv_column = 0; /* 0 means the first column */
	assert_int_equal(dec(&o, "8;9"), 1);
	assert_true(G.r[0].value == 8);

	o.csv_separator = ',';
	o.csv_column = 4;
	expect_error(dec(&o, "1,2,3"), "no column 4 (the line has 3)");
	expect_error(dec(&o, "1,2,3,4\n5,6,7,8\n"), "more than one CSV line");
	expect_error(dec(&o, "1,2,3,"), "column 4 is not a number");
	expect_error(dec(&o, "1,\"2,3,4"), "column 2: unterminated quote");
	expect_error(
	    dec(&o, "1,\"2\"x,3,4"), "column 2: text after the closing quote");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_number),
		cmocka_unit_test(test_number_embedded_nul),
		cmocka_unit_test(test_scale_offset),
		cmocka_unit_test(test_json_value_path),
		cmocka_unit_test(test_json_ts_path),
		cmocka_unit_test(test_json_one_object),
		cmocka_unit_test(test_json_meta_too_long),
		cmocka_unit_test(test_json_array),
		cmocka_unit_test(test_json_array_errors_name_the_record),
		cmocka_unit_test(test_json_nul_byte),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_consumer_stops),
		cmocka_unit_test(test_influx),
		cmocka_unit_test(test_influx_escapes),
		cmocka_unit_test(test_influx_errors),
		cmocka_unit_test(test_influx_all_or_nothing),
		cmocka_unit_test(test_csv),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
