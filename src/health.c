/*
 * The health port: one evhttp server on the agent's base with bounded
 * headers, bodies and idle time. One generic callback dispatches on the
 * path, so unknown paths get 404 and wrong methods 405 with Allow. It reads
 * state through agent accessors and changes nothing but through the admin
 * entry points; the Prometheus text itself is metrics.c's.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "adapter.h"
#include "agent.h"
#include "health.h"
#include "json_out.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "pressure.h"
#include "privacy.h"
#include "rules.h"
#include "recid.h"
#include "status_page.h"
#include "store.h"
#include "summary.h"
#include "sysinfo.h"
#include "uplink.h"
#include "version.h"
#include "wallclock.h"
#include "xmalloc.h"

#define HEALTH_MAX_HEADERS_BYTES 8192
#define HEALTH_DEFAULT_TIMEOUT_S 10.0
#define HEALTH_BACKLOG 16

#define HEALTH_JSON "application/json"
#define HEALTH_PROM "text/plain; version=0.0.4; charset=utf-8"
#define HEALTH_TEXT "text/plain; charset=utf-8"

struct health {
	struct agent *agent;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	char *listen;
	health_ingest_cb *ingest; /* http push device */
	void *ingest_arg;
};

struct health_route {
	const char *path;
	int methods;	   /* EVHTTP_REQ_* */
	const char *allow; /* the Allow header of a 405 */
	void (*handler)(struct health *, struct evhttp_request *);
};

static void health_get_health(struct health *, struct evhttp_request *);
static void health_get_live(struct health *, struct evhttp_request *);
static void health_get_metrics(struct health *, struct evhttp_request *);
static void health_post_flush(struct health *, struct evhttp_request *);
static void health_post_purge(struct health *, struct evhttp_request *);
static void health_post_ingest(struct health *, struct evhttp_request *);
static void health_get_page(struct health *, struct evhttp_request *);
static void health_get_history(struct health *, struct evhttp_request *);

#define HEALTH_GET (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)

static const struct health_route health_routes[] = {
	{ "/health", HEALTH_GET, "GET, HEAD, OPTIONS", health_get_health },
	{ "/health/live", HEALTH_GET, "GET, HEAD, OPTIONS", health_get_live },
	{ "/", HEALTH_GET, "GET, HEAD, OPTIONS", health_get_page },
	{ "/health/history", HEALTH_GET, "GET, HEAD, OPTIONS",
	    health_get_history },
	{ "/metrics", HEALTH_GET, "GET, HEAD, OPTIONS", health_get_metrics },
	{ "/admin/flush", EVHTTP_REQ_POST, "POST, OPTIONS", health_post_flush },
	{ "/admin/purge", EVHTTP_REQ_POST, "POST, OPTIONS", health_post_purge },
	{ "/ingest", EVHTTP_REQ_POST, "POST, OPTIONS", health_post_ingest },
};

#define HEALTH_NROUTES (sizeof health_routes / sizeof health_routes[0])

static const char *const health_status_names[] = { "healthy", "degraded",
	"unhealthy" };

/* "healthy", "degraded", "unhealthy". */
const char *
health_status_name(enum health_status s)
{
	if ((unsigned)s >=
	    sizeof health_status_names / sizeof health_status_names[0])
		return "unknown";
	return health_status_names[s];
}

static double
health_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *
health_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

/*
 * The single way out of every handler: headers every answer carries, the
 * body (or what the handler already put in the output buffer), one reply.
 */
static void
health_send(struct evhttp_request *req, int code, const char *content_type,
    const char *body, size_t len)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);

	if (content_type != NULL)
		evhttp_add_header(out, "Content-Type", content_type);
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Access-Control-Allow-Origin", "*");
	if (body != NULL && len > 0)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	evhttp_send_reply(req, code, health_reason(code), NULL);
}

/* A JSON document and a newline, for shells and curl. */
static void
health_send_json(struct evhttp_request *req, int code, struct json_out *j)
{
	struct evbuffer *body = evhttp_request_get_output_buffer(req);

	evbuffer_add(body, j->buf, j->len);
	evbuffer_add(body, "\n", 1);
	health_send(req, code, HEALTH_JSON, NULL, 0);
}

