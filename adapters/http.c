/*
 * The http adapter. mode = "push": POST /ingest bodies (JSON readings or
 * line protocol) routed here by the agent, answered 204 only once every
 * reading of the body is committed. mode = "poll": GET url every interval
 * with the project's HTTP client and decode the answer. Payload formats are
 * payload.c's; the listener is the health port's.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "adapter.h"
#include "http_client.h"
#include "json_out.h"
#include "log.h"
#include "payload.h"
#include "recid.h"
#include "tlsio.h"
#include "xmalloc.h"

#define HTTP_DEFAULT_BODY_BYTES (1024 * 1024)
#define HTTP_DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

enum http_mode {
	HTTP_MODE_PUSH,
	HTTP_MODE_POLL,
};

/* Push body formats; AUTO goes by Content-Type, then by the first byte. */
enum http_push_format {
	HTTP_PUSH_AUTO,
	HTTP_PUSH_JSON,
	HTTP_PUSH_INFLUX,
};

static const char *const http_mode_names[] = { "push", "poll", NULL };
static const char *const http_push_format_names[] = { "auto", "json", "influx",
	NULL };
static const char *const http_poll_format_names[] = { "json", "number",
	"influx", NULL };
static const enum payload_format http_poll_formats[] = { PAYLOAD_JSON,
	PAYLOAD_NUMBER, PAYLOAD_INFLUX };

/* Keys of one mode only; setting them in the other mode is an error. */
static const char *const http_push_keys[] = { "token", "max_body_bytes",
	"max_readings", NULL };
static const char *const http_poll_keys[] = { "url", "value_path", "ts_path",
	"timeout", "headers", "ca_file", "client_cert", "client_key",
	"insecure", "scale", "offset", NULL };

struct http_ad;

static const struct adapter_ops http_poll_ops;

/*
 * One POST /ingest body between decode and reply: counts its readings down
 * as the pipeline commits them. Outlives the adapter when the adapter is
 * freed first (a = NULL) and the request when its connection is freed
 * first (req = NULL).
 */
struct http_ingest {
	struct http_ad *h;
	struct evhttp_request *req;
	struct evhttp_connection *evcon; /* whose close callback is ours */
	size_t pending;			 /* submitted, not yet done */
	size_t readings;
	int submitting; /* inside the submit loop */
	int refused;	/* a reading was not committed */
	struct http_ingest *prev;
	struct http_ingest *next;
};

struct http_ad {
	struct adapter *a;
	enum http_mode mode;
	struct payload *payload;
	struct payload_opts popts;

	/* push */
	enum http_push_format push_format;
	char *token; /* secret; "" = none */
	size_t max_body_bytes;
	struct http_ingest *ingests; /* waiting for their commit */
	unsigned long long requests;
	unsigned long long accepted; /* 204 */
	unsigned long long bad;	     /* 400 */
	unsigned long long unauthorized;
	unsigned long long too_large;
	unsigned long long refused; /* 503 */
	unsigned long long readings_committed;

	/* poll */
	char *url;
	char *url_shown; /* without the query, for status */
	const char *const *headers;
	double timeout_s;
	struct tlsio_params tls_params;
	struct tlsio_config *tls;
	struct http_client *client;
	struct event *timer;
	int polling;
	unsigned long long polls;
	unsigned long long poll_failures;
	unsigned long long polls_skipped; /* the previous one still ran */
	int last_status;
	double last_poll_s;
};

static int
http_check_mode_keys(struct config *cfg, const struct cfg_device *dev,
    const char *const *keys, const char *mode)
{
	struct toml_value *v;
	int bad = 0;

	for (; *keys != NULL; keys++) {
		if ((v = toml_get(dev->table, *keys)) == NULL)
			continue;
		v->flags |= TOML_USED;
		cfg_error(cfg, v->line,
		    "[[device]] %s: %s applies to mode = \"%s\" only",
		    dev->name, *keys, mode);
		bad = -1;
	}
	return bad;
}

