/*
 * HTTP/1.1 response parser (RFC 9112 framing, RFC 9110 fields). A state
 * machine over lines and body bytes: it stores the header section and the
 * decoded body within the configured limits and never reads past the end
 * of one response. The caller owns the socket and decides what a status
 * means.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_response.h"
#include "xmalloc.h"

enum http_response_state {
	HTTP_RESPONSE_STATUS,	   /* waiting for the status line */
	HTTP_RESPONSE_FIELDS,	   /* header field lines */
	HTTP_RESPONSE_BODY_LENGTH, /* Content-Length bytes left */
	HTTP_RESPONSE_BODY_CLOSE,  /* body until the peer closes */
	HTTP_RESPONSE_CHUNK_SIZE,  /* chunk-size [; ext] line */
	HTTP_RESPONSE_CHUNK_DATA,  /* chunk bytes left */
	HTTP_RESPONSE_CHUNK_END,   /* the CRLF after chunk data */
	HTTP_RESPONSE_TRAILERS,	   /* trailer field lines */
	HTTP_RESPONSE_COMPLETE,
	HTTP_RESPONSE_FAILED,
};

struct http_field {
	size_t name_off; /* into fields */
	size_t value_off;
	int trailer;
};

struct http_response {
	struct http_response_limits limits;
	enum http_response_state state;
	int head_request;
	char error[160];

	char *line; /* the line being collected */
	size_t line_len;
	size_t line_cap;
	size_t head_bytes;  /* header section bytes so far */
	size_t empty_lines; /* before the status line */

	int status;
	int version; /* 10 or 11 */
	char reason[64];
	size_t interim; /* 1xx responses skipped */

	char *fields; /* "name\0value\0" ... */
	size_t fields_len;
	size_t fields_cap;
	struct http_field *field;
	size_t nfields;
	size_t field_cap;

	long long content_length; /* -1: none */
	int chunked;
	int keep_alive;
	unsigned long long body_left; /* Content-Length or chunk bytes */

	unsigned char *body;
	size_t body_len;
	size_t body_cap;
};

static enum http_response_result http_response_fail(struct http_response *,
    const char *, ...) __attribute__((format(printf, 2, 3)));

struct http_response *
http_response_new(const struct http_response_limits *limits)
{
	struct http_response *r = xcalloc(1, sizeof *r);

	if (limits != NULL)
		r->limits = *limits;
	if (r->limits.max_header_bytes == 0)
		r->limits.max_header_bytes = HTTP_RESPONSE_DEFAULT_HEADER_BYTES;
	if (r->limits.max_headers == 0)
		r->limits.max_headers = HTTP_RESPONSE_DEFAULT_HEADERS;
	if (r->limits.max_body_bytes == 0)
		r->limits.max_body_bytes = HTTP_RESPONSE_DEFAULT_BODY_BYTES;
	http_response_reset(r, 0);
	return r;
}

void
http_response_free(struct http_response *r)
{
	if (r == NULL)
		return;
	free(r->line);
	free(r->fields);
	free(r->field);
	free(r->body);
	free(r);
}

/* Drops the fields of an interim response or of the last response. */
static void
http_response_clear_head(struct http_response *r)
{
	r->line_len = 0;
	r->head_bytes = 0;
	r->empty_lines = 0;
	r->status = 0;
	r->version = 0;
	r->reason[0] = '\0';
	r->fields_len = 0;
	r->nfields = 0;
}

void
http_response_reset(struct http_response *r, int head_request)
{
	http_response_clear_head(r);
	r->state = HTTP_RESPONSE_STATUS;
	r->head_request = head_request;
	r->error[0] = '\0';
	r->interim = 0;
	r->content_length = -1;
	r->chunked = 0;
	r->keep_alive = 0;
	r->body_left = 0;
	r->body_len = 0;
	if (r->body != NULL)
		r->body[0] = '\0';
	/* A large body from the last response is not kept around. */
	if (r->body_cap > 65536) {
		free(r->body);
		r->body = NULL;
		r->body_cap = 0;
	}
}

