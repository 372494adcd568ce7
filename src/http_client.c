/*
 * HTTP/1.1 client on one event_base: each request walks resolve ->
 * connect -> handshake -> send -> receive, one callback per step, each
 * step under its own timer, and every failure goes through
 * http_client_fail() with the layer that failed. A connection is one
 * struct owning its socket, events and TLS state; closed ones are freed
 * from a zero-timeout event, never inside their own callback.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "dial.h"
#include "http_client.h"
#include "http_response.h"
#include "log.h"
#include "tlsio.h"
#include "xmalloc.h"

#define HTTP_CLIENT_READ_CHUNK 4096
#define HTTP_CLIENT_MIN_SEND 512 /* throttle: smallest write */

enum http_conn_state {
	HTTP_CONN_RESOLVING,
	HTTP_CONN_CONNECTING,
	HTTP_CONN_HANDSHAKE,
	HTTP_CONN_SENDING,
	HTTP_CONN_RECEIVING,
	HTTP_CONN_IDLE,	  /* kept alive between requests */
	HTTP_CONN_CLOSED, /* waiting to be freed */
};

struct http_conn {
	struct http_client *client;
	struct http_conn *next; /* on the client's closed list */
	enum http_conn_state state;
	int fd;
	struct event *io;    /* the one wait on fd */
	struct event *timer; /* the phase deadline */
	struct tlsio *tls;
	int tls_on;
	char *host;
	int port;
	struct dial *dial; /* resolving and connecting */
	uint64_t bytes_in; /* plain sockets */
	uint64_t bytes_out;
	int no_reuse; /* bytes after the response */
};

struct http_client {
	struct event_base *base;
	struct evdns_base *dns;
	int own_dns;
	struct http_client_options opt;
	char *log_name;
	struct http_response *resp;
	struct event *start_ev; /* zero timeout: begin */
	struct event *reap_ev;	/* zero timeout: free closed */
	struct event *throttle_ev;
	struct http_conn *conn;
	struct http_conn *closed;

	/* The request in progress. */
	int busy;
	struct http_url url;
	int head_method;
	char *head; /* serialized request head */
	size_t head_len;
	const unsigned char *body; /* borrowed */
	size_t body_len;
	size_t sent; /* of head_len + body_len */
	size_t got;  /* response bytes read */
	int reused;
	int retried;
	uint64_t base_in; /* conn bytes counted so far */
	uint64_t base_out;
	uint64_t req_in; /* this request's bytes */
	uint64_t req_out;
	int tls_resumed;
	double started; /* monotonic s */
	http_client_cb cb;
	void *cb_arg;
	char error[320];

	double tokens; /* throttle bucket, bytes */
	double tokens_at;

	int in_cb;
	int dead;
	unsigned long long connections;
	unsigned long long requests;
};

static void http_client_fail(struct http_client *, enum http_layer,
    const char *, ...) __attribute__((format(printf, 3, 4)));
static void http_conn_io_cb(evutil_socket_t, short, void *);
static void http_client_connect(struct http_client *);
static void http_client_send_step(struct http_client *);
static void http_client_recv_step(struct http_client *);
static void http_client_handshake_step(struct http_client *);

static double
http_client_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct timeval
http_client_tv(double s)
{
	struct timeval tv;

	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - tv.tv_sec) * 1e6);
	return tv;
}

const char *
http_layer_name(enum http_layer layer)
{
	switch (layer) {
	case HTTP_LAYER_NONE:
		return "none";
	case HTTP_LAYER_DNS:
		return "dns";
	case HTTP_LAYER_TCP:
		return "tcp";
	case HTTP_LAYER_TLS:
		return "tls";
	case HTTP_LAYER_HTTP:
		return "http";
	}
	return "unknown";
}

