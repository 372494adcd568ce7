/*
 * Store-and-forward upload control. One request at a time: a batch is
 * claimed (in_flight in the store), encoded into one reusable buffer, sent,
 * and its fate written back before the next batch is claimed. Failures go
 * through uplink_fail(), the one place that counts, logs, moves the
 * breaker and arms the retry timer.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "encode.h"
#include "http_client.h"
#include "log.h"
#include "recid.h"
#include "spool.h"
#include "store.h"
#include "tlsio.h"
#include "uplink.h"
#include "xmalloc.h"

#define UPLINK_BUDGET_SOFT 0.9 /* above: critical and high only */

static const double uplink_duration_bounds[UPLINK_DURATION_BUCKETS] = { 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

struct uplink {
	struct event_base *base;
	struct store *store;
	struct spool *spool;
	struct tlsio_config *tls;
	struct http_client *http;

	/* From the config. */
	char *settings; /* uplink_settings() of the config in use */
	char *agent_id;
	char *endpoint;
	char *auth_header; /* "Authorization: Bearer ..." */
	enum cloud_format format;
	enum cloud_compress compress;
	size_t batch_size;
	double flush_interval_s;
	double timeout_s;
	double base_delay_s;
	double max_delay_s;
	int jitter;
	unsigned long long failure_threshold;
	double recovery_timeout_s;
	long long budget_bytes;

	struct event *flush_timer; /* every flush_interval */
	struct event *retry_timer; /* backoff or breaker wait */
	struct event *again;	   /* next batch, next loop turn */
	int waiting_retry;
	double retry_at; /* monotonic */
	int busy;	 /* a request is out */
	size_t committed_since_flush;

	struct spool_batch batch;
	unsigned char *batch_ids; /* ids in claim order */
	struct json_out body;
	struct json_out gz;
	double started; /* monotonic, of the request */
	char idem_key[65];
	char budget_day[16];

	struct uplink_stats st;
	char last_error[256];
	uint64_t rng;
};

static void uplink_flush_timer_cb(evutil_socket_t, short, void *);
static void uplink_retry_timer_cb(evutil_socket_t, short, void *);
static void uplink_response_cb(const struct http_result *, void *);

static const char *const uplink_state_names[] = { "disabled", "disconnected",
	"connecting", "connected", "error" };
static const char *const uplink_breaker_names[] = { "closed", "open",
	"half_open" };

const char *
uplink_state_name(enum uplink_state s)
{
	return uplink_state_names[s];
}

const char *
uplink_breaker_name(enum uplink_breaker b)
{
	return uplink_breaker_names[b];
}

static double
uplink_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
uplink_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct timeval
uplink_tv(double s)
{
	struct timeval tv;

	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

static void
uplink_set_state(struct uplink *u, enum uplink_state s)
{
	if (u->st.state == s)
		return;
	log_info("uplink", "%s -> %s", uplink_state_names[u->st.state],
	    uplink_state_names[s]);
	u->st.state = s;
	u->st.since = uplink_wall();
}

static void
uplink_set_breaker(struct uplink *u, enum uplink_breaker b)
{
	if (u->st.breaker == b)
		return;
	log_warn("uplink", "breaker %s -> %s",
	    uplink_breaker_names[u->st.breaker], uplink_breaker_names[b]);
	u->st.breaker = b;
}

/* No carrier on any interface but loopback: the link itself is down. */
static int
uplink_link_down(void)
{
	DIR *d;
	struct dirent *de;
	char path[300], c = '0';
	FILE *f;
	int seen = 0, up = 0;

	if ((d = opendir("/sys/class/net")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && !up) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "lo") == 0)
			continue;
		snprintf(
		    path, sizeof path, "/sys/class/net/%s/carrier", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		seen = 1;
		if (fread(&c, 1, 1, f) == 1 && c == '1')
			up = 1;
		fclose(f);
	}
	closedir(d);
	return seen && !up;
}

static double
uplink_random(struct uplink *u)
{
	u->rng ^= u->rng >> 12;
	u->rng ^= u->rng << 25;
	u->rng ^= u->rng >> 27;
	return (double)((u->rng * 2685821657736338717ULL) >> 11) /
	    (double)(1ULL << 53);
}

/* base * 2^(n-1), capped, drawn from 50..100% with jitter. */
static double
uplink_backoff_s(struct uplink *u)
{
	unsigned long long n = u->st.consecutive_failures;
	double d = u->base_delay_s;

	while (n-- > 1 && d < u->max_delay_s)
		d *= 2;
	if (d > u->max_delay_s)
		d = u->max_delay_s;
	if (u->jitter)
		d *= 0.5 + 0.5 * uplink_random(u);
	return d;
}

static void
uplink_arm_retry(struct uplink *u, double delay_s)
{
	struct timeval tv = uplink_tv(delay_s);

	u->waiting_retry = 1;
	u->retry_at = uplink_mono() + delay_s;
	evtimer_add(u->retry_timer, &tv);
}

/* Every failed upload ends here: count, log once, breaker, retry timer. */
static void
uplink_fail(struct uplink *u, const char *layer, const char *reason,
    long long retry_after_s)
{
	double delay;

	u->st.consecutive_failures++;
	snprintf(u->last_error, sizeof u->last_error, "%s", reason);
	u->st.last_error_layer = layer;
	u->st.last_error = u->last_error;
	log_warn("uplink", "upload failed (%s): %s", layer, reason);
	uplink_set_state(u, UPLINK_ERROR);

	if (u->st.breaker == UPLINK_BREAKER_HALF_OPEN ||
	    u->st.consecutive_failures >= u->failure_threshold)
		uplink_set_breaker(u, UPLINK_BREAKER_OPEN);
	if (u->st.breaker == UPLINK_BREAKER_OPEN) {
		/*
		 * Jittered like the backoff: a fleet that lost the collector
		 * together would otherwise probe it in step, recovery_timeout
		 * after the same failure (bench/bench_fleet.sh).
		 */
		delay = u->recovery_timeout_s;
		if (u->jitter)
			delay *= 0.5 + 0.5 * uplink_random(u);
	} else
		delay = uplink_backoff_s(u);
	if (retry_after_s > 0 && (double)retry_after_s > delay)
		delay = (double)retry_after_s;
	/* The open request's connection is suspect: start afresh. */
	http_client_close_idle(u->http);
	uplink_arm_retry(u, delay);
}

static void
uplink_succeed(struct uplink *u)
{
	if (u->st.consecutive_failures > 0)
		log_info("uplink",
		    "collector reachable again after %llu "
		    "failures",
		    u->st.consecutive_failures);
	u->st.consecutive_failures = 0;
	u->st.last_success = uplink_wall();
	uplink_set_breaker(u, UPLINK_BREAKER_CLOSED);
	uplink_set_state(u, UPLINK_CONNECTED);
}

/* Bytes used of today's budget (UTC day), kept in meta across restarts. */
static void
uplink_budget_roll(struct uplink *u)
{
	char day[16], buf[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(day, sizeof day, "%Y-%m-%d", &tm);
	if (strcmp(day, u->budget_day) == 0)
		return;
	if (u->budget_day[0] == '\0' &&
	    store_meta_get(u->store, "budget_day", buf, sizeof buf) == 0 &&
	    strcmp(buf, day) == 0 &&
	    store_meta_get(u->store, "budget_used", buf, sizeof buf) == 0)
		u->st.budget_used = strtoll(buf, NULL, 10);
	else
		u->st.budget_used = 0;
	snprintf(u->budget_day, sizeof u->budget_day, "%s", day);
	store_meta_set(u->store, "budget_day", day);
}

static enum priority
uplink_budget_priority(struct uplink *u)
{
	if (u->budget_bytes <= 0)
		return PRIORITY_LOW;
	uplink_budget_roll(u);
	if (u->st.budget_used >= u->budget_bytes)
		return PRIORITY_CRITICAL;
	if (u->st.budget_used >=
	    (long long)(u->budget_bytes * UPLINK_BUDGET_SOFT))
		return PRIORITY_HIGH;
	return PRIORITY_LOW;
}

static void
uplink_budget_spend(struct uplink *u, uint64_t bytes)
{
	char buf[32];

	if (u->budget_bytes <= 0)
		return;
	u->st.budget_used += (long long)bytes;
	snprintf(buf, sizeof buf, "%lld", u->st.budget_used);
	store_meta_set(u->store, "budget_used", buf);
}

static void
uplink_encode_cb(void *arg, const struct encode_record *r)
{
	struct uplink *u = arg;

	memcpy(u->batch_ids + (u->batch.count - 1) * RECORD_ID_LEN, r->id,
	    RECORD_ID_LEN);
	if (u->format == CLOUD_FORMAT_JSON)
		encode_json_record(&u->body, r);
	else
		encode_influx_record(&u->body, u->agent_id, r);
}

/* Claims and sends one batch; nothing to do is not an error. */
static void
uplink_send_batch(struct uplink *u)
{
	const char *headers[6];
	struct http_request req;
	unsigned char key[RECORD_ID_LEN];
	char idem[96], err[256];
	const void *body;
	size_t body_len, nh = 0;
	long long n;

	json_out_reset(&u->body);
	if (u->format == CLOUD_FORMAT_JSON)
		encode_json_begin(&u->body, u->agent_id, uplink_wall());
	n = spool_claim(u->spool, u->batch_size, uplink_budget_priority(u),
	    uplink_encode_cb, u, &u->batch);
	if (n <= 0) {
		if (n == -1)
			log_error("uplink", "cannot claim a batch: %s",
			    store_errmsg(u->store));
		return;
	}
	if (u->format == CLOUD_FORMAT_JSON)
		encode_json_end(&u->body);
	body = u->body.buf;
	body_len = u->body.len;
	if (u->compress == CLOUD_COMPRESS_GZIP &&
	    encode_gzip(u->body.buf, u->body.len, &u->gz) == 0) {
		body = u->gz.buf;
		body_len = u->gz.len;
		headers[nh++] = "Content-Encoding: gzip";
	}
	/* The same records give the same key, whatever the attempt. */
	recid_sha256(u->batch_ids, u->batch.count * RECORD_ID_LEN, key);
	recid_hex(key, u->idem_key);
	snprintf(idem, sizeof idem, "Idempotency-Key: %s", u->idem_key);
	headers[nh++] = u->format == CLOUD_FORMAT_JSON
	    ? "Content-Type: application/json"
	    : "Content-Type: text/plain; charset=utf-8";
	headers[nh++] = idem;
	if (u->auth_header != NULL)
		headers[nh++] = u->auth_header;
	headers[nh] = NULL;

	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = u->endpoint;
	req.headers = headers;
	req.body = body;
	req.body_len = body_len;
	if (!http_client_connected(u->http))
		uplink_set_state(u, UPLINK_CONNECTING);
	u->started = uplink_mono();
	u->st.in_flight = u->batch.count;
	if (http_client_request(
		u->http, &req, uplink_response_cb, u, err, sizeof err) == -1) {
		long long dead;

		u->st.in_flight = 0;
		spool_nack(u->spool, &u->batch, &dead);
		u->st.records_dead += (unsigned long long)dead;
		u->st.uploads[UPLINK_RESULT_ERROR]++;
		uplink_fail(u, "http", err, -1);
		return;
	}
	u->busy = 1;
	log_debug("uplink", "sending %zu records, %zu bytes, key %.16s",
	    u->batch.count, body_len, u->idem_key);
}

static void
uplink_observe_duration(struct uplink *u, double s)
{
	int i;

	u->st.duration_sum += s;
	for (i = 0; i < UPLINK_DURATION_BUCKETS; i++)
		if (s <= uplink_duration_bounds[i])
			u->st.duration_counts[i]++;
	u->st.duration_counts[UPLINK_DURATION_BUCKETS]++; /* +Inf */
}

static int
uplink_status_retryable(int status)
{
	return status == 408 || status == 429 || status >= 500;
}

static void
uplink_response_cb(const struct http_result *res, void *arg)
{
	struct uplink *u = arg;
	char reason[320];
	long long dead = 0;
	size_t sent = u->batch.count;
	struct timeval now = { 0, 0 };
	int recovered;

	u->busy = 0;
	u->st.in_flight = 0;
	uplink_observe_duration(u, uplink_mono() - u->started);
	u->st.wire_bytes += res->bytes_sent + res->bytes_received;
	uplink_budget_spend(u, res->bytes_sent + res->bytes_received);

	if (res->layer != HTTP_LAYER_NONE) {
		spool_nack(u->spool, &u->batch, &dead);
		u->st.records_dead += (unsigned long long)dead;
		u->st.uploads[UPLINK_RESULT_ERROR]++;
		if ((res->layer == HTTP_LAYER_TCP ||
			res->layer == HTTP_LAYER_DNS) &&
		    uplink_link_down())
			uplink_fail(u, "link",
			    "no carrier on any network "
			    "interface",
			    -1);
		else
			uplink_fail(
			    u, http_layer_name(res->layer), res->error, -1);
		return;
	}
	if (res->status / 100 == 2) {
		/* Written with the next group commit (flash wear); a crash
		 * before it sends the batch again, deduplicated by id. */
		spool_ack_later(u->spool, &u->batch, uplink_wall());
		u->st.uploads[UPLINK_RESULT_OK]++;
		u->st.records_sent += sent;
		u->st.bytes_sent += u->compress == CLOUD_COMPRESS_GZIP
		    ? u->gz.len
		    : u->body.len;
		recovered = u->st.consecutive_failures > 0;
		uplink_succeed(u);
		/*
		 * Every ack writes the WAL, so a long drain is checkpointed
		 * as it goes: left to the 30 s maintenance, the WAL reached
		 * 750 MB draining 10M readings, and copying that back held
		 * the loop for 45 s. Below checkpoint_pages, a no-op.
		 */
		store_checkpoint(u->store, 0);
		if (sent == u->batch_size || recovered) {
			/* More may wait (a backlog after an outage surely
			 * does): go on at the next loop turn. */
			evtimer_add(u->again, &now);
		}
		return;
	}
	if (uplink_status_retryable(res->status)) {
		spool_nack(u->spool, &u->batch, &dead);
		u->st.records_dead += (unsigned long long)dead;
		u->st.uploads[UPLINK_RESULT_RETRY]++;
		snprintf(reason, sizeof reason, "HTTP %d from the collector",
		    res->status);
		uplink_fail(u, "http", reason, res->retry_after_s);
		return;
	}
	/* Any other answer rejects the batch: keep it, never loop on it. */
	spool_reject(u->spool, &u->batch);
	u->st.records_dead += sent;
	u->st.uploads[UPLINK_RESULT_REJECTED]++;
	log_error("uplink",
	    "collector rejected %zu records with HTTP %d: "
	    "dead-lettered",
	    sent, res->status);
	uplink_succeed(u); /* the collector is up and answering */
	evtimer_add(u->again, &now);
}

void
uplink_flush(struct uplink *u, const char *reason)
{
	if (u == NULL || u->st.state == UPLINK_DISABLED || u->busy)
		return;
	if (u->waiting_retry)
		return; /* backoff or open breaker decides when */
	u->committed_since_flush = 0;
	log_debug("uplink", "flush: %s", reason);
	uplink_send_batch(u);
}

void
uplink_committed(struct uplink *u, size_t n)
{
	if (u == NULL || u->st.state == UPLINK_DISABLED)
		return;
	u->committed_since_flush += n;
	if (u->committed_since_flush >= u->batch_size)
		uplink_flush(u, "a batch is pending");
}

static void
uplink_flush_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	uplink_flush(arg, "timer");
}

static void
uplink_again_cb(evutil_socket_t fd, short what, void *arg)
{
	uplink_flush(arg, "more pending");
}

static void
uplink_retry_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;

	u->waiting_retry = 0;
	if (u->st.breaker == UPLINK_BREAKER_OPEN)
		uplink_set_breaker(u, UPLINK_BREAKER_HALF_OPEN);
	uplink_flush(u,
	    u->st.breaker == UPLINK_BREAKER_HALF_OPEN ? "breaker probe"
						      : "retry");
}