static enum http_response_result
http_response_fail(struct http_response *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	r->state = HTTP_RESPONSE_FAILED;
	return HTTP_RESPONSE_ERROR;
}

/* A short printable copy of peer bytes for an error message. */
static const char *
http_response_quote(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 4 < size; i++) {
		unsigned char c = s[i];

		buf[n++] = (c >= 0x20 && c < 0x7f && c != '"') ? c : '?';
	}
	if (i < len) {
		buf[n++] = '.';
		buf[n++] = '.';
		buf[n++] = '.';
	}
	buf[n] = '\0';
	return buf;
}

static int
http_response_is_tchar(unsigned char c)
{
	if (isalnum(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void
http_response_grow(char **buf, size_t *cap, size_t need)
{
	size_t ncap;

	if (need <= *cap)
		return;
	ncap = *cap < 128 ? 128 : *cap;
	while (ncap < need)
		ncap *= 2;
	*buf = xreallocarray(*buf, 1, ncap);
	*cap = ncap;
}

static void
http_response_fields_append(struct http_response *r, const char *s, size_t len)
{
	http_response_grow(&r->fields, &r->fields_cap, r->fields_len + len + 1);
	memcpy(r->fields + r->fields_len, s, len);
	r->fields_len += len;
	r->fields[r->fields_len++] = '\0';
}

static void
http_response_trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

static enum http_response_result
http_response_status_line(struct http_response *r, const char *s, size_t len)
{
	char q[48];
	size_t i;
	const char *reason;

	if (len == 0) {
		/* Tolerate a stray CRLF left after a previous body. */
		if (++r->empty_lines > 4)
			return http_response_fail(r, "bad status line: \"\"");
		return HTTP_RESPONSE_NEED_MORE;
	}
	if (len < 12 || memcmp(s, "HTTP/", 5) != 0 ||
	    !isdigit((unsigned char)s[5]) || s[6] != '.' ||
	    !isdigit((unsigned char)s[7]) || s[8] != ' ')
		return http_response_fail(r, "bad status line: \"%s\"",
		    http_response_quote(s, len, q, sizeof q));
	if (s[5] != '1')
		return http_response_fail(r, "unsupported HTTP version: \"%s\"",
		    http_response_quote(s, 8, q, sizeof q));
	for (i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)s[i]))
			return http_response_fail(r, "bad status line: \"%s\"",
			    http_response_quote(s, len, q, sizeof q));
	}
	if (len > 12 && s[12] != ' ')
		return http_response_fail(r, "bad status line: \"%s\"",
		    http_response_quote(s, len, q, sizeof q));
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (r->status < 100 || r->status > 599)
		return http_response_fail(r, "bad status code %d", r->status);
	r->version = s[7] == '0' ? 10 : 11;
	reason = len > 13 ? s + 13 : "";
	xstrlcpy(r->reason, "", sizeof r->reason);
	if (len > 13) {
		size_t n = len - 13;

		if (n >= sizeof r->reason)
			n = sizeof r->reason - 1;
		memcpy(r->reason, reason, n);
		r->reason[n] = '\0';
	}
	r->state = HTTP_RESPONSE_FIELDS;
	return HTTP_RESPONSE_NEED_MORE;
}

static enum http_response_result
http_response_field_line(
    struct http_response *r, const char *s, size_t len, int trailer)
{
	char q[48];
	const char *colon, *value;
	size_t i, name_len, value_len;

