/*
 * The action publisher. One bufferevent per connection; libevent resolves
 * the host (evdns, so a name never blocks the loop) and connects without
 * blocking. Callbacks are deferred so that a failure is never reported
 * from inside mqtt_pub_publish. The keepalive announced to the broker is
 * twice the idle time, so an idle connection is closed before a PINGREQ
 * would be due and none is ever sent.
 */
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "log.h"
#include "mqtt_codec.h"
#include "mqtt_pub.h"
#include "xmalloc.h"

#define MQTT_PUB_MAX_QUEUED 64
#define MQTT_PUB_TIMEOUT 5.0
#define MQTT_PUB_IDLE_S 30.0
#define MQTT_PUB_BACKOFF_MIN 0.5
#define MQTT_PUB_BACKOFF_MAX 30.0
#define MQTT_PUB_MAX_PACKET 4096 /* the broker only acknowledges */
#define MQTT_PUB_ERROR_MAX 200

enum mqtt_pub_state {
	MQTT_PUB_IDLE,	     /* no connection */
	MQTT_PUB_CONNECTING, /* resolving, connecting */
	MQTT_PUB_CONNACK,    /* CONNECT sent */
	MQTT_PUB_READY,
};

struct mqtt_pub_msg {
	char *topic;
	unsigned char *payload;
	size_t len;
	int qos;
	uint16_t id; /* once sent at QoS 1 */
	int sent;
	mqtt_pub_done_cb *done;
	void *arg;
};

struct mqtt_pub {
	struct event_base *base;
	struct evdns_base *dns;
	struct bufferevent *bev;
	struct mqtt_decoder *dec;
	struct event *timer;
	char *url;
	char *host;
	int port;
	char *client_id;
	struct mqtt_pub_opts opts;
	enum mqtt_pub_state state;
	struct mqtt_pub_msg **queue; /* FIFO; sent ones wait for PUBACK */
	size_t nqueued;
	uint16_t next_id;
	double backoff_s;
	double retry_at; /* monotonic s; no connection before */
};

static double
mqtt_pub_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Splits url into host and port; -1 with err. */
static int
mqtt_pub_url_split(
    const char *url, char **host, int *port, char *err, size_t errlen)
{
	const char *p, *end, *colon = NULL, *q;
	long n;
	char *ep;

	if (strncasecmp(url, "mqtt://", 7) != 0) {
		snprintf(err, errlen,
		    "'%s' is not an mqtt:// URL (TLS is not supported for "
		    "actions)",
		    url);
		return -1;
	}
	p = url + 7;
	end = p + strlen(p);
	if (end > p && end[-1] == '/')
		end--;
	for (q = p; q < end; q++) {
		if (*q == ':' && colon == NULL)
			colon = q;
		else if (colon == NULL && !isalnum((unsigned char)*q) &&
		    *q != '-' && *q != '.' && *q != '_') {
			snprintf(err, errlen, "'%s': bad host name", url);
			return -1;
		}
	}
	if ((colon != NULL ? colon : end) == p) {
		snprintf(err, errlen, "'%s' has no host", url);
		return -1;
	}
	*port = 1883;
	if (colon != NULL) {
		errno = 0;
		n = strtol(colon + 1, &ep, 10);
		if (colon + 1 == end || ep != end || errno != 0 || n < 1 ||
		    n > 65535) {
			snprintf(err, errlen, "'%s': bad port", url);
			return -1;
		}
		*port = (int)n;
	}
	if (host != NULL)
		*host = xstrndup(p, (colon != NULL ? colon : end) - p);
	return 0;
}

int
mqtt_pub_url_check(const char *url, char *err, size_t errlen)
{
	int port;

	return mqtt_pub_url_split(url, NULL, &port, err, errlen);
}

static void mqtt_pub_timer_cb(evutil_socket_t, short, void *);

struct mqtt_pub *
mqtt_pub_new(struct event_base *base, const char *url, const char *client_id,
    const struct mqtt_pub_opts *opts, char *err, size_t errlen)
{
	struct mqtt_pub *pub;
	char *host;
	int port;

	if (mqtt_pub_url_split(url, &host, &port, err, errlen) == -1)
		return NULL;
	pub = xcalloc(1, sizeof *pub);
	pub->base = base;
	pub->url = xstrdup(url);
	pub->host = host;
	pub->port = port;
	pub->client_id = xstrdup(client_id);
	if (opts != NULL)
		pub->opts = *opts;
	if (pub->opts.max_queued == 0)
		pub->opts.max_queued = MQTT_PUB_MAX_QUEUED;
	if (pub->opts.timeout_s <= 0)
		pub->opts.timeout_s = MQTT_PUB_TIMEOUT;
	if (pub->opts.idle_s <= 0)
		pub->opts.idle_s = MQTT_PUB_IDLE_S;
	pub->queue = xcalloc(pub->opts.max_queued, sizeof *pub->queue);
	pub->dec = mqtt_decoder_new(MQTT_PUB_MAX_PACKET);
	pub->timer = evtimer_new(base, mqtt_pub_timer_cb, pub);
	pub->next_id = 1;
	return pub;
}

