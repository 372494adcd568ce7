/*
 * The privacy firewall: sensor globs (deny, allow), quantizing, the meta
 * rewrite (redact, hash) against values computed independently (RFC 4231
 * and Python's hmac module), counters, and the config checks of [privacy].
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "privacy.h"

#define KEY "test-key-0123456789abcdef"
/* Python: hmac.new(KEY, b"trawler-7", hashlib.sha256).hexdigest() */
#define HMAC_TRAWLER \
	"7167131c15b0fe36d27765008ec3c958825224e835e495f414b61ad2f273a092"
/* ... b"42" (a number is hashed as its JSON text) */
#define HMAC_42 \
	"9d344095bb990a51d9b9e8b5c0bb84050da03d3a10ec54fb31229cc472a95bc4"
/* ... b"bob" */
#define HMAC_BOB \
	"45a1864a9017e7bed9db5176ba33ebadbc504bff04ed3b1863003c106a37cc33"

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

static struct privacy *
firewall(const char *text)
{
	struct config *cfg = load(text);
	struct privacy *p;
	char *cause = NULL;

	p = privacy_new(cfg, &cause);
	assert_non_null(p);
	/* The firewall keeps nothing of the config. */
	config_free(cfg);
	return p;
}

static int
admit(struct privacy *p, const char *sensor, double value, const char *meta,
    struct reading *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->sensor, sizeof out->sensor, "%s", sensor);
	snprintf(out->meta, sizeof out->meta, "%s", meta);
	out->value = value;
	return privacy_admit(p, out);
}

static unsigned long long
count_of(struct privacy *p, const char *label)
{
	struct privacy_rule_stat st;
	size_t i;

	for (i = 0; privacy_rule_stat(p, i, &st) == 0; i++) {
		if (strcmp(st.label, label) == 0)
			return st.count;
	}
	fail_msg("no rule %s", label);
	return 0;
}

static void
test_deny_globs(void **state)
{
	struct privacy *p;
	struct privacy_stats st;
	struct reading r;

	p = firewall("[privacy]\n"
		     "deny = [\"gps.*\", \"cam?.raw\", \"[xy].secret\"]\n");
	assert_int_equal(admit(p, "gps.lat", 1, "", &r), -1);
	assert_int_equal(admit(p, "gps.", 1, "", &r), -1);
	assert_int_equal(admit(p, "gps.a/b", 1, "", &r), -1);
	assert_int_equal(admit(p, "gpsx", 1, "", &r), 0);
	assert_int_equal(admit(p, "x.gps.lat", 1, "", &r), 0);
	assert_int_equal(admit(p, "cam1.raw", 1, "", &r), -1);
	assert_int_equal(admit(p, "cam12.raw", 1, "", &r), 0);
	assert_int_equal(admit(p, "y.secret", 1, "", &r), -1);
	assert_int_equal(admit(p, "z.secret", 1, "", &r), 0);
	assert_int_equal(admit(p, "temp.hold", 4.5, "", &r), 0);
	assert_true(r.value == 4.5);
	assert_int_equal(count_of(p, "deny:gps.*"), 3);
	assert_int_equal(count_of(p, "deny:cam?.raw"), 1);
	assert_int_equal(count_of(p, "deny:[xy].secret"), 1);
	privacy_stats(p, &st);
	assert_int_equal(st.dropped, 5);
	assert_int_equal(st.rules, 3);
	assert_int_equal(st.enabled, 1);
	privacy_free(p);
}

static void
test_allow_list(void **state)
{
	struct privacy *p;
	struct reading r;

	p = firewall("[privacy]\n"
		     "allow = [\"temp.*\", \"hum.?\"]\n"
		     "deny = [\"temp.secret\"]\n");
	assert_int_equal(admit(p, "temp.hold", 1, "", &r), 0);
	assert_int_equal(admit(p, "hum.1", 1, "", &r), 0);
	assert_int_equal(admit(p, "hum.12", 1, "", &r), -1);
	assert_int_equal(admit(p, "gps.lat", 1, "", &r), -1);
	/* deny wins over allow */
	assert_int_equal(admit(p, "temp.secret", 1, "", &r), -1);
	assert_int_equal(count_of(p, "allow"), 2);
	assert_int_equal(count_of(p, "deny:temp.secret"), 1);
	privacy_free(p);
}

static void
test_disabled_passes_everything(void **state)
{
	struct privacy *p;
	struct reading r;

	p = firewall("[privacy]\nenabled = false\ndeny = [\"*\"]\n"
		     "redact_meta = [\"operator\"]\n");
	assert_int_equal(
	    admit(p, "gps.lat", 1, "{\"operator\":\"bob\"}", &r), 0);
	assert_string_equal(r.meta, "{\"operator\":\"bob\"}");
	assert_int_equal(count_of(p, "deny:*"), 0);
	privacy_free(p);
}

