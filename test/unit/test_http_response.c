/*
 * The response parser on exact inputs: every case is fed whole, one byte
 * at a time and split at every offset, and must come out the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_response.h"

/* One parse, fed in pieces of step bytes (0: whole, split at split). */
struct outcome {
	enum http_response_result res;
	size_t consumed;
	int status;
	char error[160];
	char *body;
	size_t body_len;
	int keep_alive;
};

static struct http_response *
parse_one(const char *in, size_t len, const struct http_response_limits *l,
    int head, int eof, size_t step, size_t split, struct outcome *o)
{
	struct http_response *r = http_response_new(l);
	enum http_response_result res = HTTP_RESPONSE_NEED_MORE;
	size_t off = 0, n, used;
	const unsigned char *body;

	http_response_reset(r, head);
	while (off < len && res == HTTP_RESPONSE_NEED_MORE) {
		if (step > 0)
			n = step;
		else if (split > 0 && off < split)
			n = split - off;
		else
			n = len - off;
		if (n > len - off)
			n = len - off;
		res = http_response_feed(r, in + off, n, &used);
		assert_true(used <= n);
		if (res == HTTP_RESPONSE_NEED_MORE)
			assert_int_equal(used, n);
		off += used;
	}
	if (res == HTTP_RESPONSE_NEED_MORE && eof)
		res = http_response_eof(r);
	o->res = res;
	o->consumed = off;
	o->status = http_response_status(r);
	snprintf(o->error, sizeof o->error, "%s", http_response_error(r));
	body = http_response_body(r, &o->body_len);
	o->body = malloc(o->body_len + 1);
	memcpy(o->body, body, o->body_len);
	o->body[o->body_len] = '\0';
	assert_int_equal(body[o->body_len], '\0');
	o->keep_alive = http_response_keep_alive(r);
	return r;
}

static void
same_outcome(const struct outcome *a, const struct outcome *b)
{
	assert_int_equal(a->res, b->res);
	/* Where an error stops reading is not part of the contract. */
	if (a->res != HTTP_RESPONSE_ERROR)
		assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->status, b->status);
	assert_string_equal(a->error, b->error);
	if (a->res == HTTP_RESPONSE_ERROR)
		return;
	assert_int_equal(a->body_len, b->body_len);
	assert_memory_equal(a->body, b->body, a->body_len);
	assert_int_equal(a->keep_alive, b->keep_alive);
}

/*
 * Parses in every way and checks they agree; returns the whole-input
 * parser for the caller's own checks.
 */
static struct http_response *
parse_all(const char *in, size_t len, const struct http_response_limits *l,
    int head, int eof, struct outcome *whole)
{
	struct http_response *r, *x;
	struct outcome o;
	size_t split;

	r = parse_one(in, len, l, head, eof, 0, 0, whole);
	x = parse_one(in, len, l, head, eof, 1, 0, &o);
	same_outcome(whole, &o);
	free(o.body);
	http_response_free(x);
	for (split = 1; split < len; split++) {
		x = parse_one(in, len, l, head, eof, 0, split, &o);
		same_outcome(whole, &o);
		free(o.body);
		http_response_free(x);
	}
	return r;
}

#define PARSE(s, l, head, eof, o) parse_all(s, sizeof(s) - 1, l, head, eof, o)

/* Input that must fail with exactly this message. */
static void
expect_error(const char *in, const struct http_response_limits *l, int eof,
    const char *msg)
{
	struct outcome o;
	struct http_response *r;

	r = parse_all(in, strlen(in), l, 0, eof, &o);
	assert_int_equal(o.res, HTTP_RESPONSE_ERROR);
	assert_string_equal(o.error, msg);
	/* An error is final until the next reset. */
	{
		size_t used;

		assert_int_equal(
		    http_response_feed(r, "HTTP/1.1 200 OK\r\n", 17, &used),
		    HTTP_RESPONSE_ERROR);
		assert_int_equal(used, 0);
	}
	free(o.body);
	http_response_free(r);
}