void
mqtt_pub_set_client_id(struct mqtt_pub *pub, const char *client_id)
{
	free(pub->client_id);
	pub->client_id = xstrdup(client_id);
}

static void
mqtt_pub_msg_free(struct mqtt_pub_msg *msg)
{
	free(msg->topic);
	free(msg->payload);
	free(msg);
}

/* Removes queue[i], reports it and frees it. */
static void
mqtt_pub_finish(struct mqtt_pub *pub, size_t i, int ok, const char *error)
{
	struct mqtt_pub_msg *msg = pub->queue[i];

	memmove(&pub->queue[i], &pub->queue[i + 1],
	    (pub->nqueued - i - 1) * sizeof *pub->queue);
	pub->nqueued--;
	if (msg->done != NULL)
		msg->done(msg->arg, ok, error);
	mqtt_pub_msg_free(msg);
}

static void
mqtt_pub_arm(struct mqtt_pub *pub, double s)
{
	struct timeval tv;

	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	evtimer_add(pub->timer, &tv);
}

static void
mqtt_pub_close(struct mqtt_pub *pub)
{
	if (pub->bev != NULL) {
		/* Safe from its own callbacks: libevent holds a reference. */
		bufferevent_free(pub->bev);
		pub->bev = NULL;
	}
	evtimer_del(pub->timer);
	mqtt_decoder_reset(pub->dec);
	pub->state = MQTT_PUB_IDLE;
}

