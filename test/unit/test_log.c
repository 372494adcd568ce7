#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static char *
log_capture(FILE *f)
{
	long n;
	char *s;

	fflush(f);
	n = ftell(f);
	s = calloc(1, (size_t)n + 1);
	rewind(f);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	return s;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static void
test_json_line_and_levels(void **state)
{
	FILE *f = tmpfile();
	char *out;

	log_set_stream(f);
	log_configure(LOG_INFO, LOG_FORMAT_JSON);
	log_debug("store", "hidden");
	log_warn("store", "disk \"%s\" slow", "sda");
	out = log_capture(f);
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "\"level\":\"warn\""));
	assert_non_null(strstr(out, "\"component\":\"store\""));
	assert_non_null(strstr(out, "\"msg\":\"disk \\\"sda\\\" slow\""));
	assert_null(strstr(out, "hidden"));
	free(out);
	fclose(f);
	log_set_stream(NULL);
}

static void
test_repeats_are_counted(void **state)
{
	FILE *f = tmpfile();
	char *out;
	int i;

	log_set_stream(f);
	log_configure(LOG_DEBUG, LOG_FORMAT_TEXT);
	for (i = 0; i < 5; i++)
		log_error("mqtt", "connect refused");
	log_error("mqtt", "another thing");
	out = log_capture(f);
	assert_int_equal(count_lines(out), 2);
	free(out);
	log_flush();
	out = log_capture(f);
	assert_int_equal(count_lines(out), 3);
	assert_non_null(strstr(out,
	    "last message repeated: connect refused "
	    "(repeated 4 times)"));
	free(out);
	fclose(f);
	log_set_stream(NULL);
}

static void
test_level_names(void **state)
{
	enum log_level l;

	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_level_parse("loud", &l), -1);
	assert_string_equal(log_level_name(LOG_ERROR), "error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_line_and_levels),
		cmocka_unit_test(test_repeats_are_counted),
		cmocka_unit_test(test_level_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