	if (s[0] == ' ' || s[0] == '\t') {
		/* obs-fold: a recipient replaces it with a space. */
		if (r->nfields == 0 ||
		    r->field[r->nfields - 1].trailer != trailer)
			return http_response_fail(r, "bad header line: \"%s\"",
			    http_response_quote(s, len, q, sizeof q));
		value = s;
		value_len = len;
		http_response_trim(&value, &value_len);
		for (i = 0; i < value_len; i++) {
			if ((unsigned char)value[i] < 0x20 && value[i] != '\t')
				return http_response_fail(r,
				    "bad character in header field %s",
				    r->fields +
					r->field[r->nfields - 1].name_off);
		}
		r->fields_len--; /* reopen the last value */
		http_response_grow(
		    &r->fields, &r->fields_cap, r->fields_len + value_len + 2);
		r->fields[r->fields_len++] = ' ';
		http_response_fields_append(r, value, value_len);
		return HTTP_RESPONSE_NEED_MORE;
	}
	if ((colon = memchr(s, ':', len)) == NULL)
		return http_response_fail(r, "bad header line: \"%s\"",
		    http_response_quote(s, len, q, sizeof q));
	name_len = colon - s;
	if (name_len == 0)
		return http_response_fail(r, "bad header field name: \"%s\"",
		    http_response_quote(s, len, q, sizeof q));
	for (i = 0; i < name_len; i++) {
		if (!http_response_is_tchar(s[i]))
			return http_response_fail(r,
			    "bad header field name: \"%s\"",
			    http_response_quote(s, name_len, q, sizeof q));
	}
	value = colon + 1;
	value_len = len - name_len - 1;
	http_response_trim(&value, &value_len);
	for (i = 0; i < value_len; i++) {
		if (((unsigned char)value[i] < 0x20 && value[i] != '\t') ||
		    value[i] == 0x7f)
			return http_response_fail(r,
			    "bad character in header field %s",
			    http_response_quote(s, name_len, q, sizeof q));
	}
	if (r->nfields >= r->limits.max_headers)
		return http_response_fail(r,
		    "too many header fields (limit %zu)",
		    r->limits.max_headers);
	if (r->nfields == r->field_cap) {
		r->field_cap = r->field_cap == 0 ? 16 : r->field_cap * 2;
		if (r->field_cap > r->limits.max_headers)
			r->field_cap = r->limits.max_headers;
		r->field =
		    xreallocarray(r->field, r->field_cap, sizeof *r->field);
	}
	r->field[r->nfields].name_off = r->fields_len;
	http_response_fields_append(r, s, name_len);
	r->field[r->nfields].value_off = r->fields_len;
	http_response_fields_append(r, value, value_len);
	r->field[r->nfields].trailer = trailer;
	r->nfields++;
	return HTTP_RESPONSE_NEED_MORE;
}

/* Calls fn for each comma-separated element of every field called name. */
static int
http_response_each_element(struct http_response *r, const char *name,
    int (*fn)(struct http_response *, const char *, size_t, void *), void *arg)
{
	size_t i, len;
	const char *p, *end, *e;

	for (i = 0; i < r->nfields; i++) {
		if (r->field[i].trailer ||
		    strcasecmp(r->fields + r->field[i].name_off, name) != 0)
			continue;
		p = r->fields + r->field[i].value_off;
		end = p + strlen(p);
		while (p <= end) {
			if ((e = memchr(p, ',', end - p)) == NULL)
				e = end;
			len = e - p;
			http_response_trim(&p, &len);
			if (fn(r, p, len, arg) == -1)
				return -1;
			p = e + 1;
		}
	}
	return 0;
}

struct http_response_framing {
	int saw_length;
	unsigned long long length;
	int coding_count;
	int bad_coding;
	int close;
	int keep_alive;
};

static int
http_response_length_cb(
    struct http_response *r, const char *s, size_t len, void *arg)
{
	struct http_response_framing *f = arg;
	unsigned long long v = 0;
	char q[48];
	size_t i;

	if (len == 0 || len > 19)
		goto bad;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			goto bad;
		v = v * 10 + (s[i] - '0');
	}
	if (v > LLONG_MAX)
		goto bad;
	if (f->saw_length && f->length != v) {
		http_response_fail(r,
		    "conflicting Content-Length: %llu and %llu", f->length, v);
		return -1;
	}
	f->saw_length = 1;
	f->length = v;
	return 0;