/* The line of a key in the file, else the device's. */
static int
http_key_line(const struct cfg_device *dev, const char *key)
{
	struct toml_value *v = toml_get(dev->table, key);

	return v != NULL && v->line > 0 ? v->line : dev->line;
}

static int
http_configure_push(
    struct http_ad *h, struct config *cfg, const struct cfg_device *dev)
{
	long long body, readings;
	int fmt, bad = 0;

	bad |= cfg_get_enum(cfg, dev->table, "format", http_push_format_names,
	    HTTP_PUSH_AUTO, &fmt);
	bad |= cfg_get_secret(cfg, dev->table, "token", "", &h->token);
	bad |= cfg_get_int(cfg, dev->table, "max_body_bytes",
	    HTTP_DEFAULT_BODY_BYTES, 16, 1073741824, &body);
	bad |= cfg_get_int(cfg, dev->table, "max_readings",
	    PAYLOAD_MAX_READINGS, 1, PAYLOAD_MAX_READINGS, &readings);
	bad |= http_check_mode_keys(cfg, dev, http_poll_keys, "poll");
	h->push_format = (enum http_push_format)fmt;
	h->max_body_bytes = (size_t)body;
	h->popts.max_readings = (size_t)readings;
	return bad;
}

static int
http_configure_poll(
    struct http_ad *h, struct config *cfg, const struct cfg_device *dev)
{
	struct http_url u;
	char err[256], **headers, *s;
	size_t nheaders, i;
	int fmt, bad = 0;

	bad |= cfg_get_string(cfg, dev->table, "url", "", &h->url);
	bad |= cfg_get_enum(
	    cfg, dev->table, "format", http_poll_format_names, 0, &fmt);
	bad |= cfg_get_string(cfg, dev->table, "value_path", "", &s);
	h->popts.value_path = s;
	bad |= cfg_get_string(cfg, dev->table, "ts_path", "", &s);
	h->popts.ts_path = s;
	bad |= cfg_get_double(
	    cfg, dev->table, "timeout", 10.0, 0.001, 3600, &h->timeout_s);
	bad |= cfg_get_strings(cfg, dev->table, "headers", &headers, &nheaders);
	bad |= cfg_get_string(
	    cfg, dev->table, "ca_file", HTTP_DEFAULT_CA_FILE, &s);
	h->tls_params.ca_file = s;
	bad |= cfg_get_string(cfg, dev->table, "client_cert", "", &s);
	h->tls_params.client_cert = s[0] != '\0' ? s : NULL;
	bad |= cfg_get_string(cfg, dev->table, "client_key", "", &s);
	h->tls_params.client_key = s[0] != '\0' ? s : NULL;
	bad |= cfg_get_bool(
	    cfg, dev->table, "insecure", 0, &h->tls_params.insecure);
	bad |= cfg_get_double(
	    cfg, dev->table, "scale", 1.0, -1e300, 1e300, &h->popts.scale);
	bad |= cfg_get_double(
	    cfg, dev->table, "offset", 0.0, -1e300, 1e300, &h->popts.offset);
	bad |= http_check_mode_keys(cfg, dev, http_push_keys, "push");
	h->popts.format = http_poll_formats[fmt];
	h->headers = (const char *const *)headers;
	if (h->url[0] == '\0') {
		cfg_error(cfg, dev->line,
		    "[[device]] %s: mode = \"poll\" needs url", dev->name);
		bad = -1;
	} else if (http_url_parse(h->url, &u, err, sizeof err) == -1) {
		cfg_error(cfg, http_key_line(dev, "url"),
		    "[[device]] %s: url: %s", dev->name, err);
		bad = -1;
	} else
		http_url_clear(&u);
	if (h->popts.scale == 0) {
		cfg_error(cfg, http_key_line(dev, "scale"),
		    "[[device]] %s: scale must not be 0", dev->name);
		bad = -1;
	}
	if ((h->tls_params.client_cert == NULL) !=
	    (h->tls_params.client_key == NULL)) {
		cfg_error(cfg,
		    http_key_line(dev,
			h->tls_params.client_cert != NULL ? "client_cert"
							  : "client_key"),
		    "[[device]] %s: client_cert and client_key go together",
		    dev->name);
		bad = -1;
	}
	for (i = 0; i < nheaders; i++) {
		s = strchr(headers[i], ':');
		if (s == NULL || s == headers[i] ||
		    strpbrk(headers[i], "\r\n") != NULL) {
			cfg_error(cfg, http_key_line(dev, "headers"),
			    "[[device]] %s: headers element %zu: expected "
			    "\"Name: value\"",
			    dev->name, i + 1);
			bad = -1;
		}
	}
	h->url_shown = xstrndup(h->url, strcspn(h->url, "?#"));
	return bad;
}