static void
test_content_length(void **state)
{
	static const char in[] = "HTTP/1.1 200 OK\r\n"
				 "Content-Type: application/json\r\n"
				 "content-length: 11\r\nX-Empty:\r\n"
				 "\r\n{\"ok\":true}";
	struct outcome o;
	struct http_response *r = PARSE(in, NULL, 0, 0, &o);
	const char *name, *value;
	int trailer;

	assert_int_equal(o.res, HTTP_RESPONSE_DONE);
	assert_int_equal(o.consumed, sizeof in - 1);
	assert_int_equal(o.status, 200);
	assert_string_equal(http_response_reason(r), "OK");
	assert_int_equal(http_response_version(r), 11);
	assert_string_equal(o.body, "{\"ok\":true}");
	assert_int_equal(http_response_content_length(r), 11);
	assert_false(http_response_chunked(r));
	assert_true(o.keep_alive);
	assert_string_equal(
	    http_response_header(r, "CONTENT-TYPE"), "application/json");
	assert_string_equal(http_response_header(r, "Content-Length"), "11");
	assert_string_equal(http_response_header(r, "x-empty"), "");
	assert_null(http_response_header(r, "Content"));
	assert_int_equal(http_response_field_count(r), 3);
	assert_int_equal(http_response_field(r, 1, &name, &value, &trailer), 0);
	assert_string_equal(name, "content-length");
	assert_string_equal(value, "11");
	assert_false(trailer);
	assert_int_equal(
	    http_response_field(r, 3, &name, &value, &trailer), -1);
	assert_int_equal(http_response_retry_after_s(r, 0), -1);
	free(o.body);

	/* The same parser serves the next response after a reset. */
	http_response_reset(r, 0);
	{
		static const char next[] = "HTTP/1.1 201 Created\r\n"
					   "Content-Length: 2\r\n\r\nhi";
		size_t used;

		assert_int_equal(
		    http_response_feed(r, next, sizeof next - 1, &used),
		    HTTP_RESPONSE_DONE);
		assert_int_equal(http_response_status(r), 201);
		assert_string_equal(
		    (const char *)http_response_body(r, NULL), "hi");
		assert_null(http_response_header(r, "Content-Type"));
		/* Done is final too, and takes nothing more. */
		assert_int_equal(
		    http_response_feed(r, "x", 1, &used), HTTP_RESPONSE_DONE);
		assert_int_equal(used, 0);
	}
	http_response_free(r);
}

static void
test_chunked_extensions_trailers(void **state)
{
	static const char in[] = "HTTP/1.1 200 OK\r\n"
				 "Transfer-Encoding: Chunked\r\n"
				 "Trailer: X-Checksum\r\n\r\n"
				 "5;name=value\r\nhello\r\n"
				 "7 ; a=1;b=\"q\"\r\n, world\r\n"
				 "A\r\n0123456789\r\n000\r\nX-Checksum: abc\r\n"
				 "X-Other:  two words \r\n\r\n";
	struct outcome o;
	struct http_response *r = PARSE(in, NULL, 0, 0, &o);

	assert_int_equal(o.res, HTTP_RESPONSE_DONE);
	assert_int_equal(o.consumed, sizeof in - 1);
	assert_string_equal(o.body, "hello, world0123456789");
	assert_int_equal(o.body_len, 22);
	assert_true(http_response_chunked(r));
	assert_int_equal(http_response_content_length(r), -1);
	assert_true(o.keep_alive);
	assert_string_equal(http_response_trailer(r, "x-checksum"), "abc");
	assert_string_equal(http_response_trailer(r, "X-Other"), "two words");
	assert_null(http_response_header(r, "X-Checksum"));
	assert_null(http_response_trailer(r, "Trailer"));
	assert_int_equal(http_response_field_count(r), 4);
	free(o.body);
	http_response_free(r);
}

