/*
 * libFuzzer target for the response parser. The first two bytes choose
 * where to split the rest into two feeds and which limits to use; the
 * split parse must agree with a whole parse, and no input may crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static enum http_response_result
fuzz_parse(struct http_response *r, const uint8_t *data, size_t len,
    size_t split, int eof)
{
	enum http_response_result res;
	size_t used, off = 0;

	res = http_response_feed(r, data, split, &used);
	if (used > split)
		abort();
	off = used;
	if (res == HTTP_RESPONSE_NEED_MORE) {
		if (used != split)
			abort();
		res = http_response_feed(r, data + off, len - off, &used);
		if (used > len - off)
			abort();
	}
	if (res == HTTP_RESPONSE_NEED_MORE && eof)
		res = http_response_eof(r);
	return res;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response_limits small = { 256, 8, 512 };
	struct http_response *a, *b;
	enum http_response_result ra, rb;
	const unsigned char *ba, *bb;
	const char *name, *value;
	size_t la, lb, split, i;
	int head, eof, trailer;

	if (size < 2)
		return 0;
	head = data[0] & 1;
	eof = data[0] & 2;
	a = http_response_new((data[0] & 4) ? &small : NULL);
	b = http_response_new((data[0] & 4) ? &small : NULL);
	http_response_reset(a, head);
	http_response_reset(b, head);
	data += 2;
	size -= 2;
	split = size > 0 ? data[-1] % (size + 1) : 0;

	ra = fuzz_parse(a, data, size, split, eof);
	rb = fuzz_parse(b, data, size, size, eof);
	if (ra != rb)
		abort();
	if (ra == HTTP_RESPONSE_ERROR) {
		if (strcmp(http_response_error(a), http_response_error(b)) !=
			0 ||
		    http_response_error(a)[0] == '\0')
			abort();
	} else {
		ba = http_response_body(a, &la);
		bb = http_response_body(b, &lb);
		if (la != lb || memcmp(ba, bb, la) != 0 || ba[la] != '\0')
			abort();
		if (la > ((data[-2] & 4) ? small.max_body_bytes
					 : HTTP_RESPONSE_DEFAULT_BODY_BYTES))
			abort();
		if (http_response_status(a) != http_response_status(b))
			abort();
	}
	/* Every accessor must be safe in every state. */
	(void)http_response_header(a, "Content-Length");
	(void)http_response_trailer(a, "X-Checksum");
	(void)http_response_retry_after_s(a, 1700000000);
	(void)http_response_keep_alive(a);
	(void)http_response_reason(a);
	for (i = 0; http_response_field(a, i, &name, &value, &trailer) == 0;
	     i++) {
		if (strlen(name) == 0)
			abort();
	}
	if (i != http_response_field_count(a))
		abort();
	http_response_free(a);
	http_response_free(b);
	return 0;
}