static void
test_quantize(void **state)
{
	struct privacy *p;
	struct reading r;

	/* Exactly the double nearest to the decimal result. */
	assert_true(privacy_quantize(51.50731, 0.01) == 51.51);
	assert_true(privacy_quantize(0.3, 0.1) == 0.3);
	assert_true(privacy_quantize(-0.1349, 0.01) == -0.13);
	assert_true(privacy_quantize(12.5, 5) == 15);
	assert_true(privacy_quantize(12.4, 5) == 10);
	assert_true(privacy_quantize(7, 0.25) == 7);
	assert_true(privacy_quantize(7.13, 0.25) == 7.25);
	/* Beyond 2^53 steps rounding means nothing: unchanged. */
	assert_true(privacy_quantize(1e300, 1e-12) == 1e300);

	p = firewall("[privacy]\n"
		     "quantize = [{ sensor = \"gps.*\", step = 0.01 },\n"
		     "            { sensor = \"alt\", step = 5 },\n"
		     "            { sensor = \"gps.lat\", step = 1 }]\n");
	assert_int_equal(admit(p, "gps.lat", 51.50731, "", &r), 0);
	assert_true(r.value == 51.51); /* the first match wins */
	assert_int_equal(admit(p, "gps.lon", -1.1234, "", &r), 0);
	assert_true(r.value == -1.12);
	assert_int_equal(admit(p, "alt", 7.4, "", &r), 0);
	assert_true(r.value == 5);
	assert_int_equal(admit(p, "temp", 7.4, "", &r), 0);
	assert_true(r.value == 7.4);
	assert_int_equal(count_of(p, "quantize:gps.*"), 2);
	assert_int_equal(count_of(p, "quantize:alt"), 1);
	assert_int_equal(count_of(p, "quantize:gps.lat"), 0);
	privacy_free(p);
}

static void
test_hmac_vectors(void **state)
{
	char hex[65];

	/* RFC 4231, test case 2. */
	assert_int_equal(privacy_hmac_hex("Jefe", 4,
			     "what do ya want for nothing?", 28, hex),
	    0);
	assert_string_equal(hex,
	    "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	assert_int_equal(
	    privacy_hmac_hex(KEY, strlen(KEY), "trawler-7", 9, hex), 0);
	assert_string_equal(hex, HMAC_TRAWLER);
}

static void
test_meta_redact_and_hash(void **state)
{
	struct privacy *p;
	struct privacy_stats st;
	struct reading r;

	p = firewall("[privacy]\n"
		     "redact_meta = [\"operator\", \"crew.*\"]\n"
		     "hash_meta = [\"vessel\", \"code\"]\n"
		     "hmac_key = \"" KEY "\"\n");
	assert_int_equal(admit(p, "temp", 1,
			     "{\"operator\":\"bob\",\"vessel\":\"trawler-7\","
			     "\"depth\":12,\"crew.cook\":\"al\"}",
			     &r),
	    0);
	assert_string_equal(
	    r.meta, "{\"vessel\":\"" HMAC_TRAWLER "\",\"depth\":12}");
	/* Nothing of the old text survives in the slot. */
	assert_null(memmem(r.meta, sizeof r.meta, "bob", 3));

	/* A number is hashed as its JSON text; escapes are decoded first. */
	assert_int_equal(
	    admit(p, "temp", 1,
		" { \"code\" : 42 , \"ve\\u0073sel\" : \"b\\u006fb\" } ", &r),
	    0);
	assert_string_equal(r.meta,
	    "{\"code\":\"" HMAC_42 "\",\"ve\\u0073sel\":\"" HMAC_BOB "\"}");

	/* Keys are found at any depth, escaped or not. */
	assert_int_equal(admit(p, "temp", 1,
			     "{\"a\":{\"\\u006fperator\":\"bob\",\"b\":[{"
			     "\"operator\":\"carl\"},true,null,-1.5e3]}}",
			     &r),
	    0);
	assert_string_equal(r.meta, "{\"a\":{\"b\":[{},true,null,-1.5e3]}}");

	/* Only redacted keys: no meta at all. */
	assert_int_equal(admit(p, "temp", 1, "{\"operator\":\"bob\"}", &r), 0);
	assert_string_equal(r.meta, "");
	/* No meta rule matched: the object is kept (compacted). */
	assert_int_equal(admit(p, "temp", 1, "{\"x\": \"y\"}", &r), 0);
	assert_string_equal(r.meta, "{\"x\":\"y\"}");

	assert_int_equal(count_of(p, "redact:operator"), 3);
	assert_int_equal(count_of(p, "redact:crew.*"), 1);
	assert_int_equal(count_of(p, "hash:vessel"), 2);
	assert_int_equal(count_of(p, "hash:code"), 1);
	privacy_stats(p, &st);
	assert_int_equal(st.meta_invalid, 0);
	privacy_free(p);
}

