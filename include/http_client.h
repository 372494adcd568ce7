/*
 * HTTP/1.1 client, one request at a time, driven by one event_base: evdns
 * lookup, non-blocking TCP connect, TLS through tlsio, request write and
 * response parsing through http_response, each phase under its own
 * timeout. Keeps the connection for the next request when the server
 * allows it. Knows nothing of what the bytes mean.
 */
#ifndef OUTPOST_HTTP_CLIENT_H
#define OUTPOST_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;
struct http_client;
struct http_response;
struct tlsio_config;

/* Where a request failed; names match /health's last_error.layer. */
enum http_layer {
	HTTP_LAYER_NONE, /* a complete response arrived */
	HTTP_LAYER_DNS,
	HTTP_LAYER_TCP,
	HTTP_LAYER_TLS,
	HTTP_LAYER_HTTP, /* no or a malformed response, timeout */
};

/* Zero fields take the defaults in brackets. */
struct http_client_options {
	/* Borrowed; NULL: the client makes one from resolv.conf and hosts. */
	struct evdns_base *dns;
	struct tlsio_config *tls;   /* borrowed; needed for https:// */
	double connect_timeout_s;   /* DNS, then TCP [10] */
	double handshake_timeout_s; /* TLS handshake [10] */
	/* Sending: since the last progress; then the whole response [30]. */
	double response_timeout_s;
	/* How long a kept-alive connection waits for reuse [60]; < 0: none. */
	double idle_timeout_s;
	size_t max_header_bytes; /* [16 KiB] */
	size_t max_body_bytes;	 /* [1 MiB] */
	size_t max_bytes_per_s;	 /* send cap [0: none] */
	const char *log_name;	 /* log component ["http"] */
};

struct http_request {
	const char *method; /* "GET", "POST", ... */
	const char *url;    /* http:// or https:// */
	/* "Name: value" each, NULL-terminated; may be NULL. */
	const char *const *headers;
	const void *body; /* borrowed until the callback */
	size_t body_len;
};

struct http_result {
	enum http_layer layer; /* NONE: status and body are set */
	const char *error;     /* "" when layer is NONE */
	int status;	       /* 0 when no response */
	/* The rest is valid only during the callback. */
	const struct http_response *response; /* NULL when status is 0 */
	const unsigned char *body;
	size_t body_len;
	long long retry_after_s; /* -1: no usable Retry-After */
	int reused;		 /* went over a kept-alive connection */
	int tls_resumed;	 /* the handshake resumed a session */
	double elapsed_s;
	uint64_t bytes_sent; /* on the socket, TLS included */
	uint64_t bytes_received;
};

typedef void (*http_client_cb)(const struct http_result *, void *arg);

struct http_url {
	int tls;
	char host[256]; /* without brackets for IPv6 */
	int port;
	char *path; /* "/..." with the query, no fragment */
};

/* Parses url into u (u->path allocated); -1 with err on failure. */
int
http_url_parse(const char *url, struct http_url *u, char *err, size_t errlen);
void http_url_clear(struct http_url *);

const char *http_layer_name(enum http_layer); /* "dns", ... */

struct http_client *
http_client_new(struct event_base *, const struct http_client_options *);
/*
 * Frees the client and closes its connection without calling back. Safe
 * inside the client's own callback (the free then happens after it).
 */
void http_client_free(struct http_client *);

/*
 * Starts a request; cb runs exactly once, later, from the event loop
 * (never from inside this call). -1 with err when the request is refused
 * at once (busy, bad URL, https without TLS config, bad header).
 */
int http_client_request(struct http_client *, const struct http_request *,
    http_client_cb, void *arg, char *err, size_t errlen);
/* Abandons the request in progress without calling back. */
void http_client_cancel(struct http_client *);
/* Closes a kept-alive connection (the next request connects anew). */
void http_client_close_idle(struct http_client *);

int http_client_busy(const struct http_client *);
int http_client_connected(const struct http_client *);
unsigned long long http_client_connections(const struct http_client *);
unsigned long long http_client_requests(const struct http_client *);

#endif