bad:
	http_response_fail(r, "bad Content-Length: \"%s\"",
	    http_response_quote(s, len, q, sizeof q));
	return -1;
}

static int
http_response_coding_cb(
    struct http_response *r, const char *s, size_t len, void *arg)
{
	struct http_response_framing *f = arg;

	if (len == 0)
		return 0;
	f->coding_count++;
	if (len != 7 || strncasecmp(s, "chunked", 7) != 0)
		f->bad_coding = 1;
	return 0;
}

static int
http_response_connection_cb(
    struct http_response *r, const char *s, size_t len, void *arg)
{
	struct http_response_framing *f = arg;

	if (len == 5 && strncasecmp(s, "close", 5) == 0)
		f->close = 1;
	else if (len == 10 && strncasecmp(s, "keep-alive", 10) == 0)
		f->keep_alive = 1;
	return 0;
}

static enum http_response_result
http_response_body_reserve(struct http_response *r, size_t need)
{
	size_t ncap;

	if (need + 1 <= r->body_cap)
		return HTTP_RESPONSE_NEED_MORE;
	ncap = r->body_cap < 1024 ? 1024 : r->body_cap;
	while (ncap < need + 1)
		ncap *= 2;
	if (ncap > r->limits.max_body_bytes + 1)
		ncap = r->limits.max_body_bytes + 1;
	r->body = xreallocarray(r->body, 1, ncap);
	r->body_cap = ncap;
	r->body[r->body_len] = '\0';
	return HTTP_RESPONSE_NEED_MORE;
}

static enum http_response_result
http_response_complete(struct http_response *r)
{
	http_response_body_reserve(r, r->body_len);
	r->body[r->body_len] = '\0';
	r->state = HTTP_RESPONSE_COMPLETE;
	return HTTP_RESPONSE_DONE;
}

/* The empty line after the fields: decide how the body is framed. */
static enum http_response_result
http_response_end_of_fields(struct http_response *r)
{
	struct http_response_framing f;
	char q[48];
	const char *te;

	memset(&f, 0, sizeof f);
	if (r->status >= 100 && r->status < 200) {
		if (r->status == 101)
			return http_response_fail(
			    r, "unexpected 101 Switching Protocols");
		if (++r->interim > HTTP_RESPONSE_MAX_INTERIM)
			return http_response_fail(r,
			    "too many 1xx responses (limit %d)",
			    HTTP_RESPONSE_MAX_INTERIM);
		http_response_clear_head(r);
		r->state = HTTP_RESPONSE_STATUS;
		return HTTP_RESPONSE_NEED_MORE;
	}
	if (http_response_each_element(
		r, "Content-Length", http_response_length_cb, &f) == -1 ||
	    http_response_each_element(
		r, "Transfer-Encoding", http_response_coding_cb, &f) == -1 ||
	    http_response_each_element(
		r, "Connection", http_response_connection_cb, &f) == -1)
		return HTTP_RESPONSE_ERROR;
	if (r->version == 11)
		r->keep_alive = !f.close;
	else
		r->keep_alive = f.keep_alive && !f.close;

	if (r->head_request || r->status == 204 || r->status == 304)
		return http_response_complete(r);

	if (f.coding_count > 0) {
		if (f.bad_coding || f.coding_count != 1) {
			te = http_response_header(r, "Transfer-Encoding");
			return http_response_fail(r,
			    "unsupported Transfer-Encoding: \"%s\"",
			    http_response_quote(te, strlen(te), q, sizeof q));
		}
		/* RFC 9112 6.3: both framings at once smell of smuggling. */
		if (f.saw_length)
			return http_response_fail(
			    r, "both Transfer-Encoding and Content-Length");
		r->chunked = 1;
		r->state = HTTP_RESPONSE_CHUNK_SIZE;
		return HTTP_RESPONSE_NEED_MORE;
	}
	if (f.saw_length) {
		if (f.length > r->limits.max_body_bytes)
			return http_response_fail(r,
			    "body too large: Content-Length %llu (limit %zu)",
			    f.length, r->limits.max_body_bytes);
		r->content_length = f.length;
		if (f.length == 0)
			return http_response_complete(r);
		http_response_body_reserve(r, f.length);
		r->body_left = f.length;
		r->state = HTTP_RESPONSE_BODY_LENGTH;
		return HTTP_RESPONSE_NEED_MORE;
	}
	r->keep_alive = 0;
	r->state = HTTP_RESPONSE_BODY_CLOSE;
	return HTTP_RESPONSE_NEED_MORE;
}