/* Reads the [cloud] settings; the TLS material is loaded by the caller. */
static void
uplink_apply(struct uplink *u, const struct config *cfg)
{
	struct timeval tv;

	free(u->agent_id);
	u->agent_id = xstrdup(cfg->agent.id);
	free(u->endpoint);
	u->endpoint = xstrdup(cfg->cloud.endpoint);
	free(u->auth_header);
	u->auth_header = NULL;
	if (cfg->cloud.token[0] != '\0')
		xasprintf(&u->auth_header, "Authorization: Bearer %s",
		    cfg->cloud.token);
	u->format = cfg->cloud.format;
	u->compress = cfg->cloud.compress;
	u->flush_interval_s = cfg->cloud.flush_interval_s;
	u->timeout_s = cfg->cloud.timeout_s;
	u->base_delay_s = cfg->cloud.retry.base_delay_s;
	u->max_delay_s = cfg->cloud.retry.max_delay_s;
	u->jitter = cfg->cloud.retry.jitter;
	u->failure_threshold =
	    (unsigned long long)cfg->cloud.breaker.failure_threshold;
	u->recovery_timeout_s = cfg->cloud.breaker.recovery_timeout_s;
	u->budget_bytes = (long long)(cfg->cloud.daily_budget_mb * 1048576.0);
	u->st.budget_bytes = u->budget_bytes;
	if ((size_t)cfg->cloud.batch_size != u->batch_size) {
		u->batch_size = (size_t)cfg->cloud.batch_size;
		spool_batch_free(&u->batch);
		spool_batch_init(&u->batch, u->batch_size);
		free(u->batch_ids);
		u->batch_ids = xcalloc(u->batch_size, RECORD_ID_LEN);
	}
	tv = uplink_tv(u->flush_interval_s);
	evtimer_add(u->flush_timer, &tv);
}