static void
test_chunked_without_trailers_then_next(void **state)
{
	/* A second response follows at once: it must stay unconsumed. */
	static const char in[] = "HTTP/1.1 200 OK\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n"
				 "3\r\nabc\r\n0\r\n\r\n"
				 "HTTP/1.1 204 No Content\r\n\r\n";
	struct outcome o;
	struct http_response *r = PARSE(in, NULL, 0, 0, &o);

	assert_int_equal(o.res, HTTP_RESPONSE_DONE);
	assert_int_equal(o.consumed, sizeof in - 1 - 27);
	assert_string_equal(o.body, "abc");
	free(o.body);
	http_response_free(r);
}

static void
test_keep_alive_rules(void **state)
{
	static const struct {
		const char *in;
		int keep;
	} cases[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1 },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\n"
		  "Content-Length: 0\r\n\r\n",
		    0 },
		{ "HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\n"
		  "Content-Length: 0\r\n\r\n",
		    0 },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0 },
		{ "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
		  "Content-Length: 0\r\n\r\n",
		    1 },
		{ "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"
		  "Content-Length: 0\r\n\r\n",
		    1 },
	};
	struct outcome o;
	struct http_response *r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = parse_all(cases[i].in, strlen(cases[i].in), NULL, 0, 0, &o);
		assert_int_equal(o.res, HTTP_RESPONSE_DONE);
		assert_int_equal(o.keep_alive, cases[i].keep);
		free(o.body);
		http_response_free(r);
	}
}

static void
test_body_until_close(void **state)
{
	static const char in[] =
	    "HTTP/1.0 200 ok\r\n"
	    "Content-type: text/html\r\n\r\n<HTML>body</HTML>\r\n";
	struct outcome o;
	struct http_response *r = PARSE(in, NULL, 0, 1, &o);

	assert_int_equal(o.res, HTTP_RESPONSE_DONE);
	assert_string_equal(o.body, "<HTML>body</HTML>\r\n");
	assert_false(o.keep_alive);
	free(o.body);
	http_response_free(r);

	/* Without the close it is not over. */
	r = PARSE(in, NULL, 0, 0, &o);
	assert_int_equal(o.res, HTTP_RESPONSE_NEED_MORE);
	assert_false(o.keep_alive);
	free(o.body);
	http_response_free(r);
}