/* The connection failed: what it carried fails with it; back off. */
static void mqtt_pub_fail(struct mqtt_pub *pub, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
mqtt_pub_fail(struct mqtt_pub *pub, const char *fmt, ...)
{
	char error[MQTT_PUB_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error, sizeof error, fmt, ap);
	va_end(ap);
	log_warn("mqtt_pub", "%s: %s (%zu messages not delivered)", pub->url,
	    error, pub->nqueued);
	mqtt_pub_close(pub);
	pub->backoff_s =
	    pub->backoff_s == 0 ? MQTT_PUB_BACKOFF_MIN : pub->backoff_s * 2;
	if (pub->backoff_s > MQTT_PUB_BACKOFF_MAX)
		pub->backoff_s = MQTT_PUB_BACKOFF_MAX;
	pub->retry_at = mqtt_pub_now() + pub->backoff_s;
	while (pub->nqueued > 0)
		mqtt_pub_finish(pub, 0, 0, error);
}

static int
mqtt_pub_write(struct mqtt_pub *pub, const void *buf, size_t len)
{
	return bufferevent_write(pub->bev, buf, len);
}

/* Writes the unsent messages; QoS 0 ones are done once written. */
static void
mqtt_pub_send(struct mqtt_pub *pub)
{
	struct mqtt_pub_msg *msg;
	struct mqtt_publish p;
	unsigned char *buf;
	size_t i = 0, n;
	int sent_qos1 = 0;

	while (i < pub->nqueued) {
		msg = pub->queue[i];
		if (msg->sent) {
			i++;
			continue;
		}
		memset(&p, 0, sizeof p);
		p.topic.p = msg->topic;
		p.topic.len = strlen(msg->topic);
		p.payload = msg->payload;
		p.payload_len = msg->len;
		p.qos = msg->qos;
		if (msg->qos > 0) {
			msg->id = pub->next_id++;
			if (pub->next_id == 0)
				pub->next_id = 1;
			p.id = msg->id;
		}
		n = mqtt_encode_publish(NULL, 0, &p);
		buf = xmalloc(n);
		mqtt_encode_publish(buf, n, &p);
		if (mqtt_pub_write(pub, buf, n) == -1) {
			free(buf);
			mqtt_pub_fail(pub, "cannot write to the connection");
			return;
		}
		free(buf);
		msg->sent = 1;
		if (msg->qos == 0) {
			mqtt_pub_finish(pub, i, 1, NULL);
			continue;
		}
		sent_qos1 = 1;
		i++;
	}
	if (sent_qos1 || pub->nqueued == 0)
		mqtt_pub_arm(pub,
		    pub->nqueued > 0 ? pub->opts.timeout_s : pub->opts.idle_s);
}

static void
mqtt_pub_send_connect(struct mqtt_pub *pub)
{
	struct mqtt_connect c;
	unsigned char buf[512];
	double ka = pub->opts.idle_s * 2;
	size_t n;

	memset(&c, 0, sizeof c);
	c.client_id.p = pub->client_id;
	c.client_id.len = strlen(pub->client_id);
	c.clean_session = 1;
	c.keepalive_s = ka > 65535 ? 65535 : (uint16_t)(ka + 1);
	n = mqtt_encode_connect(buf, sizeof buf, &c);
	if (n == 0 || n > sizeof buf) {
		mqtt_pub_fail(
		    pub, "client id '%s' cannot be sent", pub->client_id);
		return;
	}
	if (mqtt_pub_write(pub, buf, n) == -1) {
		mqtt_pub_fail(pub, "cannot write to the connection");
		return;
	}
	pub->state = MQTT_PUB_CONNACK;
}

static void
mqtt_pub_packet(struct mqtt_pub *pub, const struct mqtt_packet *pkt)
{
	size_t i;

	switch (pkt->type) {
	case MQTT_CONNACK:
		if (pub->state != MQTT_PUB_CONNACK)
			break;
		if (pkt->u.connack.code != MQTT_CONNACK_ACCEPTED) {
			mqtt_pub_fail(pub, "broker refused the connection: %s",
			    mqtt_connack_text(pkt->u.connack.code));
			return;
		}
		log_debug("mqtt_pub", "%s: connected as %s", pub->url,
		    pub->client_id);
		pub->state = MQTT_PUB_READY;
		pub->backoff_s = 0;
		evtimer_del(pub->timer);
		mqtt_pub_send(pub);
		return;
	case MQTT_PUBACK:
		if (pub->state != MQTT_PUB_READY)
			break;
		for (i = 0; i < pub->nqueued; i++) {
			if (pub->queue[i]->sent && pub->queue[i]->qos == 1 &&
			    pub->queue[i]->id == pkt->id) {
				mqtt_pub_finish(pub, i, 1, NULL);
				/* Progress: the deadline starts again. */
				mqtt_pub_arm(pub,
				    pub->nqueued > 0 ? pub->opts.timeout_s
						     : pub->opts.idle_s);
				return;
			}
		}
		log_debug("mqtt_pub", "%s: PUBACK for unknown id %u", pub->url,
		    (unsigned)pkt->id);
		return;
	case MQTT_PINGRESP:
		return;
	default:
		break;
	}
	mqtt_pub_fail(
	    pub, "unexpected %s from the broker", mqtt_type_name(pkt->type));
}

static void
mqtt_pub_read_cb(struct bufferevent *bev, void *arg)
{
	struct mqtt_pub *pub = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct mqtt_packet pkt;
	unsigned char *p;
	size_t len, used;
	enum mqtt_decode_status st;

	while (pub->bev == bev && (len = evbuffer_get_length(in)) > 0) {
		p = evbuffer_pullup(in, (ev_ssize_t)len);
		st = mqtt_decoder_feed(pub->dec, p, len, &used, &pkt);
		if (st == MQTT_DECODE_ERROR) {
			mqtt_pub_fail(pub, "bad packet from the broker: %s",
			    mqtt_decoder_error(pub->dec));
			return;
		}
		if (st == MQTT_DECODE_PACKET)
			mqtt_pub_packet(pub, &pkt);
		/* After the packet: it may point into these bytes. */
		if (pub->bev == bev)
			evbuffer_drain(in, used);
		if (st == MQTT_DECODE_MORE)
			break;
	}
}

static void
mqtt_pub_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct mqtt_pub *pub = arg;
	int dns_err, err;

	if (what & BEV_EVENT_CONNECTED) {
		mqtt_pub_send_connect(pub);
		return;
	}
	if ((dns_err = bufferevent_socket_get_dns_error(bev)) != 0) {
		mqtt_pub_fail(pub, "resolve %s: %s", pub->host,
		    evutil_gai_strerror(dns_err));
		return;
	}
	err = EVUTIL_SOCKET_ERROR();
	if (what & BEV_EVENT_EOF)
		mqtt_pub_fail(pub, "the broker closed the connection");
	else if (pub->state == MQTT_PUB_CONNECTING)
		mqtt_pub_fail(pub, "connect to %s:%d: %s", pub->host, pub->port,
		    evutil_socket_error_to_string(err));
	else
		mqtt_pub_fail(pub, "connection to %s:%d lost: %s", pub->host,
		    pub->port, evutil_socket_error_to_string(err));
}