int
http_url_parse(const char *url, struct http_url *u, char *err, size_t errlen)
{
	const char *p, *end, *host, *host_end, *after, *q;
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	size_t len;
	long port;

	memset(u, 0, sizeof *u);
	if (strncasecmp(url, "http://", 7) == 0) {
		p = url + 7;
		u->port = 80;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		p = url + 8;
		u->tls = 1;
		u->port = 443;
	} else {
		xerrorf(err, errlen, "%s: not an http:// or https:// URL", url);
		return -1;
	}
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', end - p) != NULL) {
		xerrorf(
		    err, errlen, "%s: user info in URLs is not supported", url);
		return -1;
	}
	if (*p == '[') {
		host = p + 1;
		if ((host_end = memchr(host, ']', end - host)) == NULL)
			goto bad_host;
		after = host_end + 1;
		len = host_end - host;
		if (len >= sizeof tmp)
			goto bad_host;
		memcpy(tmp, host, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			goto bad_host;
	} else {
		host = p;
		if ((host_end = memchr(p, ':', end - p)) == NULL)
			host_end = end;
		after = host_end;
		for (q = host; q < host_end; q++) {
			if (!isalnum((unsigned char)*q) && *q != '-' &&
			    *q != '.' && *q != '_')
				goto bad_host;
		}
	}
	len = host_end - host;
	if (len == 0 || len >= sizeof u->host)
		goto bad_host;
	memcpy(u->host, host, len);
	u->host[len] = '\0';
	if (after < end) {
		if (*after != ':')
			goto bad_host;
		port = 0;
		for (q = after + 1; q < end; q++) {
			if (!isdigit((unsigned char)*q) || port > 65535)
				break;
			port = port * 10 + (*q - '0');
		}
		if (q == after + 1 && q == end)
			port = u->port; /* "host:" means the default */
		if (q != end || port < 1 || port > 65535) {
			xerrorf(err, errlen, "%s: bad port", url);
			return -1;
		}
		u->port = (int)port;
	}
	len = strcspn(end, "#");
	for (q = end; q < end + len; q++) {
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) {
			xerrorf(
			    err, errlen, "%s: bad character in the path", url);
			return -1;
		}
	}
	if (*end == '/')
		u->path = xstrndup(end, len);
	else
		xasprintf(&u->path, "/%.*s", (int)len, end);
	return 0;
bad_host:
	xerrorf(err, errlen, "%s: bad host", url);
	return -1;
}

void
http_url_clear(struct http_url *u)
{
	free(u->path);
	memset(u, 0, sizeof *u);
}

static void
http_conn_bytes(struct http_conn *conn, uint64_t *in, uint64_t *out)
{
	if (conn->tls != NULL)
		tlsio_bytes(conn->tls, in, out);
	else {
		*in = conn->bytes_in;
		*out = conn->bytes_out;
	}
}

/* Adds the current connection's bytes since the last call. */
static void
http_client_account(struct http_client *c)
{
	uint64_t in, out;

	if (c->conn == NULL)
		return;
	http_conn_bytes(c->conn, &in, &out);
	c->req_in += in - c->base_in;
	c->req_out += out - c->base_out;
	c->base_in = in;
	c->base_out = out;
}

static void
http_client_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *c = arg;
	struct http_conn *conn;

	while ((conn = c->closed) != NULL) {
		c->closed = conn->next;
		if (conn->io != NULL)
			event_free(conn->io);
		event_free(conn->timer);
		free(conn->host);
		free(conn);
	}
}

/*
 * The one teardown path of a connection: stops its events, closes the
 * socket and parks the struct for the reaper, since this usually runs
 * inside one of the connection's own callbacks.
 */
static void
http_conn_close(struct http_conn *conn, const char *reason)
{
	struct http_client *c = conn->client;
	struct timeval zero = { 0, 0 };

	if (conn->state == HTTP_CONN_CLOSED)
		return;
	if (c->conn == conn)
		http_client_account(c);
	log_debug(c->log_name, "closing connection to %s:%d: %s", conn->host,
	    conn->port, reason);
	dial_cancel(conn->dial);
	conn->dial = NULL;
	if (conn->io != NULL)
		event_del(conn->io);
	event_del(conn->timer);
	if (conn->tls != NULL) {
		if (conn->state == HTTP_CONN_IDLE)
			tlsio_close_notify(conn->tls);
		tlsio_free(conn->tls);
		conn->tls = NULL;
	}
	if (conn->fd != -1)
		close(conn->fd);
	conn->fd = -1;
	conn->state = HTTP_CONN_CLOSED;
	if (c->conn == conn)
		c->conn = NULL;
	conn->next = c->closed;
	c->closed = conn;
	evtimer_add(c->reap_ev, &zero);
}

