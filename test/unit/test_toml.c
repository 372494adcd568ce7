/*
 * The TOML subset parser: every value kind, tables and arrays of tables,
 * and each rejection with its exact "NAME:LINE: message".
 */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "toml.h"

static struct toml_table *
parse_ok(const char *text)
{
	struct toml_table *t;
	char *cause = NULL;

	t = toml_parse(text, strlen(text), "t.toml", &cause);
	if (t == NULL)
		fail_msg("unexpected error: %s\n--- input:\n%s", cause, text);
	return t;
}

/* Walks a dotted path of plain table keys (test keys have no dots). */
static struct toml_value *
get(struct toml_table *t, const char *path)
{
	char buf[256], *part, *save = NULL;
	struct toml_value *v = NULL;

	snprintf(buf, sizeof buf, "%s", path);
	for (part = strtok_r(buf, ".", &save); part != NULL;
	     part = strtok_r(NULL, ".", &save)) {
		if (v != NULL) {
			assert_int_equal(v->type, TOML_TABLE);
			t = v->u.tab;
		}
		if ((v = toml_get(t, part)) == NULL)
			fail_msg("no key %s (in %s)", part, path);
	}
	return v;
}

static void
assert_str(struct toml_table *t, const char *path, const char *want)
{
	struct toml_value *v = get(t, path);

	assert_int_equal(v->type, TOML_STRING);
	assert_string_equal(v->u.s, want);
}

static void
assert_int(struct toml_table *t, const char *path, long long want)
{
	struct toml_value *v = get(t, path);

	assert_int_equal(v->type, TOML_INTEGER);
	assert_true(v->u.i == want);
}

static void
assert_float(struct toml_table *t, const char *path, double want)
{
	struct toml_value *v = get(t, path);

	assert_int_equal(v->type, TOML_FLOAT);
	assert_true(v->u.f == want);
}

static void
test_scalars(void **state)
{
	struct toml_table *t;
	struct toml_value *v;

	t = parse_ok("# comment\n"
		     "s = \"basic\"  # trailing comment\n"
		     "lit = 'C:\\path\\x'\n"
		     "i = 42\n"
		     "neg = -17\n"
		     "plus = +5\n"
		     "sep = 1_000_000\n"
		     "zero = 0\n"
		     "hex = 0xDEAD_beef\n"
		     "oct = 0o755\n"
		     "bin = 0b1101\n"
		     "max = 9223372036854775807\n"
		     "min = -9223372036854775808\n"
		     "f1 = 1.0\n"
		     "f2 = 1e3\n"
		     "f3 = -0.5\n"
		     "f4 = 6.02E+23\n"
		     "f5 = 1_000.5\n"
		     "f6 = 5e-3\n"
		     "f7 = 0e0\n"
		     "pinf = inf\n"
		     "ninf = -inf\n"
		     "nan1 = nan\n"
		     "nan2 = +nan\n"
		     "yes = true\n"
		     "no = false\n"
		     "\"quoted key\" = 1\n"
		     "'lit key' = 2\n"
		     "\"\" = 3\n"
		     "bare-key_9 = 4\n"
		     "1234 = 5\n");
	assert_str(t, "s", "basic");
	assert_str(t, "lit", "C:\\path\\x");
	assert_int(t, "i", 42);
	assert_int(t, "neg", -17);
	assert_int(t, "plus", 5);
	assert_int(t, "sep", 1000000);
	assert_int(t, "zero", 0);
	assert_int(t, "hex", 0xdeadbeef);
	assert_int(t, "oct", 0755);
	assert_int(t, "bin", 13);
	assert_int(t, "max", LLONG_MAX);
	assert_int(t, "min", LLONG_MIN);
	assert_float(t, "f1", 1.0);
	assert_float(t, "f2", 1000.0);
	assert_float(t, "f3", -0.5);
	assert_float(t, "f4", 6.02e23);
	assert_float(t, "f5", 1000.5);
	assert_float(t, "f6", 0.005);
	assert_float(t, "f7", 0.0);
	assert_float(t, "pinf", INFINITY);
	assert_float(t, "ninf", -INFINITY);
	v = get(t, "nan1");
	assert_int_equal(v->type, TOML_FLOAT);
	assert_true(isnan(v->u.f));
	assert_true(isnan(get(t, "nan2")->u.f));
	v = get(t, "yes");
	assert_int_equal(v->type, TOML_BOOL);
	assert_int_equal(v->u.b, 1);
	assert_int_equal(get(t, "no")->u.b, 0);
	assert_int(t, "quoted key", 1);
	assert_int(t, "lit key", 2);
	assert_int_equal(toml_get(t, "")->u.i, 3);
	assert_int(t, "bare-key_9", 4);
	assert_int(t, "1234", 5);
	/* Lines are those of the values; keys keep document order. */
	assert_int_equal(get(t, "s")->line, 2);
	assert_int_equal(get(t, "1234")->line, 31);
	assert_string_equal(t->items[0].key, "s");
	assert_string_equal(t->items[t->n - 1].key, "1234");
	toml_free(t);
}

