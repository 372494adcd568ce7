/*
 * JSON output: escaping, commas and number formatting. The buffer grows
 * with xreallocarray; callers reuse one json_out to avoid allocations.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "xmalloc.h"

void
json_out_init(struct json_out *j)
{
	memset(j, 0, sizeof *j);
}

void
json_out_reset(struct json_out *j)
{
	j->len = 0;
	j->depth = 0;
	j->need_comma[0] = 0;
	if (j->buf != NULL)
		j->buf[0] = '\0';
}

void
json_out_free(struct json_out *j)
{
	free(j->buf);
	json_out_init(j);
}

void
json_out_reserve(struct json_out *j, size_t extra)
{
	size_t want = j->len + extra + 1;

	if (want <= j->cap)
		return;
	if (j->cap == 0)
		j->cap = 256;
	while (j->cap < want)
		j->cap *= 2;
	j->buf = xreallocarray(j->buf, j->cap, 1);
}

void
json_out_bytes(struct json_out *j, const char *s, size_t len)
{
	json_out_reserve(j, len);
	memcpy(j->buf + j->len, s, len);
	j->len += len;
	j->buf[j->len] = '\0';
}

static void
json_out_char(struct json_out *j, char c)
{
	json_out_reserve(j, 1);
	j->buf[j->len++] = c;
	j->buf[j->len] = '\0';
}

void
json_out_escape(struct json_out *j, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		json_out_bytes(j, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			json_out_bytes(j, "\\\"", 2);
			break;
		case '\\':
			json_out_bytes(j, "\\\\", 2);
			break;
		case '\n':
			json_out_bytes(j, "\\n", 2);
			break;
		case '\r':
			json_out_bytes(j, "\\r", 2);
			break;
		case '\t':
			json_out_bytes(j, "\\t", 2);
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			json_out_bytes(j, esc, 6);
		}
	}
	json_out_bytes(j, s + run, len - run);
}

/* Comma and key before a value at the current depth. */
static void
json_out_prefix(struct json_out *j, const char *key)
{
	if (j->need_comma[j->depth])
		json_out_char(j, ',');
	j->need_comma[j->depth] = 1;
	if (key != NULL) {
		json_out_char(j, '"');
		json_out_escape(j, key, strlen(key));
		json_out_bytes(j, "\":", 2);
	}
}

static void
json_out_open(struct json_out *j, const char *key, char c)
{
	json_out_prefix(j, key);
	json_out_char(j, c);
	if (j->depth + 1 >= JSON_OUT_DEPTH)
		abort(); /* our own documents are shallow: a bug */
	j->need_comma[++j->depth] = 0;
}

static void
json_out_close(struct json_out *j, char c)
{
	if (j->depth > 0)
		j->depth--;
	json_out_char(j, c);
}

void
json_out_object_begin(struct json_out *j, const char *key)
{
	json_out_open(j, key, '{');
}

void
json_out_object_end(struct json_out *j)
{
	json_out_close(j, '}');
}

void
json_out_array_begin(struct json_out *j, const char *key)
{
	json_out_open(j, key, '[');
}

void
json_out_array_end(struct json_out *j)
{
	json_out_close(j, ']');
}

void
json_out_stringn(struct json_out *j, const char *key, const char *v, size_t len)
{
	json_out_prefix(j, key);
	json_out_char(j, '"');
	json_out_escape(j, v, len);
	json_out_char(j, '"');
}

void
json_out_string(struct json_out *j, const char *key, const char *v)
{
	if (v == NULL) {
		json_out_null(j, key);
		return;
	}
	json_out_stringn(j, key, v, strlen(v));
}

int
json_out_format_double(char buf[32], double v)
{
	int n;

	if (!isfinite(v))
		return snprintf(buf, 32, "null");
	if (v == (double)(long long)v && fabs(v) < 1e15)
		return snprintf(buf, 32, "%lld", (long long)v);
	/* Shortest of %.15g and %.17g that reads back as the same double. */
	n = snprintf(buf, 32, "%.15g", v);
	if (strtod(buf, NULL) != v)
		n = snprintf(buf, 32, "%.17g", v);
	return n;
}

void
json_out_double(struct json_out *j, const char *key, double v)
{
	char buf[32];
	int n = json_out_format_double(buf, v);

	json_out_prefix(j, key);
	json_out_bytes(j, buf, (size_t)n);
}

void
json_out_int(struct json_out *j, const char *key, long long v)
{
	char buf[24];
	int n = snprintf(buf, sizeof buf, "%lld", v);

	json_out_prefix(j, key);
	json_out_bytes(j, buf, (size_t)n);
}

void
json_out_bool(struct json_out *j, const char *key, int v)
{
	json_out_prefix(j, key);
	if (v)
		json_out_bytes(j, "true", 4);
	else
		json_out_bytes(j, "false", 5);
}

void
json_out_null(struct json_out *j, const char *key)
{
	json_out_prefix(j, key);
	json_out_bytes(j, "null", 4);
}

void
json_out_raw(struct json_out *j, const char *key, const char *json)
{
	json_out_prefix(j, key);
	json_out_bytes(j, json, strlen(json));
}