static enum http_response_result
http_response_chunk_size(struct http_response *r, const char *s, size_t len)
{
	unsigned long long v = 0;
	size_t i;
	char q[48];

	for (i = 0; i < len && isxdigit((unsigned char)s[i]); i++) {
		v = v * 16 +
		    (isdigit((unsigned char)s[i])
			    ? s[i] - '0'
			    : tolower((unsigned char)s[i]) - 'a' + 10);
		/* Checked per digit, so v * 16 cannot overflow. */
		if (v > r->limits.max_body_bytes - r->body_len ||
		    v > ULLONG_MAX / 32)
			return http_response_fail(r,
			    "body too large (limit %zu bytes)",
			    r->limits.max_body_bytes);
	}
	if (i == 0)
		goto bad;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < len && s[i] != ';')
		goto bad;
	for (; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			goto bad;
	}
	if (v > r->limits.max_body_bytes - r->body_len)
		return http_response_fail(r, "body too large (limit %zu bytes)",
		    r->limits.max_body_bytes);
	if (v == 0) {
		r->state = HTTP_RESPONSE_TRAILERS;
		return HTTP_RESPONSE_NEED_MORE;
	}
	http_response_body_reserve(r, r->body_len + v);
	r->body_left = v;
	r->state = HTTP_RESPONSE_CHUNK_DATA;
	return HTTP_RESPONSE_NEED_MORE;
bad:
	return http_response_fail(r, "bad chunk size line: \"%s\"",
	    http_response_quote(s, len, q, sizeof q));
}

/* One complete line (CRLF or LF stripped) in a line-oriented state. */
static enum http_response_result
http_response_line(struct http_response *r, const char *s, size_t len)
{
	char q[48];

	if (memchr(s, '\r', len) != NULL)
		return http_response_fail(r, "bare CR in line: \"%s\"",
		    http_response_quote(s, len, q, sizeof q));
	if (memchr(s, '\0', len) != NULL)
		return http_response_fail(r, "NUL byte in line: \"%s\"",
		    http_response_quote(s, len, q, sizeof q));
	switch (r->state) {
	case HTTP_RESPONSE_STATUS:
		return http_response_status_line(r, s, len);
	case HTTP_RESPONSE_FIELDS:
		if (len == 0)
			return http_response_end_of_fields(r);
		return http_response_field_line(r, s, len, 0);
	case HTTP_RESPONSE_TRAILERS:
		if (len == 0)
			return http_response_complete(r);
		return http_response_field_line(r, s, len, 1);
	case HTTP_RESPONSE_CHUNK_SIZE:
		return http_response_chunk_size(r, s, len);
	case HTTP_RESPONSE_CHUNK_END:
		if (len != 0)
			return http_response_fail(
			    r, "missing CRLF after chunk data");
		r->state = HTTP_RESPONSE_CHUNK_SIZE;
		return HTTP_RESPONSE_NEED_MORE;
	default:
		return http_response_fail(r, "parser in a bad state");
	}
}

/* Collects a line from buf; returns the bytes used. */
static size_t
http_response_take_line(struct http_response *r, const char *buf, size_t len,
    enum http_response_result *res)
{
	const char *lf;
	size_t take, limit, used;
	int head;