static void
test_strings(void **state)
{
	struct toml_table *t;

	t = parse_ok("esc = \"b\\b t\\t n\\n f\\f r\\r q\\\" bs\\\\ e\\u00E9 "
		     "g\\U0001F600\"\n"
		     "raw = \"caf\xc3\xa9 \xe2\x82\xac\"\n"
		     "ml = \"\"\"\n"
		     "one\n"
		     "two \\\n"
		     "     three\"\"\"\n"
		     "ml2 = \"\"\"a \"quoted\" \"\"b\"\"\"\"\"\n"
		     "mll = '''\n"
		     "raw \\n 'text'\n"
		     "'''\n"
		     "mll2 = '''x'''''\n"
		     "empty = \"\"\n"
		     "empty_lit = ''\n"
		     "tab = \"a\tb\"\n"
		     "after = 1\n");
	assert_str(t, "esc",
	    "b\b t\t n\n f\f r\r q\" bs\\ e\xc3\xa9 "
	    "g\xf0\x9f\x98\x80");
	assert_str(t, "raw", "caf\xc3\xa9 \xe2\x82\xac");
	assert_str(t, "ml", "one\ntwo three");
	assert_str(t, "ml2", "a \"quoted\" \"\"b\"\"");
	assert_str(t, "mll", "raw \\n 'text'\n");
	assert_str(t, "mll2", "x''");
	assert_str(t, "empty", "");
	assert_str(t, "empty_lit", "");
	assert_str(t, "tab", "a\tb");
	/* Multi-line strings advance the line count. */
	assert_int_equal(get(t, "after")->line, 15);
	toml_free(t);
}

static void
test_arrays_and_inline_tables(void **state)
{
	struct toml_table *t;
	struct toml_value *v;

	t = parse_ok("a = [1, 2, 3]\n"
		     "empty = []\n"
		     "multi = [\n"
		     "  \"x\",   # first\n"
		     "  # a comment line\n"
		     "  \"y\",\n"
		     "]\n"
		     "nested = [[1, 2], ['a'], []]\n"
		     "mixed = [1, 'two', 3.0, true, {k = 1}]\n"
		     "it = {x = 1, y.z = \"deep\", w = {v = [1]}}\n"
		     "ie = {}\n");
	v = get(t, "a");
	assert_int_equal(v->type, TOML_ARRAY);
	assert_int_equal(v->u.arr->n, 3);
	assert_true(v->u.arr->items[2].u.i == 3);
	assert_int_equal(get(t, "empty")->u.arr->n, 0);
	v = get(t, "multi");
	assert_int_equal(v->u.arr->n, 2);
	assert_string_equal(v->u.arr->items[1].u.s, "y");
	assert_int_equal(v->u.arr->items[0].line, 4);
	assert_int_equal(v->u.arr->items[1].line, 6);
	v = get(t, "nested");
	assert_int_equal(v->u.arr->n, 3);
	assert_int_equal(v->u.arr->items[0].u.arr->n, 2);
	assert_string_equal(v->u.arr->items[1].u.arr->items[0].u.s, "a");
	v = get(t, "mixed");
	assert_int_equal(v->u.arr->n, 5);
	assert_int_equal(v->u.arr->items[4].type, TOML_TABLE);
	assert_int(t, "it.x", 1);
	assert_str(t, "it.y.z", "deep");
	assert_int_equal(get(t, "it.w.v")->u.arr->n, 1);
	assert_int_equal(get(t, "it")->u.tab->origin, TOML_INLINE);
	assert_int_equal(get(t, "it.y")->u.tab->origin, TOML_INLINE);
	assert_int_equal(get(t, "ie")->u.tab->n, 0);
	assert_string_equal(get(t, "it.w")->u.tab->name, "[it.w]");
	toml_free(t);
}

