/*
 * A small JSON writer into a growable buffer: escapes strings, tracks
 * commas, prints numbers so they read back exactly. Output only; payloads
 * are parsed with SQLite's JSON functions.
 */
#ifndef OUTPOST_JSON_OUT_H
#define OUTPOST_JSON_OUT_H

#include <stddef.h>

#define JSON_OUT_DEPTH 32

struct json_out {
	char *buf;
	size_t len;
	size_t cap;
	int depth;
	unsigned char need_comma[JSON_OUT_DEPTH];
};

void json_out_init(struct json_out *);
void json_out_reset(struct json_out *); /* keeps the buffer */
void json_out_free(struct json_out *);	/* the buffer, not j */

/* key is NULL inside arrays and at the top level. */
void json_out_object_begin(struct json_out *, const char *key);
void json_out_object_end(struct json_out *);
void json_out_array_begin(struct json_out *, const char *key);
void json_out_array_end(struct json_out *);
void json_out_string(struct json_out *, const char *key, const char *v);
void
json_out_stringn(struct json_out *, const char *key, const char *v, size_t len);
/* Non-finite numbers are written as null. */
void json_out_double(struct json_out *, const char *key, double v);
void json_out_int(struct json_out *, const char *key, long long v);
void json_out_bool(struct json_out *, const char *key, int v);
void json_out_null(struct json_out *, const char *key);
/* Inserts already valid JSON text as the value. */
void json_out_raw(struct json_out *, const char *key, const char *json);

/* Raw bytes, no separator: the buffer used for other wire formats. */
void json_out_bytes(struct json_out *, const char *s, size_t len);
/* Ensures room for extra more bytes (plus a NUL) after len. */
void json_out_reserve(struct json_out *, size_t extra);
/* Appends escaped string contents (no quotes) to any json_out buffer. */
void json_out_escape(struct json_out *, const char *s, size_t len);
/* Writes v with the shortest "%.17g"-exact form into buf (32 bytes). */
int json_out_format_double(char buf[32], double v);

#endif