static struct http_client *
uplink_http_new(struct uplink *u, const struct config *cfg)
{
	struct http_client_options o;

	memset(&o, 0, sizeof o);
	o.tls = u->tls;
	o.connect_timeout_s = cfg->cloud.timeout_s;
	o.handshake_timeout_s = cfg->cloud.timeout_s;
	o.response_timeout_s = cfg->cloud.timeout_s;
	o.idle_timeout_s = cfg->cloud.flush_interval_s * 4 + 30;
	o.max_bytes_per_s = (size_t)cfg->cloud.max_bytes_per_s;
	o.log_name = "uplink";
	return http_client_new(u->base, &o);
}

static struct tlsio_config *
uplink_tls_new(const struct config *cfg, char **cause)
{
	struct tlsio_params p;
	struct tlsio_config *tls;
	char err[256];

	if (strncmp(cfg->cloud.endpoint, "https://", 8) != 0)
		return NULL;
	memset(&p, 0, sizeof p);
	p.ca_file = cfg->cloud.ca_file;
	p.client_cert =
	    cfg->cloud.client_cert[0] != '\0' ? cfg->cloud.client_cert : NULL;
	p.client_key =
	    cfg->cloud.client_key[0] != '\0' ? cfg->cloud.client_key : NULL;
	p.insecure = cfg->cloud.insecure;
	if ((tls = tlsio_config_new(&p, err, sizeof err)) == NULL)
		xasprintf(cause, "cloud TLS: %s", err);
	return tls;
}