static void
test_tables(void **state)
{
	struct toml_table *t;
	struct toml_value *v;

	t = parse_ok("top = 1\n"
		     "[store]\n"
		     "max = 2\n"
		     "[cloud.retry]\n"
		     "base = 3\n"
		     "[cloud]\n"
		     "on = true\n"
		     "[ cloud . \"ttl\" ]\n"
		     "x = 4\n"
		     "[fruit]\n"
		     "apple.color = \"red\"\n"
		     "apple.taste.sweet = true\n"
		     "[fruit.apple.texture]\n"
		     "smooth = true\n"
		     "[[device]]\n"
		     "name = \"a\"\n"
		     "[device.opts]\n"
		     "k = 1\n"
		     "[[device]]\n"
		     "name = \"b\"\n"
		     "[[device.sub]]\n"
		     "n = 1\n"
		     "[[device.sub]]\n"
		     "n = 2\n"
		     "\r\n"
		     "[crlf]\r\n"
		     "k = 'v' # c\r\n");
	assert_int(t, "top", 1);
	assert_int(t, "store.max", 2);
	assert_int(t, "cloud.retry.base", 3);
	assert_true(get(t, "cloud.on")->u.b);
	assert_int(t, "cloud.ttl.x", 4);
	assert_str(t, "fruit.apple.color", "red");
	assert_true(get(t, "fruit.apple.texture.smooth")->u.b);
	assert_int_equal(get(t, "fruit.apple")->u.tab->origin, TOML_DOTTED);
	/* [cloud] came after [cloud.retry]: defined then, with its line. */
	v = get(t, "cloud");
	assert_int_equal(v->u.tab->origin, TOML_HEADER);
	assert_int_equal(v->u.tab->line, 6);
	assert_string_equal(
	    get(t, "cloud.retry")->u.tab->name, "[cloud.retry]");
	v = get(t, "device");
	assert_int_equal(v->type, TOML_ARRAY);
	assert_true(v->flags & TOML_AOT);
	assert_int_equal(v->u.arr->n, 2);
	assert_int_equal(v->u.arr->items[0].u.tab->line, 15);
	assert_string_equal(v->u.arr->items[0].u.tab->name, "[[device]]");
	assert_str(v->u.arr->items[0].u.tab, "name", "a");
	assert_int(v->u.arr->items[0].u.tab, "opts.k", 1);
	assert_str(v->u.arr->items[1].u.tab, "name", "b");
	assert_null(toml_get(v->u.arr->items[1].u.tab, "opts"));
	v = get(v->u.arr->items[1].u.tab, "sub");
	assert_int_equal(v->u.arr->n, 2);
	assert_int(v->u.arr->items[1].u.tab, "n", 2);
	assert_string_equal(v->u.arr->items[1].u.tab->name, "[[device.sub]]");
	assert_str(t, "crlf.k", "v");
	assert_int_equal(get(t, "crlf")->u.tab->line, 26);
	toml_free(t);
}