	*res = HTTP_RESPONSE_NEED_MORE;
	lf = memchr(buf, '\n', len);
	take = lf != NULL ? (size_t)(lf - buf) + 1 : len;
	head = r->state == HTTP_RESPONSE_STATUS ||
	    r->state == HTTP_RESPONSE_FIELDS ||
	    r->state == HTTP_RESPONSE_TRAILERS;
	if (head) {
		used = r->head_bytes;
		limit = r->limits.max_header_bytes;
	} else {
		used = r->line_len;
		limit = HTTP_RESPONSE_MAX_CHUNK_LINE;
	}
	if (take > limit - used) {
		if (head)
			*res = http_response_fail(r,
			    "header section too large (limit %zu bytes)",
			    limit);
		else
			*res = http_response_fail(r,
			    "chunk size line too long (limit %zu bytes)",
			    limit);
		return take;
	}
	if (head)
		r->head_bytes += take;
	if (lf == NULL) {
		http_response_grow(&r->line, &r->line_cap, r->line_len + take);
		memcpy(r->line + r->line_len, buf, take);
		r->line_len += take;
		return take;
	}
	if (r->line_len == 0) {
		/* The whole line is in buf: parse it in place. */
		len = take - 1;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
		*res = http_response_line(r, buf, len);
		return take;
	}
	http_response_grow(&r->line, &r->line_cap, r->line_len + take);
	memcpy(r->line + r->line_len, buf, take - 1);
	len = r->line_len + take - 1;
	if (len > 0 && r->line[len - 1] == '\r')
		len--;
	r->line_len = 0;
	*res = http_response_line(r, r->line, len);
	return take;
}

static size_t
http_response_take_body(struct http_response *r, const unsigned char *buf,
    size_t len, enum http_response_result *res)
{
	size_t take = len;

	*res = HTTP_RESPONSE_NEED_MORE;
	if (r->state == HTTP_RESPONSE_BODY_CLOSE) {
		if (take > r->limits.max_body_bytes - r->body_len) {
			*res = http_response_fail(r,
			    "body too large (limit %zu bytes)",
			    r->limits.max_body_bytes);
			return take;
		}
	} else if (take > r->body_left)
		take = r->body_left;
	http_response_body_reserve(r, r->body_len + take);
	memcpy(r->body + r->body_len, buf, take);
	r->body_len += take;
	r->body[r->body_len] = '\0';
	if (r->state == HTTP_RESPONSE_BODY_CLOSE)
		return take;
	r->body_left -= take;
	if (r->body_left > 0)
		return take;
	if (r->state == HTTP_RESPONSE_BODY_LENGTH)
		*res = http_response_complete(r);
	else
		r->state = HTTP_RESPONSE_CHUNK_END;
	return take;
}

enum http_response_result
http_response_feed(
    struct http_response *r, const void *buf, size_t len, size_t *consumed)
{
	const unsigned char *p = buf;
	size_t off = 0;
	enum http_response_result res = HTTP_RESPONSE_NEED_MORE;

	*consumed = 0;
	if (r->state == HTTP_RESPONSE_FAILED)
		return HTTP_RESPONSE_ERROR;
	if (r->state == HTTP_RESPONSE_COMPLETE)
		return HTTP_RESPONSE_DONE;
	while (off < len && res == HTTP_RESPONSE_NEED_MORE) {
		switch (r->state) {
		case HTTP_RESPONSE_BODY_LENGTH:
		case HTTP_RESPONSE_BODY_CLOSE:
		case HTTP_RESPONSE_CHUNK_DATA:
			off += http_response_take_body(
			    r, p + off, len - off, &res);
			break;
		default:
			off += http_response_take_line(
			    r, (const char *)p + off, len - off, &res);
			break;
		}
	}
	*consumed = off;
	return res;
}