/*
 * Everything of the config the uplink uses, as one string: a reload that
 * leaves it unchanged leaves the uplink alone (no new connection, no
 * handshake, the batch in flight still answered). Changed certificate
 * files are picked up without a reload (tlsio.h).
 */
static char *
uplink_settings(const struct config *cfg)
{
	char *s;

	xasprintf(&s,
	    "%s|%d|%s|%d|%d|%s|%s|%s|%s|%d|%lld|%.17g|%.17g|%lld|%.17g|"
	    "%.17g|%.17g|%lld|%d|%lld|%.17g",
	    cfg->agent.id, cfg->cloud.enabled, cfg->cloud.endpoint,
	    (int)cfg->cloud.format, (int)cfg->cloud.compress, cfg->cloud.token,
	    cfg->cloud.ca_file, cfg->cloud.client_cert, cfg->cloud.client_key,
	    cfg->cloud.insecure, cfg->cloud.batch_size,
	    cfg->cloud.flush_interval_s, cfg->cloud.timeout_s,
	    cfg->cloud.max_bytes_per_s, cfg->cloud.daily_budget_mb,
	    cfg->cloud.retry.base_delay_s, cfg->cloud.retry.max_delay_s,
	    cfg->cloud.retry.max_attempts, cfg->cloud.retry.jitter,
	    cfg->cloud.breaker.failure_threshold,
	    cfg->cloud.breaker.recovery_timeout_s);
	return s;
}