static void
test_empty_bom_and_api(void **state)
{
	struct toml_table *t;
	struct toml_value v, *p;
	char *q;

	t = parse_ok("");
	assert_int_equal(t->n, 0);
	toml_free(t);
	t = parse_ok("\xef\xbb\xbf"
		     "a = 1"); /* BOM, no final newline */
	assert_int(t, "a", 1);

	memset(&v, 0, sizeof v);
	v.type = TOML_STRING;
	v.u.s = strdup("x");
	p = toml_set(t, "b", &v);
	assert_ptr_equal(p, toml_get(t, "b"));
	v.u.s = strdup("y");
	toml_set(t, "b", &v); /* replaces, frees "x" */
	assert_str(t, "b", "y");
	assert_int_equal(t->n, 2);
	assert_null(toml_get(t, "c"));
	toml_free(t);
	toml_free(NULL);

	assert_string_equal(toml_type_name(TOML_STRING), "string");
	assert_string_equal(toml_type_name(TOML_INTEGER), "integer");
	assert_string_equal(toml_type_name(TOML_FLOAT), "float");
	assert_string_equal(toml_type_name(TOML_BOOL), "boolean");
	assert_string_equal(toml_type_name(TOML_ARRAY), "array");
	assert_string_equal(toml_type_name(TOML_TABLE), "table");

	q = toml_quote("plain_key-1", 1);
	assert_string_equal(q, "plain_key-1");
	free(q);
	q = toml_quote("a.b", 1);
	assert_string_equal(q, "\"a.b\"");
	free(q);
	q = toml_quote("q\"b\\t\tn\n\x01\x7f", 0);
	assert_string_equal(q, "\"q\\\"b\\\\t\\tn\\n\\u0001\\u007F\"");
	free(q);
}

struct bad {
	const char *text;
	const char *cause; /* exact */
};