/* {"error":"msg"} with the given code. */
static void
health_send_error(struct evhttp_request *req, int code, const char *msg)
{
	struct json_out j;

	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	json_out_string(&j, "error", msg);
	json_out_object_end(&j);
	health_send_json(req, code, &j);
	json_out_free(&j);
}

/* CORS preflight, for any path. */
static void
health_preflight(struct evhttp_request *req)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);

	evhttp_add_header(
	    out, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
	evhttp_add_header(
	    out, "Access-Control-Allow-Headers", "Authorization, Content-Type");
	evhttp_add_header(out, "Access-Control-Max-Age", "600");
	health_send(req, 204, NULL, NULL, 0);
}

static void
health_request_cb(struct evhttp_request *req, void *arg)
{
	struct health *h = arg;
	const struct health_route *rt = NULL;
	const struct evhttp_uri *uri;
	const char *path = NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	size_t i;

	if ((uri = evhttp_request_get_evhttp_uri(req)) != NULL)
		path = evhttp_uri_get_path(uri);
	if (path == NULL || *path == '\0')
		path = "/";
	if (cmd == EVHTTP_REQ_OPTIONS) {
		health_preflight(req);
		return;
	}
	for (i = 0; i < HEALTH_NROUTES; i++) {
		if (strcmp(health_routes[i].path, path) == 0) {
			rt = &health_routes[i];
			break;
		}
	}
	if (rt == NULL) {
		health_send_error(req, 404, "not found");
		return;
	}
	if ((rt->methods & (int)cmd) == 0) {
		evhttp_add_header(
		    evhttp_request_get_output_headers(req), "Allow", rt->allow);
		health_send_error(req, 405, "method not allowed");
		return;
	}
	rt->handler(h, req);
}

static void
health_get_health(struct health *h, struct evhttp_request *req)
{
	struct json_out j;
	enum health_status status;

	json_out_init(&j);
	status = health_render(h->agent, &j);
	health_send_json(req, status == HEALTH_UNHEALTHY ? 503 : 200, &j);
	json_out_free(&j);
}

static void
health_get_live(struct health *h, struct evhttp_request *req)
{
	health_send(req, 200, HEALTH_TEXT, "ok\n", 3);
}

/* The operator's page (status_page.c renders it). */
static void
health_get_page(struct health *h, struct evhttp_request *req)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Security-Policy", STATUS_PAGE_CSP);
	status_page_render(h->agent, evhttp_request_get_output_buffer(req));
	health_send(req, 200, STATUS_PAGE_TYPE, NULL, 0);
}

/* The status page's chart data and recent events. */
static void
health_get_history(struct health *h, struct evhttp_request *req)
{
	struct json_out j;

	json_out_init(&j);
	status_page_render_history(h->agent, &j);
	health_send_json(req, 200, &j);
	json_out_free(&j);
}

static void
health_get_metrics(struct health *h, struct evhttp_request *req)
{
	struct evkeyvalq q;
	struct json_out j;
	const char *query, *format = NULL;

	/* Empty: evhttp_parse_query_str fills it, clear copes with empty. */
	memset(&q, 0, sizeof q);
	query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (query != NULL && evhttp_parse_query_str(query, &q) == -1) {
		evhttp_clear_headers(&q);
		health_send_error(req, 400, "malformed query string");
		return;
	}
	format = evhttp_find_header(&q, "format");
	if (format == NULL || strcmp(format, "prometheus") == 0 ||
	    strcmp(format, "text") == 0) {
		metrics_render_prometheus(
		    h->agent, evhttp_request_get_output_buffer(req));
		health_send(req, 200, HEALTH_PROM, NULL, 0);
	} else if (strcmp(format, "json") == 0) {
		json_out_init(&j);
		metrics_render_system_json(h->agent, &j);
		health_send_json(req, 200, &j);
		json_out_free(&j);
	} else
		health_send_error(
		    req, 400, "format must be prometheus or json");
	evhttp_clear_headers(&q);
}

