/*
 * Incremental HTTP/1.1 response parser: status line, header fields, bodies
 * framed by Content-Length, chunked coding or the end of the connection,
 * trailers, interim 1xx responses. Bytes arrive in chunks of any size;
 * everything sized by the peer is checked against limits before it is
 * stored. Knows nothing of sockets: http_client feeds it.
 */
#ifndef OUTPOST_HTTP_RESPONSE_H
#define OUTPOST_HTTP_RESPONSE_H

#include <stddef.h>
#include <time.h>

enum http_response_result {
	HTTP_RESPONSE_NEED_MORE,
	HTTP_RESPONSE_DONE,
	HTTP_RESPONSE_ERROR,
};

/* Zero fields take the defaults below. */
struct http_response_limits {
	size_t max_header_bytes; /* status line, fields, trailers */
	size_t max_headers;	 /* fields, trailers included */
	size_t max_body_bytes;	 /* decoded body */
};

#define HTTP_RESPONSE_DEFAULT_HEADER_BYTES 16384
#define HTTP_RESPONSE_DEFAULT_HEADERS 64
#define HTTP_RESPONSE_DEFAULT_BODY_BYTES (1024 * 1024)
#define HTTP_RESPONSE_MAX_CHUNK_LINE 1024 /* size + extensions */
#define HTTP_RESPONSE_MAX_INTERIM 8	  /* 1xx before the final */

struct http_response;

/* limits may be NULL. */
struct http_response *http_response_new(const struct http_response_limits *);
void http_response_free(struct http_response *);

/*
 * Forgets the last response and expects a new one. head_request: the
 * request was HEAD, so the response has no body whatever its fields say.
 */
void http_response_reset(struct http_response *, int head_request);

/*
 * Parses up to len bytes; *consumed tells how many belong to this response
 * (bytes after the end of a response are left for the caller). ERROR is
 * final until the next reset; http_response_error() says why.
 */
enum http_response_result http_response_feed(
    struct http_response *, const void *buf, size_t len, size_t *consumed);
/* The peer closed the connection: ends a body framed by the close. */
enum http_response_result http_response_eof(struct http_response *);

const char *http_response_error(const struct http_response *);
int http_response_status(const struct http_response *);
const char *http_response_reason(const struct http_response *);
int http_response_version(const struct http_response *); /* 10, 11 */
size_t http_response_interim_count(const struct http_response *);

/* First field of that name (case-insensitive), NULL when absent. */
const char *
http_response_header(const struct http_response *, const char *name);
const char *
http_response_trailer(const struct http_response *, const char *name);
size_t http_response_field_count(const struct http_response *);
/* Field i in arrival order; -1 when out of range. */
int http_response_field(const struct http_response *, size_t i,
    const char **name, const char **value, int *trailer);

/* Decoded body, NUL-terminated for convenience (not counted in *len). */
const unsigned char *
http_response_body(const struct http_response *, size_t *len);
/* -1 when the body is not framed by Content-Length. */
long long http_response_content_length(const struct http_response *);
int http_response_chunked(const struct http_response *);
/* The connection may carry another request after this response. */
int http_response_keep_alive(const struct http_response *);

/*
 * Seconds to wait from Retry-After (delta-seconds or an HTTP-date, relative
 * to now), 0 for a date in the past; -1 when absent or unreadable.
 */
long long http_response_retry_after_s(const struct http_response *, time_t now);
/* The same for a bare field value. */
long long http_retry_after_parse(const char *value, time_t now);
/* IMF-fixdate, RFC 850 or asctime date to Unix seconds; -1 on error. */
int http_date_parse(const char *value, time_t now, time_t *out);

#endif