static const struct bad bad_docs[] = {
	/* Text checks. */
	{ "a = 1\n\x01", "t.toml:2: control character U+0001 is not allowed" },
	{ "a = \"\x7f\"", "t.toml:1: control character U+007F is not allowed" },
	{ "# x\x1b\n", "t.toml:1: control character U+001B is not allowed" },
	{ "a = 1\rb = 2\n", "t.toml:1: carriage return without line feed" },
	{ "\n\na = \"\xff\"", "t.toml:3: invalid UTF-8" },
	{ "a = \"\xc0\xaf\"", "t.toml:1: invalid UTF-8" },
	{ "a = \"\xed\xa0\x80\"", "t.toml:1: invalid UTF-8" },
	{ "a = \"\xf4\x90\x80\x80\"", "t.toml:1: invalid UTF-8" },
	{ "a = \"\xe0\x80\x80\"", "t.toml:1: invalid UTF-8" },
	{ "a = \"\xe2\x82", "t.toml:1: invalid UTF-8" },
	{ "a = \"\xc3(\"", "t.toml:1: invalid UTF-8" },
	/* Lines. */
	{ "a = 1 b = 2\n",
	    "t.toml:1: expected end of line after value, "
	    "found 'b'" },
	{ "a = \"x\" \"y\"\n",
	    "t.toml:1: expected end of line after value, "
	    "found '\"'" },
	{ "a = [1]]\n",
	    "t.toml:1: expected end of line after value, "
	    "found ']'" },
	{ "[a] x = 1\n",
	    "t.toml:1: expected end of line after table header, "
	    "found 'x'" },
	{ "[a]]\n",
	    "t.toml:1: expected end of line after table header, "
	    "found ']'" },
	/* Keys. */
	{ "a\n", "t.toml:1: expected '=' after a key, found end of line" },
	{ "a", "t.toml:1: expected '=' after a key, found end of file" },
	{ "a b = 1", "t.toml:1: expected '=' after a key, found 'b'" },
	{ "= 1\n", "t.toml:1: expected a key, found '='" },
	{ "a. = 1\n", "t.toml:1: expected a key, found '='" },
	{ "\xc3\xa9 = 1\n", "t.toml:1: expected a key, found '\xc3\xa9'" },
	{ "\"\"\"k\"\"\" = 1\n",
	    "t.toml:1: multi-line strings cannot be "
	    "keys" },
	{ "\"k\n",
	    "t.toml:1: unterminated string (newline before the "
	    "closing quote)" },
	{ "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.A.B.C.D.E.F.G"
	  " = 1\n",
	    "t.toml:1: key has more than 32 parts" },
	{ "[]\n", "t.toml:1: expected a key, found ']'" },
	{ "[a\n",
	    "t.toml:1: expected ']' to close the header, found end of "
	    "line" },
	{ "[[a]\n",
	    "t.toml:1: expected ']]' to close the header, found a "
	    "single ']'" },
	{ "[[a] ]\n",
	    "t.toml:1: expected ']]' to close the header, found a "
	    "single ']'" },
	{ "[[a\n",
	    "t.toml:1: expected ']]' to close the header, found end "
	    "of line" },
	/* Values. */
	{ "a =\n", "t.toml:1: expected a value, found end of line" },
	{ "a = ", "t.toml:1: expected a value, found end of file" },
	{ "a = ,\n", "t.toml:1: expected a value, found ','" },
	{ "a = bar\n",
	    "t.toml:1: invalid value 'bar' (strings must be "
	    "quoted)" },
	{ "a = True\n",
	    "t.toml:1: invalid value 'True' (strings must be "
	    "quoted)" },
	{ "a = 1979-05-27\n", "t.toml:1: dates and times are not supported" },
	{ "a = 07:32:00\n", "t.toml:1: dates and times are not supported" },
	{ "a = 1979-05-27T07:32:00Z\n",
	    "t.toml:1: dates and times are not "
	    "supported" },
	/* Strings. */
	{ "a = \"abc", "t.toml:1: unterminated string" },
	{ "a = 'abc", "t.toml:1: unterminated string" },
	{ "a = \"abc\nb = 1\n",
	    "t.toml:1: unterminated string (newline "
	    "before the closing quote)" },
	{ "a = 'abc\n",
	    "t.toml:1: unterminated string (newline before the "
	    "closing quote)" },
	{ "a = \"\"\"abc\n\n", "t.toml:3: unterminated multi-line string" },
	{ "a = '''abc\n", "t.toml:2: unterminated multi-line string" },
	{ "a = \"\"\"x\"\"\"\"\"\"\n",
	    "t.toml:1: too many quotes closing a "
	    "multi-line string" },
	{ "a = '''x''''''\n",
	    "t.toml:1: too many quotes closing a "
	    "multi-line string" },
	{ "a = \"\\q\"\n", "t.toml:1: invalid escape '\\q'" },
	{ "a = \"\\x41\"\n", "t.toml:1: invalid escape '\\x'" },
	{ "a = \"\\ \"\n", "t.toml:1: invalid escape sequence" },
	{ "a = \"\\", "t.toml:1: invalid escape sequence" },
	{ "a = \"\\u12\"\n",
	    "t.toml:1: invalid unicode escape: \\u needs 4 "
	    "hex digits" },
	{ "a = \"\\U0000001\"\n",
	    "t.toml:1: invalid unicode escape: \\U "
	    "needs 8 hex digits" },
	{ "a = \"\\u0000\"\n",
	    "t.toml:1: \\u0000 (NUL) is not allowed in "
	    "strings" },
	{ "a = \"\\uD800\"\n",
	    "t.toml:1: \\uD800 is not a Unicode scalar "
	    "value" },
	{ "a = \"\\U00110000\"\n",
	    "t.toml:1: \\U00110000 is not a Unicode "
	    "scalar value" },
	{ "a = \"\"\"x\\  y\"\"\"\n",
	    "t.toml:1: a backslash followed by "
	    "spaces must end the line" },
	/* Numbers. */
	{ "a = 0x\n", "t.toml:1: invalid number '0x'" },
	{ "a = 0xg\n", "t.toml:1: invalid number '0xg'" },
	{ "a = 0b102\n", "t.toml:1: invalid number '0b102'" },
	{ "a = 1__0\n", "t.toml:1: invalid number '1__0'" },
	{ "a = 1_\n", "t.toml:1: invalid number '1_'" },
	{ "a = _1\n", "t.toml:1: invalid number '_1'" },
	{ "a = 1.\n", "t.toml:1: invalid number '1.'" },
	{ "a = .5\n", "t.toml:1: invalid number '.5'" },
	{ "a = 1.e5\n", "t.toml:1: invalid number '1.e5'" },
	{ "a = 1e\n", "t.toml:1: invalid number '1e'" },
	{ "a = 1e+\n", "t.toml:1: invalid number '1e+'" },
	{ "a = 1.5.2\n", "t.toml:1: invalid number '1.5.2'" },
	{ "a = 1_.5\n", "t.toml:1: invalid number '1_.5'" },
	{ "a = -\n", "t.toml:1: invalid number '-'" },
	{ "a = 012\n", "t.toml:1: leading zeros are not allowed in '012'" },
	{ "a = -01.5\n",
	    "t.toml:1: leading zeros are not allowed in "
	    "'-01.5'" },
	{ "a = +0x10\n", "t.toml:1: sign not allowed in '+0x10'" },
	{ "a = 9223372036854775808\n",
	    "t.toml:1: integer out of range "
	    "'9223372036854775808'" },
	{ "a = -9223372036854775809\n",
	    "t.toml:1: integer out of range "
	    "'-9223372036854775809'" },
	{ "a = 0x8000000000000000\n",
	    "t.toml:1: integer out of range "
	    "'0x8000000000000000'" },
	{ "a = 99999999999999999999999\n",
	    "t.toml:1: integer out of range "
	    "'99999999999999999999999'" },
	{ "a = 1e400\n", "t.toml:1: float out of range '1e400'" },
	{ "a = -1e400\n", "t.toml:1: float out of range '-1e400'" },
	/* Arrays and inline tables. */
	{ "a = [1, 2", "t.toml:1: unterminated array (opened on line 1)" },
	{ "a = [1,\n2,\n", "t.toml:3: unterminated array (opened on line 1)" },
	{ "a = [1 2]\n", "t.toml:1: expected ',' or ']' in array, found '2'" },
	{ "a = [,]\n", "t.toml:1: expected a value, found ','" },
	{ "a = [1,,2]\n", "t.toml:1: expected a value, found ','" },
	{ "a = {b = 1,}\n", "t.toml:1: trailing comma in inline table" },
	{ "a = {b = 1\n}\n",
	    "t.toml:1: unterminated inline table (it must "
	    "close on the same line)" },
	{ "a = {b = 1",
	    "t.toml:1: unterminated inline table (it must close "
	    "on the same line)" },
	{ "a = {b = 1 c = 2}\n",
	    "t.toml:1: expected ',' or '}' in inline "
	    "table, found 'c'" },
	{ "a = {b = 1, b = 2}\n",
	    "t.toml:1: duplicate key 'b' in [a] (first "
	    "on line 1)" },
	{ "a = { = 1}\n", "t.toml:1: expected a key, found '='" },
	{ "a = {b = {c = 1}, b.d = 2}\n",
	    "t.toml:1: key b.d: 'b' is an "
	    "inline table (line 1) and cannot be extended" },
	{ "a = {b = 1}\na.c = 2\n",
	    "t.toml:2: key a.c: 'a' is an inline "
	    "table (line 1) and cannot be extended" },
	{ "a = {b = 1}\n[a]\n",
	    "t.toml:2: table [a]: 'a' is an inline table "
	    "(line 1) and cannot be extended" },
	{ "a = {b = {}}\n[a.b.c]\n",
	    "t.toml:2: table [a.b.c]: 'a' is an "
	    "inline table (line 1) and cannot be extended" },
	{ "a = {b.c = 1}\n[a.b]\n",
	    "t.toml:2: table [a.b]: 'a' is an inline "
	    "table (line 1) and cannot be extended" },
	/* Redefinitions. */
	{ "a = 1\na = 2\n", "t.toml:2: duplicate key 'a' (first on line 1)" },
	{ "[t]\na = 1\n\na = 2\n",
	    "t.toml:4: duplicate key 'a' in [t] (first "
	    "on line 2)" },
	{ "a.b = 1\na.b = 2\n",
	    "t.toml:2: duplicate key 'b' in [a] (first on "
	    "line 1)" },
	{ "[a]\n[a]\n", "t.toml:2: table [a] defined twice (first on line 1)" },
	{ "[a.b]\n[a]\nx = 1\n[a]\n",
	    "t.toml:4: table [a] defined twice "
	    "(first on line 2)" },
	{ "[a]\nb = 1\n[a.b]\n",
	    "t.toml:3: table [a.b]: 'b' is already an "
	    "integer (line 2)" },
	{ "a = 1\n[a]\n",
	    "t.toml:2: table [a]: 'a' is already an integer "
	    "(line 1)" },
	{ "a = 's'\n[a.b]\n",
	    "t.toml:2: table [a.b]: 'a' is already a "
	    "string (line 1)" },
	{ "a = 1\na.b = 2\n",
	    "t.toml:2: key a.b: 'a' is already an integer "
	    "(line 1)" },
	{ "a.b = 1\n[a]\n",
	    "t.toml:2: table [a]: 'a' was defined by dotted "
	    "keys (line 1)" },
	{ "[x]\na.b = 1\n[x.a]\n",
	    "t.toml:3: table [x.a]: 'a' was defined by "
	    "dotted keys (line 2)" },
	{ "[a.b]\nz = 1\n[a]\nb.c = 1\n",
	    "t.toml:4: key b.c: 'b' was defined "
	    "by a table header (line 1)" },
	{ "[a.b.c]\n[a]\nb.d = 1\n",
	    "t.toml:3: key b.d: 'b' was defined by a "
	    "table header (line 1)" },
	{ "[[a]]\n[a]\n",
	    "t.toml:2: table [a]: 'a' is an array of tables "
	    "(line 1)" },
	{ "[[a]]\nx = 1\n[b]\na.y = 1\n", NULL },
	{ "[a]\n[[a]]\n",
	    "t.toml:2: array of tables [[a]]: 'a' was defined "
	    "by a table header (line 1)" },
	{ "a = []\n[[a]]\n",
	    "t.toml:2: array of tables [[a]]: 'a' is already "
	    "an array (line 1)" },
	{ "a = [{}]\n[a.b]\n",
	    "t.toml:2: table [a.b]: 'a' is already an "
	    "array (line 1)" },
	{ "[[a]]\nb = 1\n[a.b]\n",
	    "t.toml:3: table [a.b]: 'b' is already an "
	    "integer (line 2)" },
	{ "[[a.b]]\n[a]\nb = 1\n",
	    "t.toml:3: duplicate key 'b' in [a] (first "
	    "on line 1)" },
};