/*
 * Equality without an early exit and without a loop bounded by either
 * length: both sides are hashed first, and the digests compared whole.
 */
static int
health_token_equal(const char *given, const char *want)
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

/* 0 if the request carries the admin token; else it was answered here. */
static int
health_admin_auth(struct health *h, struct evhttp_request *req)
{
	const struct config *cfg = agent_config(h->agent);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *token = cfg->health.admin_token;
	const char *auth, *given;
	char *peer = NULL;
	ev_uint16_t port = 0;

	if (token == NULL || *token == '\0') {
		health_send_error(req, 403, "admin disabled");
		return -1;
	}
	auth = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization");
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		evhttp_add_header(
		    out, "WWW-Authenticate", "Bearer realm=\"outpost\"");
		health_send_error(req, 401, "bearer token required");
		return -1;
	}
	given = auth + 7;
	given += strspn(given, " ");
	if (!health_token_equal(given, token)) {
		evhttp_connection_get_peer(
		    evhttp_request_get_connection(req), &peer, &port);
		log_warn("health", "admin request with a wrong token from %s",
		    peer != NULL ? peer : "?");
		evhttp_add_header(out, "WWW-Authenticate",
		    "Bearer realm=\"outpost\", error=\"invalid_token\"");
		health_send_error(req, 401, "invalid token");
		return -1;
	}
	return 0;
}

/* The push device answers, maybe later: after the commit. */
static void
health_post_ingest(struct health *h, struct evhttp_request *req)
{
	if (h->ingest == NULL) {
		health_send_error(req, 404, "no http push device configured");
		return;
	}
	h->ingest(req, h->ingest_arg);
}

void
health_set_ingest(struct health *h, health_ingest_cb *cb, void *arg)
{
	h->ingest = cb;
	h->ingest_arg = arg;
}

static void
health_post_flush(struct health *h, struct evhttp_request *req)
{
	struct json_out j;
	char *cause = NULL;

	if (health_admin_auth(h, req) == -1)
		return;
	if (agent_admin_flush(h->agent, &cause) == -1) {
		log_warn("health", "admin flush failed: %s",
		    cause != NULL ? cause : "unknown error");
		health_send_error(
		    req, 500, cause != NULL ? cause : "flush failed");
		free(cause);
		return;
	}
	log_info("health", "admin flush");
	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	json_out_bool(&j, "flushed", 1);
	json_out_object_end(&j);
	health_send_json(req, 200, &j);
	json_out_free(&j);
}

/* "7d", "12h", "30m", "90s" or plain seconds; -1 if malformed. */
static int
health_parse_duration(const char *s, double *out)
{
	char *end;
	double v, unit = 1;

	if (s == NULL || !((*s >= '0' && *s <= '9') || *s == '.'))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(v) || v < 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	*out = v * unit;
	return 0;
}

static void
health_post_purge(struct health *h, struct evhttp_request *req)
{
	struct evkeyvalq q;
	struct json_out j;
	const char *query;
	char *cause = NULL;
	double older_than_s;
	long long purged = 0;

	memset(&q, 0, sizeof q);
	if (health_admin_auth(h, req) == -1)
		return;
	query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (query == NULL || evhttp_parse_query_str(query, &q) == -1 ||
	    health_parse_duration(
		evhttp_find_header(&q, "older_than"), &older_than_s) == -1) {
		health_send_error(req, 400,
		    "older_than must be a duration "
		    "such as 7d, 12h, 30m, 90s or seconds");
		goto out;
	}
	if (agent_admin_purge(h->agent, older_than_s, &purged, &cause) == -1) {
		log_warn("health", "admin purge failed: %s",
		    cause != NULL ? cause : "unknown error");
		health_send_error(
		    req, 500, cause != NULL ? cause : "purge failed");
		goto out;
	}
	log_info("health", "admin purge older than %.0f s: %lld records",
	    older_than_s, purged);
	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	json_out_int(&j, "purged", purged);
	json_out_double(&j, "older_than_s", older_than_s);
	json_out_object_end(&j);
	health_send_json(req, 200, &j);
	json_out_free(&j);
out:
	free(cause);
	evhttp_clear_headers(&q);
}