static struct http_conn *
http_conn_new(struct http_client *c)
{
	struct http_conn *conn = xcalloc(1, sizeof *conn);

	conn->client = c;
	conn->fd = -1;
	conn->tls_on = c->url.tls;
	conn->host = xstrdup(c->url.host);
	conn->port = c->url.port;
	conn->timer = evtimer_new(c->base, http_conn_io_cb, conn);
	return conn;
}

/* Waits for fd to become readable or writable; replaces any other wait. */
static void
http_conn_wait(struct http_conn *conn, short what)
{
	struct http_client *c = conn->client;

	if (conn->io == NULL)
		conn->io =
		    event_new(c->base, conn->fd, what, http_conn_io_cb, conn);
	else {
		event_del(conn->io);
		event_assign(
		    conn->io, c->base, conn->fd, what, http_conn_io_cb, conn);
	}
	event_add(conn->io, NULL);
}

static void
http_conn_arm(struct http_conn *conn, double seconds)
{
	struct timeval tv = http_client_tv(seconds);

	evtimer_add(conn->timer, &tv);
}

/* Calls the user back once; frees the client afterwards if asked to. */
static void
http_client_finish(struct http_client *c, enum http_layer layer)
{
	struct http_result r;
	http_client_cb cb = c->cb;
	void *arg = c->cb_arg;

	memset(&r, 0, sizeof r);
	r.layer = layer;
	r.error = layer == HTTP_LAYER_NONE ? "" : c->error;
	r.retry_after_s = -1;
	if (layer == HTTP_LAYER_NONE) {
		r.status = http_response_status(c->resp);
		r.response = c->resp;
		r.body = http_response_body(c->resp, &r.body_len);
		r.retry_after_s =
		    http_response_retry_after_s(c->resp, time(NULL));
	}
	r.reused = c->reused;
	r.tls_resumed = c->tls_resumed;
	http_client_account(c);
	r.bytes_received = c->req_in;
	r.bytes_sent = c->req_out;
	r.elapsed_s = http_client_now() - c->started;
	c->busy = 0;
	c->cb = NULL;
	c->cb_arg = NULL;
	event_del(c->throttle_ev);
	c->requests++;
	c->in_cb++;
	cb(&r, arg);
	c->in_cb--;
	if (c->dead && c->in_cb == 0)
		http_client_free(c);
}

/* The one failure path of a request: close, log once, call back. */
static void
http_client_fail(
    struct http_client *c, enum http_layer layer, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof c->error, fmt, ap);
	va_end(ap);
	log_info(c->log_name, "%s request to %s:%d failed (%s): %s",
	    c->url.tls ? "https" : "http", c->url.host, c->url.port,
	    http_layer_name(layer), c->error);
	if (c->conn != NULL)
		http_conn_close(c->conn, c->error);
	http_client_finish(c, layer);
}

/*
 * A kept-alive connection the server had already closed fails before any
 * response byte: that is not an answer, so try once on a fresh one.
 */
static int
http_client_retry_stale(struct http_client *c, const char *why)
{
	if (!c->reused || c->retried || c->got > 0)
		return 0;
	log_debug(c->log_name,
	    "kept-alive connection to %s:%d is gone (%s), reconnecting",
	    c->url.host, c->url.port, why);
	http_conn_close(c->conn, why);
	c->retried = 1;
	c->reused = 0;
	c->sent = 0;
	http_response_reset(c->resp, c->head_method);
	http_client_connect(c);
	return 1;
}

