#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "recid.h"

static void
reading_fill(struct reading *r, const char *device, const char *sensor,
    double ts, double value)
{
	memset(r, 0, sizeof *r);
	strcpy(r->device, device);
	strcpy(r->sensor, sensor);
	r->ts = ts;
	r->value = value;
}

static void
test_sha256_known_vector(void **state)
{
	unsigned char id[RECORD_ID_LEN];
	char hex[65];

	recid_sha256("abc", 3, id);
	recid_hex(id, hex);
	assert_string_equal(hex,
	    "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}

static void
test_reading_id_is_stable_and_distinct(void **state)
{
	struct reading a, b;
	char hex[65];

	reading_fill(&a, "hold", "temp.hold", 1717000000.0, 4.2);
	reading_fill(&b, "hold", "temp.hold", 1717000000.0, 4.2);
	/* Fields outside the identity do not change the id. */
	strcpy(b.unit, "celsius");
	strcpy(b.meta, "{\"x\":1}");
	b.priority = PRIORITY_LOW;
	recid_reading("trawler-7", &a);
	recid_reading("trawler-7", &b);
	assert_memory_equal(a.id, b.id, RECORD_ID_LEN);

	/* A known value pins the packing forever (invariant 3). */
	recid_hex(a.id, hex);
	assert_int_equal(strlen(hex), 64);
	/* Python: sha256(u16be-len-prefixed agent, device, sensor +
	 * struct.pack(">d", ts) + struct.pack(">d", value)). */
	assert_string_equal(hex,
	    "2d69e8d2efabd9dcb62b08e8910afa78"
	    "45077a7b5b9db2418f4e3f9d2d7fdd6d");
}

static void
test_each_field_changes_the_id(void **state)
{
	struct reading base, r;

	reading_fill(&base, "hold", "temp.hold", 1717000000.0, 4.2);
	recid_reading("a", &base);

	reading_fill(&r, "hold", "temp.hold", 1717000000.0, 4.2);
	recid_reading("b", &r);
	assert_memory_not_equal(base.id, r.id, RECORD_ID_LEN);
	reading_fill(&r, "hol", "dtemp.hold", 1717000000.0, 4.2);
	recid_reading("a", &r);
	assert_memory_not_equal(base.id, r.id, RECORD_ID_LEN);
	reading_fill(&r, "hold", "temp.hold", 1717000000.5, 4.2);
	recid_reading("a", &r);
	assert_memory_not_equal(base.id, r.id, RECORD_ID_LEN);
	reading_fill(&r, "hold", "temp.hold", 1717000000.0, 4.3);
	recid_reading("a", &r);
	assert_memory_not_equal(base.id, r.id, RECORD_ID_LEN);
	/* -0.0 and 0.0 are the same reading. */
	reading_fill(&base, "hold", "temp.hold", 1, 0.0);
	reading_fill(&r, "hold", "temp.hold", 1, -0.0);
	recid_reading("a", &base);
	recid_reading("a", &r);
	assert_memory_equal(base.id, r.id, RECORD_ID_LEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_known_vector),
		cmocka_unit_test(test_reading_id_is_stable_and_distinct),
		cmocka_unit_test(test_each_field_changes_the_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