/*
 * "host:port", "[v6]:port" or ":port" (every address) into host and port;
 * -1 with *cause if malformed. Port 0 (any free port) serves tests.
 */
static int
health_parse_listen(const char *addr, char **host, char **port, char **cause)
{
	const char *colon, *p;
	long n;

	if (addr[0] == '[') {
		if ((p = strchr(addr, ']')) == NULL || p[1] != ':')
			goto bad;
		*host = xstrndup(addr + 1, (size_t)(p - addr - 1));
		colon = p + 1;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			goto bad;
		*host = xstrndup(addr, (size_t)(colon - addr));
	}
	p = colon + 1;
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p) ||
	    strlen(p) > 5 || (n = strtol(p, NULL, 10)) > 65535) {
		free(*host);
		*host = NULL;
		goto bad;
	}
	*port = xstrdup(p);
	return 0;
bad:
	xasprintf(cause,
	    "health: listen '%s' is not host:port, [v6]:port or "
	    ":port with a port up to 65535",
	    addr);
	return -1;
}

/* A bound, listening, non-blocking socket; -1 with *cause. */
static evutil_socket_t
health_listen(const char *addr, char **cause)
{
	struct addrinfo hints, *res = NULL, *ai;
	evutil_socket_t fd = -1;
	char *host = NULL, *port = NULL;
	const char *what = "bind";
	int rc, saved = 0;

	if (health_parse_listen(addr, &host, &port, cause) == -1)
		return -1;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	/* Start-up only: a blocking lookup is acceptable here. */
	rc = getaddrinfo(*host != '\0' ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		xasprintf(cause, "health: cannot resolve '%s': %s", host,
		    gai_strerror(rc));
		goto out;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1) {
			what = "socket";
			saved = errno;
			continue;
		}
		if (evutil_make_socket_nonblocking(fd) == -1 ||
		    evutil_make_socket_closeonexec(fd) == -1 ||
		    evutil_make_listen_socket_reuseable(fd) == -1) {
			what = "socket options";
			saved = errno;
		} else if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			what = "bind";
			saved = errno;
		} else if (listen(fd, HEALTH_BACKLOG) == -1) {
			what = "listen";
			saved = errno;
		} else
			break;
		evutil_closesocket(fd);
		fd = -1;
	}
	if (fd == -1)
		xasprintf(cause, "health: cannot listen on %s: %s: %s", addr,
		    what, strerror(saved));
out:
	if (res != NULL)
		freeaddrinfo(res);
	free(host);
	free(port);
	return fd;
}

