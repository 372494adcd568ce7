#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_out.h"

static void
test_nested_document(void **state)
{
	struct json_out j;

	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	json_out_string(&j, "a", "x");
	json_out_array_begin(&j, "list");
	json_out_int(&j, NULL, 1);
	json_out_double(&j, NULL, 2.5);
	json_out_object_begin(&j, NULL);
	json_out_bool(&j, "t", 1);
	json_out_null(&j, "n");
	json_out_object_end(&j);
	json_out_array_end(&j);
	json_out_raw(&j, "raw", "{\"k\":[]}");
	json_out_object_end(&j);
	assert_string_equal(j.buf,
	    "{\"a\":\"x\",\"list\":[1,2.5,{\"t\":true,\"n\":null}],"
	    "\"raw\":{\"k\":[]}}");
	json_out_free(&j);
}

static void
test_escapes(void **state)
{
	struct json_out j;

	json_out_init(&j);
	json_out_string(&j, NULL, "q\"b\\n\n\t\x01\x7f\xc3\xa9");
	assert_string_equal(
	    j.buf, "\"q\\\"b\\\\n\\n\\t\\u0001\\u007f\xc3\xa9\"");
	json_out_reset(&j);
	json_out_stringn(&j, "k\"", "ab", 1);
	assert_string_equal(j.buf, "\"k\\\"\":\"a\"");
	json_out_free(&j);
}

static void
test_numbers_round_trip(void **state)
{
	const double values[] = { 0.1, 4.2, -17.25, 1e-300,
		1.7976931348623157e308, 123456789.123456789, 1e15, 3, -0.0,
		2.0 / 3.0 };
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof values / sizeof *values; i++) {
		json_out_format_double(buf, values[i]);
		assert_true(strtod(buf, NULL) == values[i]);
	}
	json_out_format_double(buf, 42.0);
	assert_string_equal(buf, "42");
	json_out_format_double(buf, 0.1);
	assert_string_equal(buf, "0.1");
	json_out_format_double(buf, NAN);
	assert_string_equal(buf, "null");
	json_out_format_double(buf, INFINITY);
	assert_string_equal(buf, "null");
}

static void
test_large_output_grows(void **state)
{
	struct json_out j;
	int i;

	json_out_init(&j);
	json_out_array_begin(&j, NULL);
	for (i = 0; i < 10000; i++)
		json_out_int(&j, NULL, i);
	json_out_array_end(&j);
	assert_int_equal(j.buf[0], '[');
	assert_int_equal(j.buf[j.len - 1], ']');
	assert_non_null(strstr(j.buf, ",9999]"));
	assert_int_equal(strlen(j.buf), j.len);
	json_out_free(&j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_document),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_numbers_round_trip),
		cmocka_unit_test(test_large_output_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