static int
http_configure(struct adapter *a, struct config *cfg,
    const struct cfg_device *dev, char **cause)
{
	struct http_ad *h = xcalloc(1, sizeof *h);
	int mode, bad = 0;

	a->priv = h;
	h->a = a;
	if (!cfg_has(dev->table, "mode")) {
		cfg_error(cfg, dev->line,
		    "[[device]] %s: type = \"http\" needs mode = \"push\" or "
		    "\"poll\"",
		    dev->name);
		return -1;
	}
	bad |= cfg_get_enum(
	    cfg, dev->table, "mode", http_mode_names, HTTP_MODE_PUSH, &mode);
	h->mode = (enum http_mode)mode;
	if (bad)
		return -1;
	if (h->mode == HTTP_MODE_PUSH)
		bad = http_configure_push(h, cfg, dev);
	else {
		bad = http_configure_poll(h, cfg, dev);
		/* The agent routes POST /ingest to every table with ingest. */
		a->ops = &http_poll_ops;
	}
	if (bad)
		return -1;
	if (h->mode == HTTP_MODE_PUSH && cfg->health.max_body_bytes > 0 &&
	    (size_t)cfg->health.max_body_bytes < h->max_body_bytes)
		h->max_body_bytes = (size_t)cfg->health.max_body_bytes;
	if ((h->payload = payload_new()) == NULL) {
		xasprintf(cause, "[[device]] %s: cannot open the JSON parser",
		    dev->name);
		return -1;
	}
	return 0;
}

/* Constant time whatever the strings: both are hashed first. */
static int
http_token_equal(const char *given, const char *want)
{
	unsigned char a[RECORD_ID_LEN], b[RECORD_ID_LEN];
	unsigned char diff = 0;
	size_t i;

	recid_sha256(given, strlen(given), a);
	recid_sha256(want, strlen(want), b);
	for (i = 0; i < sizeof a; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* Answers with {"error":msg}; extra headers are the caller's. */
static void
http_reply_error(struct evhttp_request *req, int code, const char *msg)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();
	struct json_out j;

	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	json_out_string(&j, "error", msg);
	json_out_object_end(&j);
	json_out_bytes(&j, "\n", 1);
	evhttp_add_header(out, "Content-Type", "application/json");
	if (body != NULL)
		evbuffer_add(body, j.buf, j.len);
	evhttp_send_reply(req, code, NULL, body);
	if (body != NULL)
		evbuffer_free(body);
	json_out_free(&j);
}

static void
http_ingest_unlink(struct http_ingest *ing)
{
	struct http_ad *h = ing->h;

	if (ing->prev != NULL)
		ing->prev->next = ing->next;
	else if (h != NULL && h->ingests == ing)
		h->ingests = ing->next;
	if (ing->next != NULL)
		ing->next->prev = ing->prev;
	ing->prev = ing->next = NULL;
}

/*
 * The connection goes away with our request unanswered. evhttp frees the
 * request with it when the request is still attached (evhttp_free at
 * shutdown); after a network failure it detaches the request first, and
 * then the reply we send later is what frees it.
 */
static void
http_ingest_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http_ingest *ing = arg;

	ing->evcon = NULL;
	if (ing->req != NULL &&
	    evhttp_request_get_connection(ing->req) == evcon)
		ing->req = NULL;
}