static void
test_rejections(void **state)
{
	struct toml_table *t;
	char *cause;
	size_t i;

	for (i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
		cause = NULL;
		t = toml_parse(bad_docs[i].text, strlen(bad_docs[i].text),
		    "t.toml", &cause);
		if (bad_docs[i].cause == NULL) {
			/* A control case that looks wrong but is valid. */
			if (t == NULL)
				fail_msg("case %zu: unexpected: %s", i, cause);
			toml_free(t);
			continue;
		}
		if (t != NULL)
			fail_msg("case %zu accepted: %s", i, bad_docs[i].text);
		if (strcmp(cause, bad_docs[i].cause) != 0)
			fail_msg("case %zu:\n got: %s\nwant: %s", i, cause,
			    bad_docs[i].cause);
		free(cause);
	}
}

/* Nesting is bounded: arrays, inline tables, headers and dotted keys. */
static void
test_depth_limit(void **state)
{
	struct toml_table *t;
	char buf[512], *cause;
	int i, n;

	for (n = 32; n <= 33; n++) {
		i = snprintf(buf, sizeof buf, "a = ");
		memset(buf + i, '[', n);
		memset(buf + i + n, ']', n);
		buf[i + 2 * n] = '\0';
		cause = NULL;
		t = toml_parse(buf, strlen(buf), "d.toml", &cause);
		if (n == 32) {
			assert_non_null(t);
			toml_free(t);
		} else {
			assert_null(t);
			assert_string_equal(
			    cause, "d.toml:1: nesting deeper than 32 levels");
			free(cause);
		}
	}

	/* Inline tables under two-part dotted keys: two levels each. */
	buf[0] = '\0';
	for (i = 0; i < 17; i++)
		strcat(buf, "{a.b = ");
	strcat(buf, "1");
	for (i = 0; i < 17; i++)
		strcat(buf, "}");
	memmove(buf + 4, buf, strlen(buf) + 1);
	memcpy(buf, "x = ", 4);
	cause = NULL;
	assert_null(toml_parse(buf, strlen(buf), "d.toml", &cause));
	assert_string_equal(cause, "d.toml:1: nesting deeper than 32 levels");
	free(cause);

	/* 17 levels of [[a.a...]]: each array of tables is two levels. */
	buf[0] = '\0';
	for (i = 1; i <= 17; i++) {
		strcat(buf, "[[a");
		for (n = 1; n < i; n++)
			strcat(buf, ".a");
		strcat(buf, "]]\n");
	}
	cause = NULL;
	assert_null(toml_parse(buf, strlen(buf), "d.toml", &cause));
	assert_string_equal(cause, "d.toml:17: nesting deeper than 32 levels");
	free(cause);
}