enum http_response_result
http_response_eof(struct http_response *r)
{
	switch (r->state) {
	case HTTP_RESPONSE_COMPLETE:
		return HTTP_RESPONSE_DONE;
	case HTTP_RESPONSE_FAILED:
		return HTTP_RESPONSE_ERROR;
	case HTTP_RESPONSE_BODY_CLOSE:
		return http_response_complete(r);
	case HTTP_RESPONSE_STATUS:
		if (r->head_bytes == 0 && r->interim == 0)
			return http_response_fail(
			    r, "connection closed before the response");
		/* FALLTHROUGH */
	case HTTP_RESPONSE_FIELDS:
		return http_response_fail(
		    r, "connection closed in the response header");
	case HTTP_RESPONSE_BODY_LENGTH:
		return http_response_fail(r,
		    "connection closed in the body (%zu of %lld bytes)",
		    r->body_len, r->content_length);
	default:
		return http_response_fail(r,
		    "connection closed in the chunked body (%zu bytes)",
		    r->body_len);
	}
}

const char *
http_response_error(const struct http_response *r)
{
	return r->error;
}

int
http_response_status(const struct http_response *r)
{
	return r->status;
}

const char *
http_response_reason(const struct http_response *r)
{
	return r->reason;
}

int
http_response_version(const struct http_response *r)
{
	return r->version;
}

size_t
http_response_interim_count(const struct http_response *r)
{
	return r->interim;
}

static const char *
http_response_find(const struct http_response *r, const char *name, int trailer)
{
	size_t i;

	for (i = 0; i < r->nfields; i++) {
		if (r->field[i].trailer == trailer &&
		    strcasecmp(r->fields + r->field[i].name_off, name) == 0)
			return r->fields + r->field[i].value_off;
	}
	return NULL;
}

const char *
http_response_header(const struct http_response *r, const char *name)
{
	return http_response_find(r, name, 0);
}

const char *
http_response_trailer(const struct http_response *r, const char *name)
{
	return http_response_find(r, name, 1);
}

size_t
http_response_field_count(const struct http_response *r)
{
	return r->nfields;
}

int
http_response_field(const struct http_response *r, size_t i, const char **name,
    const char **value, int *trailer)
{
	if (i >= r->nfields)
		return -1;
	if (name != NULL)
		*name = r->fields + r->field[i].name_off;
	if (value != NULL)
		*value = r->fields + r->field[i].value_off;
	if (trailer != NULL)
		*trailer = r->field[i].trailer;
	return 0;
}

const unsigned char *
http_response_body(const struct http_response *r, size_t *len)
{
	static const unsigned char empty[1];

	if (len != NULL)
		*len = r->body_len;
	return r->body != NULL ? r->body : empty;
}

long long
http_response_content_length(const struct http_response *r)
{
	return r->content_length;
}

int
http_response_chunked(const struct http_response *r)
{
	return r->chunked;
}

int
http_response_keep_alive(const struct http_response *r)
{
	return r->state == HTTP_RESPONSE_COMPLETE && r->keep_alive;
}

long long
http_response_retry_after_s(const struct http_response *r, time_t now)
{
	const char *v = http_response_header(r, "Retry-After");

	return v != NULL ? http_retry_after_parse(v, now) : -1;
}

long long
http_retry_after_parse(const char *value, time_t now)
{
	long long v = 0;
	const char *p;
	time_t when;

	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		for (p = value; isdigit((unsigned char)*p); p++) {
			/* Saturate: a wait beyond 68 years is "forever". */
			if (v < INT32_MAX)
				v = v * 10 + (*p - '0');
			if (v > INT32_MAX)
				v = INT32_MAX;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		return *p == '\0' ? v : -1;
	}
	if (http_date_parse(value, now, &when) == -1)
		return -1;
	return when <= now ? 0 : (long long)(when - now);
}