/* Every reading of the body is done: answer, count, forget. */
static void
http_ingest_finish(struct http_ingest *ing)
{
	struct http_ad *h = ing->h;
	struct evhttp_request *req = ing->req;

	if (ing->evcon != NULL)
		evhttp_connection_set_closecb(ing->evcon, NULL, NULL);
	if (h != NULL) {
		if (ing->refused) {
			h->refused++;
			adapter_error(h->a,
			    "POST /ingest: %zu readings not all committed, "
			    "answered 503",
			    ing->readings);
		} else {
			h->accepted++;
			h->readings_committed += ing->readings;
		}
	}
	if (req != NULL) {
		if (ing->refused) {
			evhttp_add_header(
			    evhttp_request_get_output_headers(req),
			    "Retry-After", "1");
			http_reply_error(
			    req, 503, "readings could not be stored; retry");
		} else
			evhttp_send_reply(req, 204, "No Content", NULL);
	}
	http_ingest_unlink(ing);
	free(ing);
}

static void
http_ingest_done_cb(int ok, void *arg)
{
	struct http_ingest *ing = arg;

	if (!ok)
		ing->refused = 1;
	if (--ing->pending == 0 && !ing->submitting)
		http_ingest_finish(ing);
}

static int
http_ingest_reading_cb(void *arg, struct reading *r)
{
	struct http_ingest *ing = arg;

	ing->pending++;
	ing->readings++;
	adapter_submit(ing->h->a, r, http_ingest_done_cb, ing);
	return 0;
}

/* Which payload format a body is in. */
static enum payload_format
http_ingest_format(const struct http_ad *h, struct evhttp_request *req,
    const unsigned char *data, size_t len)
{
	const char *ct;
	size_t i;

	switch (h->push_format) {
	case HTTP_PUSH_JSON:
		return PAYLOAD_JSON;
	case HTTP_PUSH_INFLUX:
		return PAYLOAD_INFLUX;
	case HTTP_PUSH_AUTO:
		break;
	}
	ct = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Content-Type");
	if (ct != NULL && strncasecmp(ct, "application/json", 16) == 0)
		return PAYLOAD_JSON;
	if (ct != NULL && strncasecmp(ct, "text/plain", 10) == 0)
		return PAYLOAD_INFLUX;
	for (i = 0; i < len; i++) {
		if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' &&
		    data[i] != '\n')
			break;
	}
	return i < len && (data[i] == '{' || data[i] == '[') ? PAYLOAD_JSON
							     : PAYLOAD_INFLUX;
}

/* 0 when the request may go on; otherwise it was answered 401 here. */
static int
http_ingest_auth(struct http_ad *h, struct evhttp_request *req)
{
	const char *auth, *given = "";

	if (h->token[0] == '\0')
		return 0;
	auth = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization");
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
		given = auth + 7;
		given += strspn(given, " ");
	}
	if (auth != NULL && http_token_equal(given, h->token))
		return 0;
	h->unauthorized++;
	adapter_error(
	    h->a, "POST /ingest: %s token", auth == NULL ? "missing" : "wrong");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "WWW-Authenticate",
	    auth == NULL ? "Bearer realm=\"outpost\""
			 : "Bearer realm=\"outpost\", error=\"invalid_token\"");
	http_reply_error(
	    req, 401, auth == NULL ? "missing token" : "invalid token");
	return -1;
}