/* Lookups are linear, so a table holds at most 4096 keys. */
static void
test_key_limit(void **state)
{
	struct toml_table *t;
	char *buf, *cause;
	size_t i, len = 0, cap = 4097 * 32;
	const char *prefix[] = { "", "[s]\n", "[[a]]\n" };
	const char *want[] = {
		"k.toml:4097: too many keys at top level (at most 4096)",
		"k.toml:4098: too many keys in [s] (at most 4096)",
		"k.toml:4098: too many keys in [[a]] (at most 4096)",
	};
	size_t p;

	buf = malloc(cap);
	for (p = 0; p < 3; p++) {
		len = snprintf(buf, cap, "%s", prefix[p]);
		for (i = 0; i < 4096; i++)
			len += snprintf(buf + len, cap - len, "k%zu = 1\n", i);
		t = toml_parse(buf, len, "k.toml", &cause);
		assert_non_null(t);
		assert_int_equal(p == 0 ? t->n : 1, p == 0 ? 4096 : 1);
		toml_free(t);
		len += snprintf(buf + len, cap - len, "x.y = 1\n");
		cause = NULL;
		assert_null(toml_parse(buf, len, "k.toml", &cause));
		assert_string_equal(cause, want[p]);
		free(cause);
	}
	/* Arrays, and arrays of tables, are bounded the same way. */
	len = snprintf(buf, cap, "a = [");
	for (i = 0; i < 4097; i++)
		len += snprintf(buf + len, cap - len, "%zu,\n", i);
	len += snprintf(buf + len, cap - len, "]\n");
	cause = NULL;
	assert_null(toml_parse(buf, len, "k.toml", &cause));
	assert_string_equal(
	    cause, "k.toml:4097: more than 4096 elements in an array");
	free(cause);
	len = 0;
	for (i = 0; i < 4097; i++)
		len += snprintf(buf + len, cap - len, "[[d]]\n");
	cause = NULL;
	assert_null(toml_parse(buf, len, "k.toml", &cause));
	assert_string_equal(
	    cause, "k.toml:4097: more than 4096 elements in an array");
	free(cause);

	/* Headers count too. */
	len = 0;
	for (i = 0; i < 4097; i++)
		len += snprintf(buf + len, cap - len, "[t%zu]\n", i);
	cause = NULL;
	assert_null(toml_parse(buf, len, "k.toml", &cause));
	assert_string_equal(
	    cause, "k.toml:4097: too many keys at top level (at most 4096)");
	free(cause);
	free(buf);
}