static void
mqtt_pub_connect(struct mqtt_pub *pub)
{
	if (pub->dns == NULL &&
	    (pub->dns = evdns_base_new(pub->base,
		 EVDNS_BASE_INITIALIZE_NAMESERVERS |
		     EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL) {
		mqtt_pub_fail(
		    pub, "resolve %s: cannot set up the resolver", pub->host);
		return;
	}
	pub->bev = bufferevent_socket_new(
	    pub->base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (pub->bev == NULL) {
		mqtt_pub_fail(pub, "cannot create a socket");
		return;
	}
	bufferevent_setcb(
	    pub->bev, mqtt_pub_read_cb, NULL, mqtt_pub_event_cb, pub);
	bufferevent_enable(pub->bev, EV_READ | EV_WRITE);
	pub->state = MQTT_PUB_CONNECTING;
	mqtt_pub_arm(pub, pub->opts.timeout_s);
	/* A failure here is also reported, deferred, to the event cb. */
	bufferevent_socket_connect_hostname(
	    pub->bev, pub->dns, AF_UNSPEC, pub->host, pub->port);
}

/* Starts a connection for queued messages, now or after the backoff. */
static void
mqtt_pub_kick(struct mqtt_pub *pub)
{
	double now;

	if (pub->nqueued == 0)
		return;
	switch (pub->state) {
	case MQTT_PUB_READY:
		mqtt_pub_send(pub);
		return;
	case MQTT_PUB_IDLE:
		now = mqtt_pub_now();
		if (now >= pub->retry_at)
			mqtt_pub_connect(pub);
		else if (!evtimer_pending(pub->timer, NULL))
			mqtt_pub_arm(pub, pub->retry_at - now);
		return;
	default:
		return; /* the connection is on its way */
	}
}

static void
mqtt_pub_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_pub *pub = arg;
	unsigned char buf[2];
	size_t n;

	switch (pub->state) {
	case MQTT_PUB_IDLE:
		mqtt_pub_kick(pub);
		break;
	case MQTT_PUB_CONNECTING:
	case MQTT_PUB_CONNACK:
		mqtt_pub_fail(pub, "connect to %s:%d: timed out after %gs",
		    pub->host, pub->port, pub->opts.timeout_s);
		break;
	case MQTT_PUB_READY:
		if (pub->nqueued > 0) {
			mqtt_pub_fail(
			    pub, "no PUBACK within %gs", pub->opts.timeout_s);
			break;
		}
		/* Idle: a clean goodbye, then nothing held open. */
		/*
		 * Straight to the socket (the output buffer is empty once
		 * all is acknowledged): freeing the bufferevent would drop
		 * bytes it still held. Two bytes, never blocking.
		 */
		n = mqtt_encode_empty(buf, sizeof buf, MQTT_DISCONNECT);
		if (evbuffer_get_length(bufferevent_get_output(pub->bev)) == 0)
			(void)send(bufferevent_getfd(pub->bev), buf, n,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		log_debug("mqtt_pub", "%s: idle, disconnecting", pub->url);
		mqtt_pub_close(pub);
		break;
	}
}

int
mqtt_pub_publish(struct mqtt_pub *pub, const char *topic, const void *payload,
    size_t len, int qos, mqtt_pub_done_cb *done, void *arg)
{
	struct mqtt_pub_msg *msg;
	char error[MQTT_PUB_ERROR_MAX];

	if (!mqtt_topic_valid(topic, strlen(topic)))
		snprintf(error, sizeof error, "invalid topic '%s'", topic);
	else if (qos != 0 && qos != 1)
		snprintf(error, sizeof error, "QoS %d is not supported", qos);
	else if (pub->nqueued >= pub->opts.max_queued)
		snprintf(error, sizeof error,
		    "not sent: %zu messages already queued for %s",
		    pub->nqueued, pub->url);
	else
		error[0] = '\0';
	if (error[0] != '\0') {
		if (done != NULL)
			done(arg, 0, error);
		return -1;
	}
	msg = xcalloc(1, sizeof *msg);
	msg->topic = xstrdup(topic);
	msg->payload = xmalloc(len > 0 ? len : 1);
	memcpy(msg->payload, payload, len);
	msg->len = len;
	msg->qos = qos;
	msg->done = done;
	msg->arg = arg;
	pub->queue[pub->nqueued++] = msg;
	mqtt_pub_kick(pub);
	return 0;
}

size_t
mqtt_pub_queued(const struct mqtt_pub *pub)
{
	return pub != NULL ? pub->nqueued : 0;
}

const char *
mqtt_pub_url(const struct mqtt_pub *pub)
{
	return pub->url;
}

void
mqtt_pub_free(struct mqtt_pub *pub)
{
	if (pub == NULL)
		return;
	mqtt_pub_close(pub);
	while (pub->nqueued > 0)
		mqtt_pub_finish(pub, 0, 0, "not sent: the agent is stopping");
	event_free(pub->timer);
	if (pub->dns != NULL)
		evdns_base_free(pub->dns, 0);
	mqtt_decoder_free(pub->dec);
	free(pub->queue);
	free(pub->url);
	free(pub->host);
	free(pub->client_id);
	free(pub);
}