struct uplink *
uplink_new(struct event_base *base, struct store *store, struct spool *sp,
    const struct config *cfg, char **cause)
{
	struct uplink *u = xcalloc(1, sizeof *u);

	u->base = base;
	u->store = store;
	u->spool = sp;
	u->st.duration_bounds = uplink_duration_bounds;
	u->st.ca_expiry = u->st.cert_expiry = -1;
	u->st.since = uplink_wall();
	u->rng = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)u << 16) ^
	    (uint64_t)clock();
	if (u->rng == 0)
		u->rng = 1;
	u->settings = uplink_settings(cfg);
	u->flush_timer =
	    event_new(base, -1, EV_PERSIST, uplink_flush_timer_cb, u);
	u->retry_timer = evtimer_new(base, uplink_retry_timer_cb, u);
	u->again = evtimer_new(base, uplink_again_cb, u);
	if (!cfg->cloud.enabled) {
		u->st.state = UPLINK_DISABLED;
		return u;
	}
	u->st.state = UPLINK_DISCONNECTED;
	if (strncmp(cfg->cloud.endpoint, "https://", 8) == 0 &&
	    (u->tls = uplink_tls_new(cfg, cause)) == NULL)
		goto fail;
	if (cfg->cloud.insecure)
		log_warn("uplink",
		    "cloud.insecure = true: plain http and "
		    "unverified certificates are accepted for %s",
		    cfg->cloud.endpoint);
	if (u->tls != NULL) {
		u->st.ca_expiry = tlsio_config_ca_expiry(u->tls);
		u->st.cert_expiry = tlsio_config_cert_expiry(u->tls);
	}
	u->http = uplink_http_new(u, cfg);
	uplink_apply(u, cfg);
	uplink_budget_roll(u);
	return u;
