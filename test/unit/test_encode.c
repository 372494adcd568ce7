#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "encode.h"
#include "recid.h"

static void
record_reading(struct encode_record *r)
{
	memset(r, 0, sizeof *r);
	r->kind = ENCODE_READING;
	memset(r->id, 0xab, sizeof r->id);
	r->device = "hold";
	r->sensor = "temp.hold";
	r->ts = 1717000000.0;
	r->value = 4.2;
	r->unit = "celsius";
	r->priority = PRIORITY_NORMAL;
	r->meta = "{\"vessel\":\"trawler-7\"}";
}

static void
test_json_document_matches_contract(void **state)
{
	struct json_out j;
	struct encode_record r, e;
	char hex[65];

	json_out_init(&j);
	record_reading(&r);
	memset(&e, 0, sizeof e);
	e.kind = ENCODE_EVENT;
	memset(e.id, 0x01, sizeof e.id);
	e.rule = "overheat";
	e.event_kind = "fire";
	e.sensor = "temp.hold";
	e.ts = 1717000001.5;
	e.value = 31.5;
	e.severity = PRIORITY_CRITICAL;
	e.priority = PRIORITY_CRITICAL;

	encode_json_begin(&j, "trawler-7", 1717000000.5);
	encode_json_record(&j, &r);
	encode_json_record(&j, &e);
	encode_json_end(&j);
	recid_hex(r.id, hex);
	assert_string_equal(j.buf,
	    "{\"agent\":\"trawler-7\",\"sent_at\":1717000000.5,\"records\":["
	    "{\"id\":\"abababababababababababababababababababababababababababababababab\","
	    "\"kind\":\"reading\",\"device\":\"hold\",\"sensor\":\"temp.hold\","
	    "\"ts\":1717000000,\"value\":4.2,\"unit\":\"celsius\","
	    "\"priority\":\"normal\",\"meta\":{\"vessel\":\"trawler-7\"}},"
	    "{\"id\":\"0101010101010101010101010101010101010101010101010101010101010101\","
	    "\"kind\":\"event\",\"rule\":\"overheat\",\"event\":\"fire\","
	    "\"sensor\":\"temp.hold\",\"ts\":1717000001.5,\"value\":31.5,"
	    "\"severity\":\"critical\",\"priority\":\"critical\"}]}");
	/* begin resets: the same buffer serves the next batch. */
	encode_json_begin(&j, "a\"b", 1);
	encode_json_end(&j);
	assert_string_equal(
	    j.buf, "{\"agent\":\"a\\\"b\",\"sent_at\":1,\"records\":[]}");
	json_out_free(&j);
}

static void
test_influx_lines(void **state)
{
	struct json_out j;
	struct encode_record r;

	json_out_init(&j);
	record_reading(&r);
	encode_influx_record(&j, "trawler-7", &r);
	r.sensor = "temp hold,x";
	r.device = "dev=1";
	r.unit = "";
	r.value = 5;
	r.ts = 1717000000.123456;
	encode_influx_record(&j, "boat 7", &r);
	assert_string_equal(j.buf,
	    "temp.hold,agent=trawler-7,device=hold,unit=celsius value=4.2 "
	    "1717000000000000000\n"
	    "temp\\ hold\\,x,agent=boat\\ 7,device=dev\\=1 value=5.0 "
	    "1717000000123456000\n");
	json_out_free(&j);
}

static void
test_gzip_round_trip(void **state)
{
	struct json_out plain, gz;
	struct encode_record r;
	unsigned char *back;
	z_stream zs;
	int i;

	json_out_init(&plain);
	json_out_init(&gz);
	record_reading(&r);
	encode_json_begin(&plain, "trawler-7", 1);
	for (i = 0; i < 500; i++) {
		r.ts += 1;
		encode_json_record(&plain, &r);
	}
	encode_json_end(&plain);
	assert_int_equal(encode_gzip_available(), 1);
	assert_int_equal(encode_gzip(plain.buf, plain.len, &gz), 0);
	assert_true(gz.len < plain.len / 5);
	assert_int_equal((unsigned char)gz.buf[0], 0x1f);
	assert_int_equal((unsigned char)gz.buf[1], 0x8b);

	back = malloc(plain.len + 1);
	memset(&zs, 0, sizeof zs);
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (unsigned char *)gz.buf;
	zs.avail_in = (unsigned)gz.len;
	zs.next_out = back;
	zs.avail_out = (unsigned)plain.len + 1;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.total_out, plain.len);
	assert_memory_equal(back, plain.buf, plain.len);
	inflateEnd(&zs);
	free(back);
	json_out_free(&plain);
	json_out_free(&gz);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_document_matches_contract),
		cmocka_unit_test(test_influx_lines),
		cmocka_unit_test(test_gzip_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