static void
http_conn_connected(struct http_conn *conn, int fd)
{
	struct http_client *c = conn->client;
	char err[256];
	int one = 1;

	conn->fd = fd;
	setsockopt(conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->connections++;
	event_del(conn->timer);
	if (!conn->tls_on) {
		conn->state = HTTP_CONN_SENDING;
		http_client_send_step(c);
		return;
	}
	if ((conn->tls = tlsio_new(
		 c->opt.tls, conn->fd, conn->host, err, sizeof err)) == NULL) {
		http_client_fail(c, HTTP_LAYER_TLS, "TLS with %s:%d: %s",
		    conn->host, conn->port, err);
		return;
	}
	conn->state = HTTP_CONN_HANDSHAKE;
	http_conn_arm(conn, c->opt.handshake_timeout_s);
	http_client_handshake_step(c);
}

/* The timeout says "connect" once resolved; a failure keeps its layer. */
static void
http_conn_dial_cb(const struct dial_result *r, void *arg)
{
	struct http_conn *conn = arg;

	if (r->event == DIAL_RESOLVED) {
		conn->state = HTTP_CONN_CONNECTING;
		return;
	}
	conn->dial = NULL; /* over: it frees itself */
	if (r->event == DIAL_CONNECTED)
		http_conn_connected(conn, r->fd);
	else
		http_client_fail(conn->client,
		    r->layer == DIAL_LAYER_DNS ? HTTP_LAYER_DNS
					       : HTTP_LAYER_TCP,
		    "%s", r->error);
}

static void
http_client_connect(struct http_client *c)
{
	struct http_conn *conn;

	conn = c->conn = http_conn_new(c);
	c->base_in = c->base_out = 0;
	c->tls_resumed = 0;
	conn->state = HTTP_CONN_RESOLVING;
	http_conn_arm(conn, c->opt.connect_timeout_s);
	conn->dial = dial_start(
	    c->base, c->dns, conn->host, conn->port, http_conn_dial_cb, conn);
}

static void
http_client_handshake_step(struct http_client *c)
{
	struct http_conn *conn = c->conn;
	char err[256];

	switch (tlsio_handshake(conn->tls, err, sizeof err)) {
	case TLSIO_OK:
		log_debug(c->log_name, "TLS with %s:%d: %s %s%s", conn->host,
		    conn->port, tlsio_version(conn->tls),
		    tlsio_ciphersuite(conn->tls),
		    tlsio_resumed(conn->tls) ? ", resumed" : "");
		c->tls_resumed = tlsio_resumed(conn->tls);
		event_del(conn->timer);
		conn->state = HTTP_CONN_SENDING;
		http_client_send_step(c);
		return;
	case TLSIO_WANT_READ:
		http_conn_wait(conn, EV_READ);
		return;
	case TLSIO_WANT_WRITE:
		http_conn_wait(conn, EV_WRITE);
		return;
	default:
		http_client_fail(c, HTTP_LAYER_TLS,
		    "TLS handshake with %s:%d: %s", conn->host, conn->port,
		    err);
		return;
	}
}

static void
http_client_throttle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *c = arg;

	if (c->conn != NULL && c->conn->state == HTTP_CONN_SENDING)
		http_client_send_step(c);
}

/* Bytes the bandwidth cap allows now; arms the throttle timer at 0. */
static size_t
http_client_allowance(struct http_client *c)
{
	double now, rate = (double)c->opt.max_bytes_per_s;
	double burst = rate < HTTP_CLIENT_MIN_SEND * 2
	    ? HTTP_CLIENT_MIN_SEND * 2
	    : rate / 4;
	struct timeval tv;

	if (c->opt.max_bytes_per_s == 0)
		return SIZE_MAX;
	now = http_client_now();
	c->tokens += (now - c->tokens_at) * rate;
	c->tokens_at = now;
	if (c->tokens > burst)
		c->tokens = burst;
	if (c->tokens >= HTTP_CLIENT_MIN_SEND)
		return (size_t)c->tokens;
	tv = http_client_tv((HTTP_CLIENT_MIN_SEND - c->tokens) / rate);
	evtimer_add(c->throttle_ev, &tv);
	return 0;
}

/*
 * A TLS 1.3 server judges the client certificate after our handshake is
 * over and closes with an alert: when sending then fails, the alert that
 * says why may be waiting on the socket. 1 when it was, with err set.
 */
static int
http_client_tls_alert(struct http_client *c, char *err, size_t errlen)
{
	unsigned char buf[256];
	char cause[256];
	size_t n;

	if (c->got > 0 ||
	    tlsio_read(c->conn->tls, buf, sizeof buf, &n, cause,
		sizeof cause) != TLSIO_ERROR_TLS)
		return 0;
	snprintf(err, errlen, "%s", cause);
	return 1;
}