static void
test_no_body_responses(void **state)
{
	static const char r204[] = "HTTP/1.1 204 No Content\r\n"
				   "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
				   "HTTP/1.1 200 OK\r\n";
	static const char r304[] = "HTTP/1.1 304 Not Modified\r\n"
				   "Content-Length: 100\r\n\r\n";
	static const char head[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Length: 1000\r\n\r\n";
	static const char head_chunked[] = "HTTP/1.1 200 OK\r\n"
					   "Transfer-Encoding: chunked\r\n\r\n";
	struct outcome o;
	struct http_response *r;

	r = PARSE(r204, NULL, 0, 0, &o);
	assert_int_equal(o.res, HTTP_RESPONSE_DONE);
	assert_int_equal(o.status, 204);
	assert_int_equal(o.body_len, 0);
	assert_int_equal(o.consumed, sizeof r204 - 1 - 17);
	assert_true(o.keep_alive);
	free(o.body);
	http_response_free(r);

	r = PARSE(r304, NULL, 0, 0, &o);
	assert_int_equal(o.res, HTTP_RESPONSE_DONE);
	assert_int_equal(o.body_len, 0);
	free(o.body);
	http_response_free(r);

	r = PARSE(head, NULL, 1, 0, &o);
	assert_int_equal(o.res, HTTP_RESPONSE_DONE);
	assert_int_equal(o.body_len, 0);
	assert_true(o.keep_alive);
	free(o.body);
	http_response_free(r);

	r = PARSE(head_chunked, NULL, 1, 0, &o);
	assert_int_equal(o.res, HTTP_RESPONSE_DONE);
	free(o.body);
	http_response_free(r);

	/* Without HEAD the same bytes wait for a body. */
	r = PARSE(head, NULL, 0, 0, &o);
	assert_int_equal(o.res, HTTP_RESPONSE_NEED_MORE);
	free(o.body);
	http_response_free(r);
}

static void
test_interim_responses(void **state)
{
	static const char in[] =
	    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
	    "Link: </style.css>; rel=preload\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct outcome o;
	struct http_response *r = PARSE(in, NULL, 0, 0, &o);

	assert_int_equal(o.res, HTTP_RESPONSE_DONE);
	assert_int_equal(o.status, 200);
	assert_int_equal(http_response_interim_count(r), 2);
	assert_null(http_response_header(r, "Link"));
	assert_string_equal(o.body, "ok");
	free(o.body);
	http_response_free(r);
}

static void
test_lenient_forms(void **state)
{
	/* Bare LF endings, obs-fold, no reason phrase, a stray CRLF. */
	static const char in[] = "\r\nHTTP/1.1 503\nX-Long: first\n"
				 " \tsecond  \n\tthird\n"
				 "Content-Length: 3, 3\nContent-Length: 3\n"
				 "\nabc";
	struct outcome o;
	struct http_response *r = PARSE(in, NULL, 0, 0, &o);

	assert_int_equal(o.res, HTTP_RESPONSE_DONE);
	assert_int_equal(o.status, 503);
	assert_string_equal(http_response_reason(r), "");
	assert_string_equal(
	    http_response_header(r, "X-Long"), "first second third");
	assert_string_equal(o.body, "abc");
	free(o.body);
	http_response_free(r);
}

static void
test_retry_after(void **state)
{
	static const char secs[] =
	    "HTTP/1.1 429 Too Many Requests\r\n"
	    "Retry-After: 120\r\nContent-Length: 0\r\n\r\n";
	static const char date[] =
	    "HTTP/1.1 503 Busy\r\n"
	    "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
	    "Content-Length: 0\r\n\r\n";
	const time_t when = 784111777; /* that date */
	struct outcome o;
	struct http_response *r;
	time_t t;

	r = PARSE(secs, NULL, 0, 0, &o);
	assert_int_equal(o.status, 429);
	assert_int_equal(http_response_retry_after_s(r, when), 120);
	free(o.body);
	http_response_free(r);

	r = PARSE(date, NULL, 0, 0, &o);
	assert_int_equal(http_response_retry_after_s(r, when - 30), 30);
	assert_int_equal(http_response_retry_after_s(r, when + 30), 0);
	free(o.body);
	http_response_free(r);

	/* The three date forms RFC 9110 makes recipients accept. */
	assert_int_equal(
	    http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", when, &t), 0);
	assert_int_equal(t, when);
	assert_int_equal(
	    http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", when, &t), 0);
	assert_int_equal(t, when);
	assert_int_equal(
	    http_date_parse("Sun Nov  6 08:49:37 1994", when, &t), 0);
	assert_int_equal(t, when);
	/* Two-digit years: more than 50 years ahead means last century. */
	assert_int_equal(
	    http_date_parse("Tuesday, 01-Jan-80 00:00:00 GMT", 1700000000, &t),
	    0);
	assert_int_equal(t, 315532800);
	/* A 32-bit time_t (armhf glibc without _TIME_BITS=64) ends in 2038. */
	if (sizeof(time_t) > 4) {
		assert_int_equal(
		    http_date_parse(
			"Monday, 02-Jan-51 00:00:00 GMT", 1700000000, &t),
		    0);
		assert_int_equal(t, 2556230400LL);
	}

	assert_int_equal(http_retry_after_parse("0", when), 0);
	assert_int_equal(http_retry_after_parse(" 7 ", when), 7);
	assert_int_equal(
	    http_retry_after_parse("99999999999999999999", when), 2147483647LL);
	assert_int_equal(http_retry_after_parse("-5", when), -1);
	assert_int_equal(http_retry_after_parse("12s", when), -1);
	assert_int_equal(http_retry_after_parse("", when), -1);
	assert_int_equal(http_retry_after_parse("soon", when), -1);
	assert_int_equal(
	    http_retry_after_parse("Sun, 06 Nov 1994 08:49:37 UTC", when), -1);
	assert_int_equal(
	    http_retry_after_parse("Sun, 32 Nov 1994 08:49:37 GMT", when), -1);
	assert_int_equal(
	    http_retry_after_parse("Sun, 06 Nov 1994 24:49:37 GMT", when), -1);
	assert_int_equal(http_retry_after_parse(
			     "Sun, 06 Nov 1994 08:49:37 GMT trailing", when),
	    -1);
}

static void
test_limits(void **state)
{
	struct http_response_limits small = { 64, 3, 10 };
	struct outcome o;
	struct http_response *r;
	static const char fits[] =
	    "HTTP/1.1 200 OK\r\n"
	    "A: 1\r\nB: 2\r\nContent-Length: 10\r\n\r\n0123456789";

	/* Exactly at every limit is fine. */
	r = PARSE(fits, &small, 0, 0, &o);
	assert_int_equal(o.res, HTTP_RESPONSE_DONE);
	assert_int_equal(o.body_len, 10);
	free(o.body);
	http_response_free(r);

	expect_error("HTTP/1.1 200 OK\r\nX-Big: "
		     "0123456789012345678901234567890123456789\r\n\r\n",
	    &small, 0, "header section too large (limit 64 bytes)");
	expect_error("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
	    &small, 0, "too many header fields (limit 3)");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", &small, 0,
	    "body too large: Content-Length 11 (limit 10)");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "6\r\nabcdef\r\n5\r\n",
	    &small, 0, "body too large (limit 10 bytes)");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "fffffffffffffffffffffffff\r\n",
	    NULL, 0, "body too large (limit 1048576 bytes)");
	expect_error("HTTP/1.1 200 OK\r\n\r\n0123456789A", &small, 0,
	    "body too large (limit 10 bytes)");
	/* Trailers count against the header budget too. */
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "0\r\nX-T: 0123456789012345678901\r\n\r\n",
	    &small, 0, "header section too large (limit 64 bytes)");
}