/* POST /ingest: decode the whole body, submit, answer after the commit. */
static void
http_ingest(struct adapter *a, struct evhttp_request *req)
{
	struct http_ad *h = a->priv;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct payload_opts o = h->popts;
	struct http_ingest *ing;
	const unsigned char *data;
	size_t len = evbuffer_get_length(in);
	char err[256];
	long n;

	h->requests++;
	if (h->mode != HTTP_MODE_PUSH || a->state == ADAPTER_STOPPED) {
		http_reply_error(req, 503, "device not accepting pushes");
		return;
	}
	if (http_ingest_auth(h, req) == -1)
		return;
	if (len > h->max_body_bytes) {
		h->too_large++;
		adapter_error(a, "POST /ingest: body of %zu bytes over %zu",
		    len, h->max_body_bytes);
		http_reply_error(req, 413, "body too large");
		return;
	}
	data = len > 0 ? evbuffer_pullup(in, -1) : (const unsigned char *)"";
	if (data == NULL) {
		http_reply_error(req, 503, "out of memory");
		return;
	}
	o.format = http_ingest_format(h, req, data, len);
	ing = xcalloc(1, sizeof *ing);
	ing->h = h;
	ing->req = req;
	ing->submitting = 1;
	n = payload_decode(h->payload, &o, (const char *)data, len,
	    http_ingest_reading_cb, ing, err, sizeof err);
	ing->submitting = 0;
	if (n == -1) {
		/* Decoding is all or nothing: no reading went out. */
		h->bad++;
		adapter_error(a, "POST /ingest: %s body: %s",
		    payload_format_name(o.format), err);
		http_reply_error(req, 400, err);
		free(ing);
		return;
	}
	if (ing->pending == 0) {
		http_ingest_finish(ing);
		return;
	}
	ing->next = h->ingests;
	if (h->ingests != NULL)
		h->ingests->prev = ing;
	h->ingests = ing;
	if ((ing->evcon = evhttp_request_get_connection(req)) != NULL)
		evhttp_connection_set_closecb(
		    ing->evcon, http_ingest_close_cb, ing);
}

static void http_poll_response_cb(const struct http_result *, void *);

static void http_poll_fail(struct http_ad *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One failed poll: counted, kept as last_error, state ERROR. */
static void
http_poll_fail(struct http_ad *h, const char *fmt, ...)
{
	char msg[sizeof h->a->last_error];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	h->poll_failures++;
	adapter_error(h->a, "%s", msg);
	adapter_set_state(h->a, ADAPTER_ERROR);
}

static void
http_poll_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_ad *h = arg;
	struct http_client_options o;
	struct http_request rq;
	char err[256];

	if (h->polling) {
		h->polls_skipped++;
		return;
	}
	if (h->tls == NULL && strncmp(h->url, "https://", 8) == 0) {
		if ((h->tls = tlsio_config_new(
			 &h->tls_params, err, sizeof err)) == NULL) {
			http_poll_fail(h, "TLS: %s", err);
			return;
		}
	}
	if (h->client == NULL) {
		memset(&o, 0, sizeof o);
		o.tls = h->tls;
		o.connect_timeout_s = h->timeout_s;
		o.handshake_timeout_s = h->timeout_s;
		o.response_timeout_s = h->timeout_s;
		/* Keep the connection only when polls come often. */
		o.idle_timeout_s = h->a->dev->interval_s <= 30
		    ? h->a->dev->interval_s * 2 + 1
		    : -1;
		o.log_name = h->a->name;
		h->client = http_client_new(h->a->base, &o);
	}
	memset(&rq, 0, sizeof rq);
	rq.method = "GET";
	rq.url = h->url;
	rq.headers = h->headers;
	h->polls++;
	h->last_poll_s = adapter_now();
	if (http_client_request(h->client, &rq, http_poll_response_cb, h, err,
		sizeof err) == -1) {
		http_poll_fail(h, "GET: %s", err);
		return;
	}
	h->polling = 1;
}

static int
http_poll_reading_cb(void *arg, struct reading *r)
{
	struct http_ad *h = arg;

	adapter_submit(h->a, r, NULL, NULL);
	return 0;
}

static void
http_poll_response_cb(const struct http_result *res, void *arg)
{
	struct http_ad *h = arg;
	char err[256];

	h->polling = 0;
	h->last_status = res->status;
	if (res->layer != HTTP_LAYER_NONE) {
		http_poll_fail(h, "GET %s: %s: %s", h->url_shown,
		    http_layer_name(res->layer), res->error);
		return;
	}
	if (res->status < 200 || res->status > 299) {
		http_poll_fail(h, "GET %s: HTTP %d", h->url_shown, res->status);
		return;
	}
	if (payload_decode(h->payload, &h->popts, (const char *)res->body,
		res->body_len, http_poll_reading_cb, h, err,
		sizeof err) == -1) {
		http_poll_fail(h, "GET %s: %s body: %s", h->url_shown,
		    payload_format_name(h->popts.format), err);
		return;
	}
	adapter_set_state(h->a, ADAPTER_CONNECTED);
}