static void
http_client_send_step(struct http_client *c)
{
	struct http_conn *conn = c->conn;
	const unsigned char *p;
	size_t len, n, allow;
	ssize_t w;
	char err[256];
	int progress = 0;

	while (c->sent < c->head_len + c->body_len) {
		if (c->sent < c->head_len) {
			p = (const unsigned char *)c->head + c->sent;
			len = c->head_len - c->sent;
		} else {
			p = c->body + (c->sent - c->head_len);
			len = c->body_len - (c->sent - c->head_len);
		}
		if ((allow = http_client_allowance(c)) == 0)
			break;
		if (len > allow)
			len = allow;
		if (conn->tls != NULL) {
			switch (tlsio_write(
			    conn->tls, p, len, &n, err, sizeof err)) {
			case TLSIO_OK:
				break;
			case TLSIO_WANT_READ:
				http_conn_wait(conn, EV_READ);
				goto wait;
			case TLSIO_WANT_WRITE:
				http_conn_wait(conn, EV_WRITE);
				goto wait;
			case TLSIO_ERROR_IO:
				if (http_client_retry_stale(c, err))
					return;
				if (http_client_tls_alert(c, err, sizeof err)) {
					http_client_fail(c, HTTP_LAYER_TLS,
					    "TLS send to %s:%d: %s", conn->host,
					    conn->port, err);
					return;
				}
				http_client_fail(c, HTTP_LAYER_TCP,
				    "send to %s:%d: %s", conn->host, conn->port,
				    err);
				return;
			default:
				http_client_fail(c, HTTP_LAYER_TLS,
				    "TLS send to %s:%d: %s", conn->host,
				    conn->port, err);
				return;
			}
		} else {
			w = send(conn->fd, p, len, MSG_NOSIGNAL);
			if (w == -1) {
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR) {
					http_conn_wait(conn, EV_WRITE);
					goto wait;
				}
				snprintf(
				    err, sizeof err, "%s", strerror(errno));
				if (http_client_retry_stale(c, err))
					return;
				http_client_fail(c, HTTP_LAYER_TCP,
				    "send to %s:%d: %s", conn->host, conn->port,
				    err);
				return;
			}
			n = (size_t)w;
			conn->bytes_out += n;
		}
		c->sent += n;
		if (c->opt.max_bytes_per_s > 0)
			c->tokens -= n;
		progress = 1;
	}
	if (c->sent == c->head_len + c->body_len) {
		conn->state = HTTP_CONN_RECEIVING;
		http_conn_arm(conn, c->opt.response_timeout_s);
		http_conn_wait(conn, EV_READ);
		return;
	}
	/* Throttled: nothing to wait for on the socket. */
	if (conn->io != NULL)
		event_del(conn->io);
wait:
	/* While sending, the timeout counts from the last progress. */
	if (progress)
		http_conn_arm(conn, c->opt.response_timeout_s);
}

/* A complete response: keep the connection if the server allows it. */
static void
http_client_complete(struct http_client *c)
{
	struct http_conn *conn = c->conn;

	if (conn->no_reuse || !http_response_keep_alive(c->resp) ||
	    c->opt.idle_timeout_s < 0)
		http_conn_close(conn,
		    conn->no_reuse ? "bytes after the response"
				   : "server does not keep alive");
	else {
		conn->state = HTTP_CONN_IDLE;
		http_conn_arm(conn, c->opt.idle_timeout_s);
		http_conn_wait(conn, EV_READ);
	}
	http_client_finish(c, HTTP_LAYER_NONE);
}

/* Feeds what arrived; returns 1 when the request is over. */
static int
http_client_feed(struct http_client *c, const unsigned char *buf, size_t n)
{
	struct http_conn *conn = c->conn;
	size_t used;

	c->got += n;
	switch (http_response_feed(c->resp, buf, n, &used)) {
	case HTTP_RESPONSE_DONE:
		if (used < n)
			conn->no_reuse = 1;
		http_client_complete(c);
		return 1;
	case HTTP_RESPONSE_ERROR:
		http_client_fail(c, HTTP_LAYER_HTTP,
		    "bad response from %s:%d: %s", conn->host, conn->port,
		    http_response_error(c->resp));
		return 1;
	default:
		return 0;
	}
}

static void
http_client_eof(struct http_client *c)
{
	struct http_conn *conn = c->conn;

	if (http_client_retry_stale(c, "closed by the server"))
		return;
	if (http_response_eof(c->resp) == HTTP_RESPONSE_DONE) {
		http_client_complete(c);
		return;
	}
	http_client_fail(c, HTTP_LAYER_HTTP, "bad response from %s:%d: %s",
	    conn->host, conn->port, http_response_error(c->resp));
}