/*
 * Every prefix of a valid document, in a buffer holding exactly those
 * bytes (no NUL after them), parses or fails cleanly; under ASan this
 * shows the scanner never reads past the end.
 */
static void
test_truncations(void **state)
{
	static const char doc[] =
	    "[a]\nk = \"v\\u00e9\" # c\nn = [1, 2.5, {x = 'y'}]\n"
	    "m = \"\"\"\nline\\\n  x\"\"\"\n[[b.c]]\nh = 0x1f\nf = -1e5\n"
	    "t = true\n";
	struct toml_table *t;
	char *buf, *cause;
	size_t len, ok = 0;

	for (len = 0; len < sizeof doc; len++) {
		buf = malloc(len > 0 ? len : 1);
		memcpy(buf, doc, len);
		cause = NULL;
		if ((t = toml_parse(buf, len, "p.toml", &cause)) != NULL) {
			ok++;
			toml_free(t);
		} else
			assert_true(strncmp(cause, "p.toml:", 7) == 0);
		free(cause);
		free(buf);
	}
	/* The whole document and a few cut points are valid. */
	assert_true(ok > 5);
	t = toml_parse(doc, sizeof doc - 1, "p.toml", NULL);
	assert_non_null(t);
	toml_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_arrays_and_inline_tables),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_empty_bom_and_api),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_key_limit),
		cmocka_unit_test(test_truncations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