static void
test_meta_invalid_is_removed(void **state)
{
	static const char *const bad[] = { "{\"operator\":", "[1,2]",
		"{\"a\":1} x", "{\"o\\u0000perator\":\"bob\"}", "{\"a\":1,}",
		"{\"a\":01x}", "{\"a\":\"\\ud800\"}", "{\"a\":tru}", "{'a':1}",
		"{\"a\":\"\\q\"}", NULL };
	struct privacy *p;
	struct privacy_stats st;
	struct reading r;
	size_t i;

	p = firewall("[privacy]\nredact_meta = [\"operator\"]\n");
	for (i = 0; bad[i] != NULL; i++) {
		assert_int_equal(admit(p, "temp", 1, bad[i], &r), 0);
		if (r.meta[0] != '\0')
			fail_msg("kept %s as %s", bad[i], r.meta);
	}
	privacy_stats(p, &st);
	assert_int_equal(st.meta_invalid, i);
	assert_int_equal(count_of(p, "redact:operator"), 0);

	/* Nesting deeper than the scanner follows is refused too. */
	assert_int_equal(
	    admit(p, "temp", 1,
		"{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}", &r),
	    0);
	assert_string_equal(r.meta, "");
	privacy_free(p);
}

static void
test_meta_hash_overflow_removes_key(void **state)
{
	struct privacy *p;
	struct privacy_stats st;
	struct reading r;
	char meta[READING_META_MAX];

	p = firewall("[privacy]\nhash_meta = [\"h*\"]\n"
		     "hmac_key = \"" KEY "\"\n");
	/* Three 64-digit hashes cannot fit in 191 bytes. */
	snprintf(meta, sizeof meta,
	    "{\"h1\":\"a\",\"h2\":\"b\",\"h3\":\"c\",\"keep\":1}");
	assert_int_equal(admit(p, "temp", 1, meta, &r), 0);
	assert_string_equal(r.meta, "{\"keep\":1}");
	privacy_stats(p, &st);
	assert_int_equal(st.hash_overflow, 1);
	assert_int_equal(count_of(p, "hash:h*"), 1);
	privacy_free(p);
}

static void
test_counters_carry_over(void **state)
{
	struct privacy *a, *b;
	struct privacy_stats st;
	struct reading r;

	a = firewall("[privacy]\ndeny = [\"gps.*\", \"cam.*\"]\n");
	admit(a, "gps.lat", 1, "", &r);
	admit(a, "cam.1", 1, "", &r);
	admit(a, "cam.2", 1, "", &r);
	b = firewall("[privacy]\ndeny = [\"cam.*\", \"mic.*\"]\n");
	privacy_carry(b, a);
	privacy_free(a);
	assert_int_equal(count_of(b, "deny:cam.*"), 2);
	assert_int_equal(count_of(b, "deny:mic.*"), 0);
	privacy_stats(b, &st);
	assert_int_equal(st.dropped, 3);
	privacy_free(b);
}

static void
test_config_checks(void **state)
{
	static const struct {
		const char *text;
		const char *error;
	} cases[] = {
		{ "[privacy]\nhash_meta = [\"v\"]\n",
		    "t.toml:2: [privacy] hmac_key: hash_meta needs a key of "
		    "at least 16 bytes" },
		{ "[privacy]\nhash_meta = [\"v\"]\nhmac_key = \"short\"\n",
		    "t.toml:3: [privacy] hmac_key: hash_meta needs a key of "
		    "at least 16 bytes" },
		{ "[privacy]\nquantize = [1]\n",
		    "t.toml:2: [privacy] quantize: element 1: expected a table "
		    "{ sensor = \"glob\", step = N }, got integer" },
		{ "[privacy]\nquantize = [{ sensor = \"a\" }]\n",
		    "t.toml:2: [privacy] quantize[1]: missing required key "
		    "'step'" },
		{ "[privacy]\nquantize = [{ sensor = \"a\", step = 0 }]\n",
		    "t.toml:2: [privacy] quantize[1] step: 0 is out of range "
		    "(1e-12..1e+12)" },
		{ "[privacy]\nquantize = [{ sensor = \"a b\", step = 1 }]\n",
		    "t.toml:2: [privacy] quantize[1] sensor: 'a b' must be 1 to "
		    "63 characters of A-Z a-z 0-9 _ . - : / * ? [ ] !" },
		{ "[privacy]\nquantize = [{ sensor = \"a\", step = 1, x = 2 }]\n",
		    "t.toml:2: unknown key 'x' in [privacy] quantize[1]" },
	};
	struct config *cfg;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cfg = config_load_text(
		    cases[i].text, strlen(cases[i].text), "t.toml", NULL);
		assert_non_null(cfg);
		config_finish(cfg);
		if (cfg->nerrors != 1 ||
		    strcmp(cfg->errors[0], cases[i].error) != 0)
			fail_msg("case %zu: %zu errors, first: %s", i,
			    cfg->nerrors,
			    cfg->nerrors > 0 ? cfg->errors[0] : "(none)");
		config_free(cfg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deny_globs),
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_disabled_passes_everything),
		cmocka_unit_test(test_quantize),
		cmocka_unit_test(test_hmac_vectors),
		cmocka_unit_test(test_meta_redact_and_hash),
		cmocka_unit_test(test_meta_invalid_is_removed),
		cmocka_unit_test(test_meta_hash_overflow_removes_key),
		cmocka_unit_test(test_counters_carry_over),
		cmocka_unit_test(test_config_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