static void
http_client_recv_step(struct http_client *c)
{
	struct http_conn *conn = c->conn;
	unsigned char buf[HTTP_CLIENT_READ_CHUNK];
	char err[256];
	size_t n;
	ssize_t r;

	/* Read until the socket is dry: TLS may hold decrypted bytes. */
	for (;;) {
		if (conn->tls != NULL) {
			switch (tlsio_read(
			    conn->tls, buf, sizeof buf, &n, err, sizeof err)) {
			case TLSIO_OK:
				break;
			case TLSIO_EOF:
				http_client_eof(c);
				return;
			case TLSIO_WANT_READ:
				http_conn_wait(conn, EV_READ);
				return;
			case TLSIO_WANT_WRITE:
				http_conn_wait(conn, EV_WRITE);
				return;
			case TLSIO_ERROR_IO:
				if (http_client_retry_stale(c, err))
					return;
				http_client_fail(c, HTTP_LAYER_TCP,
				    "read from %s:%d: %s", conn->host,
				    conn->port, err);
				return;
			default:
				http_client_fail(c, HTTP_LAYER_TLS,
				    "TLS read from %s:%d: %s", conn->host,
				    conn->port, err);
				return;
			}
		} else {
			r = recv(conn->fd, buf, sizeof buf, 0);
			if (r == 0) {
				http_client_eof(c);
				return;
			}
			if (r == -1) {
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR) {
					http_conn_wait(conn, EV_READ);
					return;
				}
				snprintf(
				    err, sizeof err, "%s", strerror(errno));
				if (http_client_retry_stale(c, err))
					return;
				http_client_fail(c, HTTP_LAYER_TCP,
				    "read from %s:%d: %s", conn->host,
				    conn->port, err);
				return;
			}
			n = (size_t)r;
			conn->bytes_in += n;
		}
		if (http_client_feed(c, buf, n))
			return;
	}
}

/* Something arrived on a kept-alive connection: a close, or junk. */
static void
http_conn_idle_readable(struct http_conn *conn)
{
	unsigned char buf[256];
	char err[256];
	size_t n;
	ssize_t r;

	if (conn->tls != NULL) {
		switch (tlsio_read(
		    conn->tls, buf, sizeof buf, &n, err, sizeof err)) {
		case TLSIO_WANT_READ: /* a session ticket, say */
			http_conn_wait(conn, EV_READ);
			return;
		case TLSIO_WANT_WRITE:
			http_conn_wait(conn, EV_WRITE);
			return;
		case TLSIO_OK:
			http_conn_close(conn, "unexpected data while idle");
			return;
		case TLSIO_EOF:
			http_conn_close(
			    conn, "closed by the server while idle");
			return;
		default:
			http_conn_close(conn, err);
			return;
		}
	}
	r = recv(conn->fd, buf, sizeof buf, MSG_PEEK);
	if (r == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		http_conn_wait(conn, EV_READ);
		return;
	}
	http_conn_close(conn,
	    r > 0 ? "unexpected data while idle"
		  : "closed by the server while idle");
}

static void
http_conn_timeout(struct http_conn *conn)
{
	struct http_client *c = conn->client;

	switch (conn->state) {
	case HTTP_CONN_RESOLVING:
		http_client_fail(c, HTTP_LAYER_DNS,
		    "resolve %s: timed out after %.1f s", conn->host,
		    c->opt.connect_timeout_s);
		break;
	case HTTP_CONN_CONNECTING:
		http_client_fail(c, HTTP_LAYER_TCP,
		    "connect to %s:%d: timed out after %.1f s", conn->host,
		    conn->port, c->opt.connect_timeout_s);
		break;
	case HTTP_CONN_HANDSHAKE:
		http_client_fail(c, HTTP_LAYER_TLS,
		    "TLS handshake with %s:%d: timed out after %.1f s",
		    conn->host, conn->port, c->opt.handshake_timeout_s);
		break;
	case HTTP_CONN_SENDING:
		http_client_fail(c, HTTP_LAYER_HTTP,
		    "send to %s:%d: no progress for %.1f s", conn->host,
		    conn->port, c->opt.response_timeout_s);
		break;
	case HTTP_CONN_RECEIVING:
		http_client_fail(c, HTTP_LAYER_HTTP,
		    "no complete response "
		    "from %s:%d within %.1f s (%zu bytes received)",
		    conn->host, conn->port, c->opt.response_timeout_s, c->got);
		break;
	case HTTP_CONN_IDLE:
		http_conn_close(conn, "idle timeout");
		break;
	case HTTP_CONN_CLOSED:
		break;
	}
}