/* Cursor helpers for the three date formats. */
static int
http_date_number(const char **p, int digits, int *out)
{
	int i, v = 0;

	for (i = 0; i < digits; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += digits;
	*out = v;
	return 0;
}

static int
http_date_literal(const char **p, const char *lit)
{
	size_t len = strlen(lit);

	if (strncmp(*p, lit, len) != 0)
		return -1;
	*p += len;
	return 0;
}

static int
http_date_month(const char **p, int *mon)
{
	static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int i;

	for (i = 0; i < 12; i++) {
		if (strncmp(*p, months[i], 3) == 0) {
			*p += 3;
			*mon = i;
			return 0;
		}
	}
	return -1;
}

static int
http_date_wkday(const char **p, int full)
{
	static const char *days[] = { "Monday", "Tuesday", "Wednesday",
		"Thursday", "Friday", "Saturday", "Sunday" };
	int i;
	size_t len;

	for (i = 0; i < 7; i++) {
		len = full ? strlen(days[i]) : 3;
		if (strncmp(*p, days[i], len) == 0) {
			*p += len;
			return 0;
		}
	}
	return -1;
}

static int
http_date_time(const char **p, struct tm *tm)
{
	if (http_date_number(p, 2, &tm->tm_hour) == -1 ||
	    http_date_literal(p, ":") == -1 ||
	    http_date_number(p, 2, &tm->tm_min) == -1 ||
	    http_date_literal(p, ":") == -1 ||
	    http_date_number(p, 2, &tm->tm_sec) == -1)
		return -1;
	return 0;
}

int
http_date_parse(const char *value, time_t now, time_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	struct tm tm, nowtm;
	const char *p = value;
	int year;

	memset(&tm, 0, sizeof tm);
	if (http_date_wkday(&p, 0) == 0 && *p == ',') {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		if (http_date_literal(&p, ", ") == -1 ||
		    http_date_number(&p, 2, &tm.tm_mday) == -1 ||
		    http_date_literal(&p, " ") == -1 ||
		    http_date_month(&p, &tm.tm_mon) == -1 ||
		    http_date_literal(&p, " ") == -1 ||
		    http_date_number(&p, 4, &year) == -1 ||
		    http_date_literal(&p, " ") == -1 ||
		    http_date_time(&p, &tm) == -1 ||
		    http_date_literal(&p, " GMT") == -1)
			return -1;
	} else if (p = value, http_date_wkday(&p, 1) == 0 && *p == ',') {
		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
		if (http_date_literal(&p, ", ") == -1 ||
		    http_date_number(&p, 2, &tm.tm_mday) == -1 ||
		    http_date_literal(&p, "-") == -1 ||
		    http_date_month(&p, &tm.tm_mon) == -1 ||
		    http_date_literal(&p, "-") == -1 ||
		    http_date_number(&p, 2, &year) == -1 ||
		    http_date_literal(&p, " ") == -1 ||
		    http_date_time(&p, &tm) == -1 ||
		    http_date_literal(&p, " GMT") == -1)
			return -1;
		/*
		 * RFC 9110 5.6.7: a two-digit year more than 50 years in the
		 * future is the most recent past year with those digits.
		 */
		gmtime_r(&now, &nowtm);
		year += (nowtm.tm_year + 1900) / 100 * 100;
		if (year > nowtm.tm_year + 1900 + 50)
			year -= 100;
	} else if (p = value, http_date_wkday(&p, 0) == 0) {
		/* asctime: Sun Nov  6 08:49:37 1994 */
		if (http_date_literal(&p, " ") == -1 ||
		    http_date_month(&p, &tm.tm_mon) == -1 ||
		    http_date_literal(&p, " ") == -1)
			return -1;
		if (*p == ' ')
			p++;
		else if (isdigit((unsigned char)*p) &&
		    isdigit((unsigned char)p[1])) {
			tm.tm_mday = (*p - '0') * 10;
			p++;
		} else
			return -1;
		if (!isdigit((unsigned char)*p))
			return -1;
		tm.tm_mday += *p++ - '0';
		if (http_date_literal(&p, " ") == -1 ||
		    http_date_time(&p, &tm) == -1 ||
		    http_date_literal(&p, " ") == -1 ||
		    http_date_number(&p, 4, &year) == -1)
			return -1;
	} else
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return -1;
	if (tm.tm_mday < 1 || tm.tm_mday > mdays[tm.tm_mon] ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 || year < 1970)
		return -1;
	if (tm.tm_sec == 60)
		tm.tm_sec = 59;
	tm.tm_year = year - 1900;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}