fail:
	uplink_free(u);
	return NULL;
}

int
uplink_reconfigure(struct uplink *u, const struct config *cfg, char **cause)
{
	struct tlsio_config *tls = NULL;
	char *settings = uplink_settings(cfg);

	if (u->settings != NULL && strcmp(settings, u->settings) == 0) {
		free(settings);
		log_debug("uplink", "reload: [cloud] unchanged");
		return 0;
	}

	if (cfg->cloud.enabled && (tls = uplink_tls_new(cfg, cause)) == NULL &&
	    *cause != NULL) {
		free(settings);
		return -1;
	}
	free(u->settings);
	u->settings = settings;
	if (u->busy) {
		/* The answer will never come to us: the batch goes back. */
		http_client_cancel(u->http);
		spool_release(u->spool, &u->batch);
		u->busy = 0;
		u->st.in_flight = 0;
	}
	http_client_free(u->http);
	u->http = NULL;
	tlsio_config_free(u->tls);
	u->tls = tls;
	evtimer_del(u->flush_timer);
	evtimer_del(u->retry_timer);
	evtimer_del(u->again);
	u->waiting_retry = 0;
	if (!cfg->cloud.enabled) {
		uplink_set_state(u, UPLINK_DISABLED);
		return 0;
	}
	if (u->st.state == UPLINK_DISABLED)
		uplink_set_state(u, UPLINK_DISCONNECTED);
	u->st.ca_expiry = tls != NULL ? tlsio_config_ca_expiry(tls) : -1;
	u->st.cert_expiry = tls != NULL ? tlsio_config_cert_expiry(tls) : -1;
	u->http = uplink_http_new(u, cfg);
	uplink_apply(u, cfg);
	return 0;
}

void
uplink_free(struct uplink *u)
{
	if (u == NULL)
		return;
	if (u->busy) {
		http_client_cancel(u->http);
		spool_release(u->spool, &u->batch);
	}
	http_client_free(u->http);
	tlsio_config_free(u->tls);
	if (u->flush_timer != NULL)
		event_free(u->flush_timer);
	if (u->retry_timer != NULL)
		event_free(u->retry_timer);
	if (u->again != NULL)
		event_free(u->again);
	spool_batch_free(&u->batch);
	free(u->batch_ids);
	json_out_free(&u->body);
	json_out_free(&u->gz);
	free(u->settings);
	free(u->agent_id);
	free(u->endpoint);
	free(u->auth_header);
	free(u);
}

void
uplink_stats(const struct uplink *u, struct uplink_stats *out)
{
	*out = u->st;
	out->next_attempt_in_s =
	    u->waiting_retry ? u->retry_at - uplink_mono() : -1;
	if (u->tls != NULL) {
		out->ca_expiry = tlsio_config_ca_expiry(u->tls);
		out->cert_expiry = tlsio_config_cert_expiry(u->tls);
	}
}