/* Socket ready or deadline passed: resume whichever step was waiting. */
static void
http_conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *conn = arg;
	struct http_client *c = conn->client;

	if (what & EV_TIMEOUT) {
		http_conn_timeout(conn);
		return;
	}
	switch (conn->state) {
	case HTTP_CONN_HANDSHAKE:
		http_client_handshake_step(c);
		break;
	case HTTP_CONN_SENDING:
		http_client_send_step(c);
		break;
	case HTTP_CONN_RECEIVING:
		http_client_recv_step(c);
		break;
	case HTTP_CONN_IDLE:
		http_conn_idle_readable(conn);
		break;
	default:
		break;
	}
}

/* Zero-timeout start, so the callback never runs inside request(). */
static void
http_client_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *c = arg;
	struct http_conn *conn = c->conn;

	c->started = http_client_now();
	c->tokens_at = c->started;
	c->tokens = 0;
	c->req_in = c->req_out = 0;
	c->tls_resumed = 0;
	http_response_reset(c->resp, c->head_method);
	if (conn != NULL && conn->state == HTTP_CONN_IDLE &&
	    conn->tls_on == c->url.tls && conn->port == c->url.port &&
	    strcasecmp(conn->host, c->url.host) == 0) {
		c->reused = 1;
		http_conn_bytes(conn, &c->base_in, &c->base_out);
		event_del(conn->timer);
		conn->state = HTTP_CONN_SENDING;
		http_client_send_step(c);
		return;
	}
	if (conn != NULL)
		http_conn_close(conn, "another server");
	http_client_connect(c);
}

struct http_client *
http_client_new(struct event_base *base, const struct http_client_options *o)
{
	struct http_client *c = xcalloc(1, sizeof *c);
	struct http_response_limits limits;

	c->base = base;
	if (o != NULL)
		c->opt = *o;
	if (c->opt.connect_timeout_s <= 0)
		c->opt.connect_timeout_s = 10;
	if (c->opt.handshake_timeout_s <= 0)
		c->opt.handshake_timeout_s = 10;
	if (c->opt.response_timeout_s <= 0)
		c->opt.response_timeout_s = 30;
	if (c->opt.idle_timeout_s == 0)
		c->opt.idle_timeout_s = 60;
	c->log_name =
	    xstrdup(c->opt.log_name != NULL ? c->opt.log_name : "http");
	c->opt.log_name = c->log_name;
	if ((c->dns = c->opt.dns) == NULL) {
		c->dns = evdns_base_new(base,
		    EVDNS_BASE_INITIALIZE_NAMESERVERS |
			EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		c->own_dns = 1;
	}
	memset(&limits, 0, sizeof limits);
	limits.max_header_bytes = c->opt.max_header_bytes;
	limits.max_body_bytes = c->opt.max_body_bytes;
	c->resp = http_response_new(&limits);
	c->start_ev = evtimer_new(base, http_client_start_cb, c);
	c->reap_ev = evtimer_new(base, http_client_reap_cb, c);
	c->throttle_ev = evtimer_new(base, http_client_throttle_cb, c);
	return c;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	if (c->in_cb > 0) {
		c->dead = 1;
		return;
	}
	if (c->conn != NULL)
		http_conn_close(c->conn, "client freed");
	http_client_reap_cb(-1, 0, c);
	event_free(c->start_ev);
	event_free(c->reap_ev);
	event_free(c->throttle_ev);
	if (c->own_dns && c->dns != NULL)
		evdns_base_free(c->dns, 0);
	http_response_free(c->resp);
	http_url_clear(&c->url);
	free(c->head);
	free(c->log_name);
	free(c);
}

static int
http_client_header_ok(const char *h, char *err, size_t errlen)
{
	static const char *own[] = { "Host", "Content-Length",
		"Transfer-Encoding", "Connection" };
	const char *colon = strchr(h, ':');
	size_t i, len;

	if (colon == NULL || colon == h || strpbrk(h, "\r\n") != NULL)
		goto bad;
	len = colon - h;
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)h[i]) &&
		    strchr("!#$%&'*+-.^_`|~", h[i]) == NULL)
			goto bad;
	}
	for (i = 0; i < sizeof own / sizeof own[0]; i++) {
		if (strlen(own[i]) == len && strncasecmp(h, own[i], len) == 0) {
			xerrorf(err, errlen, "header %s is set by the client",
			    own[i]);
			return -1;
		}
	}
	return 0;