static void
test_errors(void **state)
{
	char long_chunk[1200];

	expect_error("HTTP/1.1 2x0 OK\r\n\r\n", NULL, 0,
	    "bad status line: \"HTTP/1.1 2x0 OK\"");
	expect_error(
	    "ICY 200 OK\r\n\r\n", NULL, 0, "bad status line: \"ICY 200 OK\"");
	expect_error("HTTP/1.1 200OK\r\n\r\n", NULL, 0,
	    "bad status line: \"HTTP/1.1 200OK\"");
	expect_error(
	    "HTTP/1.1 20\r\n\r\n", NULL, 0, "bad status line: \"HTTP/1.1 20\"");
	expect_error("<html>\r\n", NULL, 0, "bad status line: \"<html>\"");
	expect_error("\r\n\r\n\r\n\r\n\r\n", NULL, 0, "bad status line: \"\"");
	expect_error("HTTP/2.0 200 OK\r\n\r\n", NULL, 0,
	    "unsupported HTTP version: \"HTTP/2.0\"");
	expect_error(
	    "HTTP/1.1 600 Odd\r\n\r\n", NULL, 0, "bad status code 600");
	expect_error("HTTP/1.1 099 Odd\r\n\r\n", NULL, 0, "bad status code 99");
	expect_error("HTTP/1.1 101 Switching Protocols\r\n\r\n", NULL, 0,
	    "unexpected 101 Switching Protocols");
	expect_error(
	    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 100 Continue\r\n\r\n",
	    NULL, 0, "too many 1xx responses (limit 8)");
	expect_error("HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", NULL, 0,
	    "bad header line: \"NoColonHere\"");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", NULL, 0,
	    "bad header field name: \"Content-Length \"");
	expect_error("HTTP/1.1 200 OK\r\n: value\r\n\r\n", NULL, 0,
	    "bad header field name: \": value\"");
	expect_error("HTTP/1.1 200 OK\r\n folded\r\n\r\n", NULL, 0,
	    "bad header line: \" folded\"");
	expect_error("HTTP/1.1 200 OK\r\nX-A: a\001b\r\n\r\n", NULL, 0,
	    "bad character in header field X-A");
	expect_error("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", NULL, 0,
	    "bare CR in line: \"X-A: a?b\"");
	{
		static const char in[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n";
		struct outcome o;
		struct http_response *r =
		    parse_all(in, sizeof in - 1, NULL, 0, 0, &o);

		assert_int_equal(o.res, HTTP_RESPONSE_ERROR);
		assert_string_equal(o.error, "NUL byte in line: \"X-A: a?b\"");
		free(o.body);
		http_response_free(r);
	}
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", NULL, 0,
	    "bad Content-Length: \"-1\"");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", NULL, 0,
	    "bad Content-Length: \"+5\"");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n", NULL, 0,
	    "bad Content-Length: \"5 5\"");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", NULL, 0,
	    "bad Content-Length: \"\"");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: "
		     "99999999999999999999\r\n\r\n",
	    NULL, 0, "bad Content-Length: \"99999999999999999999\"");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		     "Content-Length: 6\r\n\r\n",
	    NULL, 0, "conflicting Content-Length: 5 and 6");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5, 7\r\n\r\n", NULL, 0,
	    "conflicting Content-Length: 5 and 7");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		     "Content-Length: 5\r\n\r\n",
	    NULL, 0, "both Transfer-Encoding and Content-Length");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", NULL,
	    0, "unsupported Transfer-Encoding: \"gzip\"");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked"
		     "\r\n\r\n",
	    NULL, 0, "unsupported Transfer-Encoding: \"chunked, chunked\"");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "zz\r\n",
	    NULL, 0, "bad chunk size line: \"zz\"");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5x\r\n",
	    NULL, 0, "bad chunk size line: \"5x\"");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "-5\r\n",
	    NULL, 0, "bad chunk size line: \"-5\"");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "\r\n",
	    NULL, 0, "bad chunk size line: \"\"");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "3\r\nabcX\r\n",
	    NULL, 0, "missing CRLF after chunk data");
	memset(long_chunk, 0, sizeof long_chunk);
	strcpy(long_chunk,
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;");
	memset(long_chunk + strlen(long_chunk), 'e', 1100);
	expect_error(
	    long_chunk, NULL, 0, "chunk size line too long (limit 1024 bytes)");

	/* The connection closing too early, at each stage. */
	expect_error("", NULL, 1, "connection closed before the response");
	expect_error("HTTP/1.1 200 OK\r\nContent-Le", NULL, 1,
	    "connection closed in the response header");
	expect_error("HTTP/1.1 100 Continue\r\n\r\n", NULL, 1,
	    "connection closed in the response header");
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", NULL,
	    1, "connection closed in the body (3 of 10 bytes)");
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\n",
	    NULL, 1, "connection closed in the chunked body (5 bytes)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_chunked_extensions_trailers),
		cmocka_unit_test(test_chunked_without_trailers_then_next),
		cmocka_unit_test(test_keep_alive_rules),
		cmocka_unit_test(test_body_until_close),
		cmocka_unit_test(test_no_body_responses),
		cmocka_unit_test(test_interim_responses),
		cmocka_unit_test(test_lenient_forms),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