static int
http_start(struct adapter *a)
{
	struct http_ad *h = a->priv;
	double interval = a->dev->interval_s;
	struct timeval tv;

	if (h->mode == HTTP_MODE_PUSH) {
		adapter_set_state(a, ADAPTER_CONNECTED);
		return 0;
	}
	if ((h->timer = event_new(
		 a->base, -1, EV_PERSIST, http_poll_timer_cb, h)) == NULL)
		return -1;
	tv.tv_sec = (time_t)interval;
	tv.tv_usec = (suseconds_t)((interval - (double)tv.tv_sec) * 1e6);
	if (evtimer_add(h->timer, &tv) == -1)
		return -1;
	adapter_set_state(a, ADAPTER_CONNECTING);
	/* The first poll now, not one interval after the start. */
	event_active(h->timer, EV_TIMEOUT, 0);
	return 0;
}

static void
http_stop(struct adapter *a)
{
	struct http_ad *h = a->priv;

	if (h == NULL)
		return;
	if (h->timer != NULL) {
		event_free(h->timer);
		h->timer = NULL;
	}
	if (h->client != NULL) {
		http_client_free(h->client);
		h->client = NULL;
	}
	h->polling = 0;
}

static void
http_free(struct adapter *a)
{
	struct http_ad *h = a->priv;
	struct http_ingest *ing, *next;

	if (h == NULL)
		return;
	http_stop(a);
	/*
	 * Bodies still waiting for their commit answer on their own when it
	 * comes; they must no longer reach the adapter.
	 */
	for (ing = h->ingests; ing != NULL; ing = next) {
		next = ing->next;
		ing->h = NULL;
		ing->prev = ing->next = NULL;
	}
	tlsio_config_free(h->tls);
	payload_free(h->payload);
	free(h->url_shown);
	free(h);
	a->priv = NULL;
}

static void
http_status(const struct adapter *a, struct json_out *j)
{
	const struct http_ad *h = a->priv;
	const struct http_ingest *ing;
	unsigned long long pending = 0;

	json_out_string(j, "mode", http_mode_names[h->mode]);
	if (h->mode == HTTP_MODE_PUSH) {
		for (ing = h->ingests; ing != NULL; ing = ing->next)
			pending++;
		json_out_string(
		    j, "format", http_push_format_names[h->push_format]);
		json_out_int(j, "max_body_bytes", (long long)h->max_body_bytes);
		json_out_int(j, "requests", (long long)h->requests);
		json_out_int(j, "accepted", (long long)h->accepted);
		json_out_int(j, "bad_bodies", (long long)h->bad);
		json_out_int(j, "unauthorized", (long long)h->unauthorized);
		json_out_int(j, "too_large", (long long)h->too_large);
		json_out_int(j, "refused", (long long)h->refused);
		json_out_int(j, "waiting_commit", (long long)pending);
		json_out_int(
		    j, "readings_committed", (long long)h->readings_committed);
		return;
	}
	json_out_string(j, "url", h->url_shown);
	json_out_string(j, "format", payload_format_name(h->popts.format));
	json_out_int(j, "polls", (long long)h->polls);
	json_out_int(j, "poll_failures", (long long)h->poll_failures);
	json_out_int(j, "polls_skipped", (long long)h->polls_skipped);
	json_out_int(j, "last_status", h->last_status);
	json_out_double(j, "last_poll", h->last_poll_s);
}

const struct adapter_ops adapter_http_ops = {
	.type = "http",
	.configure = http_configure,
	.start = http_start,
	.stop = http_stop,
	.free = http_free,
	.status = http_status,
	.ingest = http_ingest,
};

/* A polling device takes no POST /ingest: the same table without it. */
static const struct adapter_ops http_poll_ops = {
	.type = "http",
	.configure = http_configure,
	.start = http_start,
	.stop = http_stop,
	.free = http_free,
	.status = http_status,
};