bad:
	xerrorf(err, errlen, "bad request header: %.60s", h);
	return -1;
}

int
http_client_request(struct http_client *c, const struct http_request *req,
    http_client_cb cb, void *arg, char *err, size_t errlen)
{
	struct http_url u;
	struct timeval zero = { 0, 0 };
	const char *m;
	char *head = NULL, *tmp, hostport[300];
	size_t i;

	if (c->busy || c->dead) {
		xerrorf(err, errlen, "a request is already in progress");
		return -1;
	}
	for (m = req->method; m != NULL && *m != '\0'; m++) {
		if (!isupper((unsigned char)*m))
			break;
	}
	if (req->method == NULL || *req->method == '\0' || *m != '\0') {
		xerrorf(err, errlen, "bad method");
		return -1;
	}
	if (http_url_parse(req->url, &u, err, errlen) == -1)
		return -1;
	if (u.tls && c->opt.tls == NULL) {
		xerrorf(err, errlen, "%s: https needs a TLS configuration",
		    req->url);
		http_url_clear(&u);
		return -1;
	}
	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		if (http_client_header_ok(req->headers[i], err, errlen) == -1) {
			http_url_clear(&u);
			return -1;
		}
	}

	if (strchr(u.host, ':') != NULL)
		snprintf(hostport, sizeof hostport, "[%s]", u.host);
	else
		snprintf(hostport, sizeof hostport, "%s", u.host);
	if (u.port != (u.tls ? 443 : 80)) {
		size_t hl = strlen(hostport);

		snprintf(hostport + hl, sizeof hostport - hl, ":%d", u.port);
	}
	xasprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\n", req->method, u.path,
	    hostport);
	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		xasprintf(&tmp, "%s%s\r\n", head, req->headers[i]);
		free(head);
		head = tmp;
	}
	if (req->body_len > 0 || strcmp(req->method, "POST") == 0 ||
	    strcmp(req->method, "PUT") == 0 ||
	    strcmp(req->method, "PATCH") == 0) {
		xasprintf(
		    &tmp, "%sContent-Length: %zu\r\n", head, req->body_len);
		free(head);
		head = tmp;
	}
	xasprintf(&tmp, "%s%s\r\n", head,
	    c->opt.idle_timeout_s < 0 ? "Connection: close\r\n" : "");
	free(head);
	head = tmp;

	http_url_clear(&c->url);
	c->url = u;
	free(c->head);
	c->head = head;
	c->head_len = strlen(head);
	c->head_method = strcmp(req->method, "HEAD") == 0;
	c->body = req->body;
	c->body_len = req->body_len;
	c->sent = 0;
	c->got = 0;
	c->reused = 0;
	c->retried = 0;
	c->cb = cb;
	c->cb_arg = arg;
	c->busy = 1;
	evtimer_add(c->start_ev, &zero);
	return 0;
}

void
http_client_cancel(struct http_client *c)
{
	if (!c->busy)
		return;
	event_del(c->start_ev);
	event_del(c->throttle_ev);
	if (c->conn != NULL)
		http_conn_close(c->conn, "request cancelled");
	c->busy = 0;
	c->cb = NULL;
	c->cb_arg = NULL;
}

void
http_client_close_idle(struct http_client *c)
{
	if (c->conn != NULL && c->conn->state == HTTP_CONN_IDLE)
		http_conn_close(c->conn, "closed by its user");
}

int
http_client_busy(const struct http_client *c)
{
	return c->busy;
}

int
http_client_connected(const struct http_client *c)
{
	return c->conn != NULL && c->conn->state >= HTTP_CONN_HANDSHAKE &&
	    c->conn->state != HTTP_CONN_CLOSED;
}

unsigned long long
http_client_connections(const struct http_client *c)
{
	return c->connections;
}

unsigned long long
http_client_requests(const struct http_client *c)
{
	return c->requests;
}