/* Binds listen ("host:port"); NULL with *cause on failure. */
struct health *
health_new(struct agent *ag, const char *addr, char **cause)
{
	const struct config *cfg = agent_config(ag);
	struct health *h = xcalloc(1, sizeof *h);
	struct timeval tv;
	evutil_socket_t fd;
	double timeout_s = cfg->health.timeout_s;

	h->agent = ag;
	h->listen = xstrdup(addr);
	if ((h->http = evhttp_new(agent_base(ag))) == NULL) {
		*cause = xstrdup("health: evhttp_new failed");
		goto fail;
	}
	evhttp_set_max_headers_size(h->http, HEALTH_MAX_HEADERS_BYTES);
	if (cfg->health.max_body_bytes > 0)
		evhttp_set_max_body_size(
		    h->http, (ev_ssize_t)cfg->health.max_body_bytes);
	if (!(timeout_s > 0))
		timeout_s = HEALTH_DEFAULT_TIMEOUT_S;
	tv.tv_sec = (time_t)timeout_s;
	tv.tv_usec = (suseconds_t)((timeout_s - (double)tv.tv_sec) * 1e6);
	evhttp_set_timeout_tv(h->http, &tv);
	/*
	 * Methods evhttp itself refuses get 501 with no Allow header; let
	 * through the ones a client may plausibly send so they get 405.
	 */
	evhttp_set_allowed_methods(h->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
		EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
		EVHTTP_REQ_OPTIONS);
	/*
	 * An oversized body is drained before the 413 goes out, so the
	 * client reads the answer instead of a connection reset.
	 */
	evhttp_set_flags(h->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(h->http, health_request_cb, h);

	if ((fd = health_listen(addr, cause)) == -1)
		goto fail;
	if ((h->bound = evhttp_accept_socket_with_handle(h->http, fd)) ==
	    NULL) {
		evutil_closesocket(fd);
		xasprintf(cause, "health: cannot accept on %s", addr);
		goto fail;
	}
	log_info("health", "listening on %s", addr);
	return h;
fail:
	health_free(h);
	return NULL;
}

/* Closes the listener and every open connection. */
void
health_free(struct health *h)
{
	if (h == NULL)
		return;
	if (h->http != NULL)
		evhttp_free(h->http);
	free(h->listen);
	free(h);
}

static void
health_worse(enum health_status *status, struct json_out *reasons,
    enum health_status s, const char *why)
{
	if (*status < s)
		*status = s;
	if (reasons != NULL)
		json_out_string(reasons, NULL, why);
}

/* The reasons for a status worse than healthy, and the status itself. */
static enum health_status
health_judge(struct agent *ag, const struct pipeline_stats *ps,
    const struct store_queue_stats *qs, struct json_out *reasons)
{
	const struct config *cfg = agent_config(ag);
	struct uplink *u = agent_uplink(ag);
	struct uplink_stats us;
	struct adapter *a;
	enum health_status status = HEALTH_HEALTHY;
	char msg[256];
	size_t i, n = agent_adapter_count(ag);
	int full;

	if (agent_store(ag) == NULL)
		health_worse(
		    &status, reasons, HEALTH_UNHEALTHY, "store not open");
	if (ps->consecutive_failures > 0) {
		/* A full store is handled (shed, refuse, resume): degraded. */
		full = agent_store(ag) != NULL && store_full(agent_store(ag));
		snprintf(msg, sizeof msg,
		    "the last %llu store commits failed%s",
		    ps->consecutive_failures, full ? ": store full" : "");
		health_worse(&status, reasons,
		    full ? HEALTH_DEGRADED : HEALTH_UNHEALTHY, msg);
	}
	if (agent_pressure(ag) != NULL &&
	    pressure_mode(agent_pressure(ag)) != PRESSURE_NORMAL)
		health_worse(&status, reasons, HEALTH_DEGRADED,
		    pressure_reason(agent_pressure(ag)));
	if (agent_wallclock(ag) != NULL &&
	    !wallclock_trusted(agent_wallclock(ag)))
		health_worse(&status, reasons, HEALTH_DEGRADED,
		    "wall clock not trusted yet: readings are stamped "
		    "unsynced and their upload waits");
	if (qs == NULL)
		health_worse(&status, reasons, HEALTH_DEGRADED,
		    "queue statistics unavailable");
	for (i = 0; i < n; i++) {
		if ((a = agent_adapter_at(ag, i)) == NULL ||
		    a->state != ADAPTER_ERROR)
			continue;
		snprintf(msg, sizeof msg, "adapter %s: %s", a->name,
		    a->last_error[0] != '\0' ? a->last_error : "error");
		health_worse(&status, reasons, HEALTH_DEGRADED, msg);
	}
	if (cfg->cloud.enabled && u == NULL)
		health_worse(
		    &status, reasons, HEALTH_DEGRADED, "uplink not running");
	if (cfg->cloud.enabled && u != NULL) {
		uplink_stats(u, &us);
		if (us.breaker == UPLINK_BREAKER_OPEN)
			health_worse(&status, reasons, HEALTH_DEGRADED,
			    "uplink breaker open");
	}
	if (cfg->cloud.enabled && qs != NULL && qs->oldest_pending_ts > 0 &&
	    health_now() - qs->oldest_pending_ts >
		cfg->health.degraded_pending_age_s) {
		snprintf(msg, sizeof msg,
		    "oldest pending record is older than %.0f s",
		    cfg->health.degraded_pending_age_s);
		health_worse(&status, reasons, HEALTH_DEGRADED, msg);
	}
	return status;
}

/* The status without the document, for /metrics. */
enum health_status
health_evaluate(struct agent *ag, const struct pipeline_stats *ps,
    const struct store_queue_stats *qs)
{
	return health_judge(ag, ps, qs, NULL);
}

static void
health_render_connection(struct agent *ag, struct json_out *j)
{
	const struct config *cfg = agent_config(ag);
	struct uplink *u = agent_uplink(ag);
	struct uplink_stats us;

	if (u == NULL) {
		/* No uplink: off is the truth; on means nothing is sending. */
		json_out_object_begin(j, "connection");
		json_out_string(j, "state",
		    cfg->cloud.enabled ? "disconnected" : "disabled");
		json_out_double(j, "since", agent_start_time(ag));
		json_out_null(j, "last_success");
		json_out_int(j, "consecutive_failures", 0);
		json_out_null(j, "last_error");
		json_out_object_end(j);
		json_out_object_begin(j, "breaker");
		json_out_string(j, "state", "closed");
		json_out_object_end(j);
		return;
	}
	uplink_stats(u, &us);
	json_out_object_begin(j, "connection");
	json_out_string(j, "state", uplink_state_name(us.state));
	json_out_double(j, "since", us.since);
	if (us.last_success > 0)
		json_out_double(j, "last_success", us.last_success);
	else
		json_out_null(j, "last_success");
	json_out_int(
	    j, "consecutive_failures", (long long)us.consecutive_failures);
	if (us.last_error_layer != NULL) {
		json_out_object_begin(j, "last_error");
		json_out_string(j, "layer", us.last_error_layer);
		json_out_string(j, "message", us.last_error);
		json_out_object_end(j);
	} else
		json_out_null(j, "last_error");
	if (us.next_attempt_in_s >= 0)
		json_out_double(j, "next_attempt_in_s", us.next_attempt_in_s);
	else
		json_out_null(j, "next_attempt_in_s");
	json_out_int(j, "in_flight", (long long)us.in_flight);
	json_out_int(j, "records_sent", (long long)us.records_sent);
	json_out_int(j, "bytes_sent", (long long)us.bytes_sent);
	if (us.budget_bytes > 0) {
		json_out_object_begin(j, "budget");
		json_out_int(j, "bytes", us.budget_bytes);
		json_out_int(j, "used", us.budget_used);
		json_out_object_end(j);
	}
	if (us.ca_expiry >= 0)
		json_out_int(j, "ca_expiry", us.ca_expiry);
	if (us.cert_expiry >= 0)
		json_out_int(j, "cert_expiry", us.cert_expiry);
	json_out_object_end(j);
	json_out_object_begin(j, "breaker");
	json_out_string(j, "state", uplink_breaker_name(us.breaker));
	json_out_object_end(j);
}

static void
health_warn_expiry(struct json_out *j, const char *what, long long expiry,
    double now, long long warn_days)
{
	char msg[160];
	double days = ((double)expiry - now) / 86400.0;

	if (expiry < 0 || days > (double)warn_days)
		return;
	if (days < 0)
		snprintf(
		    msg, sizeof msg, "%s expired %.1f days ago", what, -days);
	else
		snprintf(
		    msg, sizeof msg, "%s expires in %.1f days", what, days);
	json_out_string(j, NULL, msg);
}

/* Not (yet) a problem, but an operator should act: certificates. */
static void
health_render_warnings(struct agent *ag, struct json_out *j, double now)
{
	const struct config *cfg = agent_config(ag);
	struct uplink *u = agent_uplink(ag);
	struct uplink_stats us;

	if (u == NULL || !cfg->cloud.enabled)
		return;
	uplink_stats(u, &us);
	health_warn_expiry(j, "cloud CA certificate", us.ca_expiry, now,
	    cfg->health.cert_warn_days);
	health_warn_expiry(j, "cloud client certificate", us.cert_expiry, now,
	    cfg->health.cert_warn_days);
}

/* A count the store may fail to give (-1): null then. */
static void
health_render_count(struct json_out *j, const char *key, long long v)
{
	if (v < 0)
		json_out_null(j, key);
	else
		json_out_int(j, key, v);
}

static void
health_render_queue(
    struct json_out *j, const struct store_queue_stats *qs, double now)
{
	int i;

	if (qs == NULL) {
		json_out_null(j, "queue");
		return;
	}
	json_out_object_begin(j, "queue");
	json_out_int(j, "pending", qs->pending);
	json_out_int(j, "in_flight", qs->in_flight);
	json_out_object_begin(j, "by_priority");
	for (i = 0; i < PRIORITY_COUNT; i++)
		json_out_int(
		    j, priority_name((enum priority)i), qs->by_priority[i]);
	json_out_object_end(j);
	if (qs->oldest_pending_ts > 0)
		json_out_double(j, "oldest_pending_age_s",
		    fmax(0, now - qs->oldest_pending_ts));
	else
		json_out_null(j, "oldest_pending_age_s");
	json_out_int(j, "shed_total", qs->shed_total);
	json_out_int(j, "dead_letter", qs->dead_letter);
	json_out_object_end(j);
}

static void
health_render_adapters(struct agent *ag, struct json_out *j)
{
	struct adapter *a;
	size_t i, n = agent_adapter_count(ag);

	json_out_array_begin(j, "adapters");
	for (i = 0; i < n; i++) {
		if ((a = agent_adapter_at(ag, i)) == NULL)
			continue;
		json_out_object_begin(j, NULL);
		json_out_string(j, "name", a->name);
		json_out_string(j, "type", a->ops->type);
		json_out_string(j, "state", adapter_state_name(a->state));
		if (a->last_reading_ts > 0)
			json_out_double(j, "last_reading", a->last_reading_ts);
		else
			json_out_null(j, "last_reading");
		json_out_int(j, "readings", (long long)a->readings);
		json_out_int(j, "errors", (long long)a->errors);
		if (a->last_error[0] != '\0')
			json_out_string(j, "last_error", a->last_error);
		else
			json_out_null(j, "last_error");
		json_out_object_begin(j, "detail");
		if (a->ops->status != NULL && a->priv != NULL)
			a->ops->status(a, j);
		json_out_object_end(j);
		json_out_object_end(j);
	}
	json_out_array_end(j);
}

/* Inside "store": the storage mode and how far summaries reach. */
static void
health_render_pressure(struct agent *ag, struct json_out *j)
{
	const struct config *cfg = agent_config(ag);
	struct pressure *pr = agent_pressure(ag);
	struct summary *sm = agent_summary(ag);
	struct pressure_stats prs;
	struct summary_stats ss;

	json_out_int(j, "max_db_bytes", cfg->store.max_db_mb * 1048576LL);
	if (pr != NULL) {
		pressure_stats(pr, &prs);
		json_out_string(j, "mode", pressure_mode_name(prs.mode));
		if (prs.mode != PRESSURE_NORMAL)
			json_out_string(j, "mode_reason", pressure_reason(pr));
		else
			json_out_null(j, "mode_reason");
		json_out_double(j, "mode_since", prs.since);
		json_out_double(j, "fill", prs.fill);
		json_out_bool(j, "full", prs.full);
		json_out_int(
		    j, "purged_summarized", (long long)prs.purged_summarized);
	}
	if (sm != NULL) {
		summary_stats(sm, &ss);
		json_out_object_begin(j, "summaries");
		json_out_double(j, "interval_s", cfg->store.summary_interval_s);
		json_out_double(j, "folded_until", ss.folded_until);
		json_out_int(j, "written", (long long)ss.rows);
		json_out_object_end(j);
	}
}

/* "clock": is the wall clock trusted, and what waits for it. */
static void
health_render_clock(struct agent *ag, struct json_out *j)
{
	const struct config *cfg = agent_config(ag);
	struct wallclock *c = agent_wallclock(ag);
	struct wallclock_stats cs;

	if (c == NULL)
		return;
	wallclock_stats(c, &cs);
	json_out_object_begin(j, "clock");
	json_out_bool(j, "trusted", cs.trusted);
	json_out_double(j, "since", cs.trusted_since);
	json_out_string(j, "boot_id", wallclock_boot_id(c));
	json_out_double(j, "trusted_after", cfg->clock.trusted_after_ts);
	json_out_bool(j, "require_sync", cfg->clock.require_sync);
	json_out_bool(j, "correction_pending", cs.pending);
	json_out_int(j, "stamped_unsynced", (long long)cs.stamped_unsynced);
	json_out_int(j, "corrected", (long long)cs.corrected);
	json_out_int(j, "uncorrectable", (long long)cs.uncorrectable);
	json_out_object_end(j);
}

/* The JSON document of GET /health, and its status. */
enum health_status
health_render(struct agent *ag, struct json_out *j)
{
	const struct config *cfg = agent_config(ag);
	struct store *st = agent_store(ag);
	struct pipeline *p = agent_pipeline(ag);
	struct sysinfo *si = agent_sysinfo(ag);
	struct pipeline_stats ps;
	struct store_queue_stats qs;
	struct sysinfo_snapshot snap;
	const struct store_queue_stats *qsp = NULL;
	enum health_status status;
	double now = health_now();
	char *path = NULL;

	memset(&ps, 0, sizeof ps);
	if (p != NULL)
		pipeline_stats(p, &ps);
	memset(&qs, 0, sizeof qs);
	if (st != NULL && store_queue_stats(st, &qs) == 0)
		qsp = &qs;
	status = health_judge(ag, &ps, qsp, NULL);

	json_out_object_begin(j, NULL);
	json_out_string(j, "status", health_status_name(status));
	json_out_array_begin(j, "reasons");
	health_judge(ag, &ps, qsp, j);
	json_out_array_end(j);
	json_out_array_begin(j, "warnings");
	health_render_warnings(ag, j, now);
	json_out_array_end(j);
	json_out_string(j, "agent_id", cfg->agent.id);
	json_out_string(j, "version", OUTPOST_VERSION);
	json_out_double(j, "uptime_s", agent_uptime_s(ag));
	json_out_bool(j, "running", 1);

	health_render_connection(ag, j);
	health_render_queue(j, qsp, now);
	json_out_object_begin(j, "store");
	health_render_count(
	    j, "db_bytes", st != NULL ? store_db_bytes(st) : -1);
	health_render_count(
	    j, "wal_bytes", st != NULL ? store_wal_bytes(st) : -1);
	xasprintf(&path, "%s/outpost.db", cfg->agent.data_dir);
	json_out_string(j, "path", path);
	free(path);
	json_out_int(j, "commits", (long long)ps.commits);
	json_out_int(j, "commit_failures", (long long)ps.commit_failures);
	health_render_pressure(ag, j);
	json_out_object_end(j);
	health_render_clock(ag, j);

	json_out_int(j, "readings_processed", (long long)ps.committed);
	json_out_int(j, "readings_dropped", (long long)ps.dropped);
	json_out_int(j, "readings_buffered", (long long)ps.buffered);
	health_render_count(
	    j, "events_triggered", st != NULL ? store_count_events(st) : -1);

	json_out_object_begin(j, "privacy");
	if (agent_privacy(ag) != NULL)
		privacy_status(agent_privacy(ag), j);
	else {
		json_out_bool(j, "enabled", cfg->privacy.enabled);
		json_out_int(j, "rules", 0);
		json_out_int(j, "dropped", (long long)ps.filtered);
	}
	json_out_object_end(j);
	rules_status(agent_rules(ag), j);
	health_render_count(j, "rule_events_unsaved",
	    (long long)rules_unsaved(agent_rules(ag)));

	health_render_adapters(ag, j);

	json_out_object_begin(j, "system");
	if (si != NULL) {
		sysinfo_sample(si, &snap);
		metrics_system_fields(j, &snap);
	}
	json_out_object_end(j);
	json_out_object_end(j);
	return status;
}
