/*
 * The mqtt adapter: an MQTT 3.1.1 subscriber on the agent's event loop.
 * One connection at a time walks resolve (evdns) -> TCP connect -> TLS
 * handshake (mqtts://, through tlsio) -> CONNECT/CONNACK -> SUBSCRIBE/
 * SUBACK -> up, each step under the connect timeout; any failure goes
 * through mqtt_fail(), which closes, counts, logs and arms a jittered
 * backoff. Packets are decoded by mqtt_codec, payloads by payload.c; this
 * file owns the session: keepalive, PUBACK after commit, and redelivery.
 *
 * Exactly once into the store: a QoS 1 message's readings are submitted
 * together with the offset "mqtt:<device>:<packet id>" = hash of topic and
 * payload, so both land in one transaction. PUBACK goes out once every
 * reading of the message is committed; the key is deleted only when a
 * PINGRESP shows the broker has read that PUBACK (it answers in order). If
 * we die in between, the broker redelivers with DUP and the same packet
 * id; the key is there with the same hash, so we acknowledge without
 * storing. Keys of PUBACKs the broker did read before we died are dropped
 * by the next run once the broker has redelivered what it still held.
 * This relies on the broker numbering packet ids in sequence (mosquitto
 * does): one that reused an id at once could, after a crash in that
 * instant, send a different message with the same bytes under it.
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

#include "adapter.h"
#include "dial.h"
#include "json_out.h"
#include "log.h"
#include "mqtt_codec.h"
#include "payload.h"
#include "tlsio.h"
#include "xmalloc.h"

#define MQTT_READ_CHUNK 16384
#define MQTT_READS_PER_WAKEUP 16  /* then let other events run */
#define MQTT_BLOCKED_RETRY_S 0.02 /* waiting for ring room */
/*
 * QoS 1 messages waiting for one commit at most: more makes transactions
 * bigger but not faster, and the pipeline's pending offsets longer.
 */
#define MQTT_MAX_UNCOMMITTED 128

/* Connection phases; the adapter state follows from them. */
enum mqtt_phase {
	MQTT_IDLE,
	MQTT_RESOLVING,
	MQTT_CONNECTING,
	MQTT_HANDSHAKE,
	MQTT_WAIT_CONNACK,
	MQTT_WAIT_SUBACK,
	MQTT_UP,
	MQTT_BACKOFF,
	MQTT_STOPPED,
};

static const char *const mqtt_payload_names[] = { "number", "json", "influx",
	NULL };
static const enum payload_format mqtt_payload_formats[] = { PAYLOAD_NUMBER,
	PAYLOAD_JSON, PAYLOAD_INFLUX };

struct mqtt_pool;

/* A QoS 1 message whose readings wait for their commit. */
struct mqtt_msg {
	struct mqtt_pool *pool;
	uint64_t hash;	   /* of topic and payload */
	unsigned long gen; /* connection of its latest delivery */
	size_t pending;	   /* readings not yet committed */
	int next;	   /* in its id's bucket, or the free list; -1 ends */
	uint16_t id;
	int used;
	int failed; /* a reading was refused */
};

/*
 * The messages in flight. The pipeline may call back after the adapter
 * is freed (readings it could not commit are refused at shutdown), so the
 * pool outlives the adapter until its last reading is settled.
 */
struct mqtt_pool {
	struct mqtt *m; /* NULL once the adapter is gone */
	struct mqtt_msg *msgs;
	size_t n;
	int *buckets; /* by packet id: first message, or -1 */
	size_t mask;  /* buckets - 1, a power of two less one */
	int free;     /* first unused message, or -1 */
	size_t used;
	size_t pending; /* readings in the pipeline, all messages */
};

struct mqtt {
	struct adapter *a;

	/* Configuration. */
	char *url;
	int tls_on;
	char host[256];
	int port;
	char **topics;
	size_t ntopics;
	int qos;
	char *client_id;
	int clean_session;
	long long keepalive_s;
	char *username; /* "" = none */
	char *password; /* secret; "" = none */
	struct payload_opts popts;
	int fixed_sensor; /* sensor set in the config */
	struct tlsio_params tlsp;
	double reconnect_min_s;
	double reconnect_max_s;
	double connect_timeout_s;
	size_t max_packet;

	/* The connection. */
	enum mqtt_phase phase;
	unsigned long gen; /* counts connections */
	struct evdns_base *dns;
	struct dial *dial; /* resolving and connecting */
	int fd;
	struct event *io;
	short io_what;
	struct event *timer;	   /* phase deadline until SUBACK */
	struct event *ping_timer;  /* keepalive, then PINGRESP deadline */
	struct event *retry_timer; /* backoff */
	struct event *resume_ev;   /* ring room again, or a deferred fail */
	struct tlsio_config *tlscfg;
	struct tlsio *tls;
	int rd_wants_write; /* TLS read needs the socket writable */
	int wr_wants_read;  /* TLS write needs the socket readable */
	size_t tls_wlen;    /* length of a TLS write to repeat */
	struct mqtt_decoder *dec;
	unsigned char in[MQTT_READ_CHUNK];
	size_t in_off;
	size_t in_len;
	unsigned char *out;
	size_t out_off;
	size_t out_len;
	size_t out_cap;
	int blocked; /* held waits for room in the ring */
	struct mqtt_packet held;
	int ping_outstanding;
	/*
	 * Packet ids whose PUBACK went out: their keys are deleted once a
	 * PINGRESP shows the broker has read past those PUBACKs.
	 */
	uint16_t *unconfirmed; /* PUBACK queued since the last PINGREQ */
	size_t nunconfirmed;
	size_t unconfirmed_cap;
	unsigned char *acking; /* a bit per id in unconfirmed[] */
	uint16_t *confirming;  /* PUBACK before the PINGREQ outstanding */
	size_t nconfirming;
	size_t confirming_cap;
	/*
	 * Packet ids with a key left by the previous run (a bit each), kept
	 * until the broker has redelivered what it still holds; NULL when
	 * none or once cleaned up.
	 */
	unsigned char *stale;
	size_t nstale;
	int stale_at_pingresp; /* clean up at the next PINGRESP */
	unsigned char *owned;  /* ids whose key this run wrote or adopted */
	size_t nowned;
	int marked; /* "mqtt:<device>:keys" is set: keys may exist */
	int fail_deferred;
	char deferred_reason[160];
	uint16_t sub_id;
	uint16_t next_id;
	unsigned attempts; /* failures since the last good session */
	uint64_t rng;
	int session_present;
	unsigned char *granted; /* per topic; 0xff until SUBACK */

	struct payload *payload;
	struct reading *batch; /* one message's readings */
	size_t nbatch;
	size_t batch_cap;
	struct mqtt_pool *pool;

	/* Counters for status(). */
	unsigned long long connects;
	unsigned long long messages;
	unsigned long long qos0;
	unsigned long long qos1;
	unsigned long long acked;
	unsigned long long duplicates;
	unsigned long long bad_payloads;
	unsigned long long stored;
	char last_disconnect[160];
};

static void mqtt_fail(struct mqtt *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void mqtt_connect(struct mqtt *);
static void mqtt_step(struct mqtt *);
static void mqtt_io_cb(evutil_socket_t, short, void *);

static struct timeval
mqtt_tv(double s)
{
	struct timeval tv;

	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

static void
mqtt_arm(struct event *ev, double s)
{
	struct timeval tv = mqtt_tv(s);

	evtimer_add(ev, &tv);
}

static double
mqtt_random(struct mqtt *m)
{
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return (double)((m->rng * 2685821657736338717ULL) >> 11) /
	    (double)(1ULL << 53);
}

/* FNV-1a, 64 bits, over topic, a NUL and payload. */
static uint64_t
mqtt_hash(const struct mqtt_publish *p)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < p->topic.len; i++)
		h = (h ^ (unsigned char)p->topic.p[i]) * 1099511628211ULL;
	h *= 1099511628211ULL;
	for (i = 0; i < p->payload_len; i++)
		h = (h ^ p->payload[i]) * 1099511628211ULL;
	return h;
}

static void
mqtt_offset_key(const struct mqtt *m, uint16_t id, char *buf, size_t len)
{
	snprintf(buf, len, "mqtt:%s:%u", m->a->name, id);
}

/* Configuration. */

static void mqtt_key_error(struct config *, const struct cfg_device *,
    const char *, const char *, ...) __attribute__((format(printf, 4, 5)));

static void
mqtt_key_error(struct config *cfg, const struct cfg_device *dev,
    const char *key, const char *fmt, ...)
{
	struct toml_value *v = toml_get(dev->table, key);
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	cfg_error(cfg, v != NULL && v->line > 0 ? v->line : dev->line,
	    "%s %s: %s", dev->table->name, key, msg);
	free(msg);
}

/* mqtt://host[:port][/] or mqtts://...; -1 with err on failure. */
static int
mqtt_url_parse(struct mqtt *m, const char *url, char *err, size_t errlen)
{
	const char *p, *host, *host_end, *end, *q;
	struct in6_addr a6;
	char tmp[INET6_ADDRSTRLEN];
	size_t len;
	long port;

	if (strncasecmp(url, "mqtt://", 7) == 0) {
		p = url + 7;
		m->tls_on = 0;
		m->port = 1883;
	} else if (strncasecmp(url, "mqtts://", 8) == 0) {
		p = url + 8;
		m->tls_on = 1;
		m->port = 8883;
	} else {
		snprintf(
		    err, errlen, "'%s' is not an mqtt:// or mqtts:// URL", url);
		return -1;
	}
	end = p + strlen(p);
	if (end > p && end[-1] == '/')
		end--;
	if (memchr(p, '@', end - p) != NULL) {
		snprintf(err, errlen,
		    "user info in the URL is not supported (use username "
		    "and password)");
		return -1;
	}
	if (*p == '[') {
		host = p + 1;
		if ((host_end = memchr(host, ']', end - host)) == NULL)
			goto bad_host;
		q = host_end + 1;
		len = host_end - host;
		if (len == 0 || len >= sizeof tmp)
			goto bad_host;
		memcpy(tmp, host, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			goto bad_host;
	} else {
		host = p;
		for (q = p; q < end && *q != ':'; q++) {
			if (!isalnum((unsigned char)*q) && *q != '-' &&
			    *q != '.' && *q != '_')
				goto bad_host;
		}
		host_end = q;
	}
	len = host_end - host;
	if (len == 0 || len >= sizeof m->host)
		goto bad_host;
	memcpy(m->host, host, len);
	m->host[len] = '\0';
	if (q < end) {
		if (*q != ':' || q + 1 == end)
			goto bad_port;
		port = 0;
		for (q++; q < end; q++) {
			if (!isdigit((unsigned char)*q) || port > 65535)
				goto bad_port;
			port = port * 10 + (*q - '0');
		}
		if (port < 1 || port > 65535)
			goto bad_port;
		m->port = (int)port;
	}
	return 0;
bad_host:
	snprintf(err, errlen, "'%s': bad host", url);
	return -1;
bad_port:
	snprintf(err, errlen, "'%s': bad port", url);
	return -1;
}

static int
mqtt_configure(struct adapter *a, struct config *cfg,
    const struct cfg_device *dev, char **cause)
{
	struct toml_table *t = dev->table;
	struct mqtt *m = xcalloc(1, sizeof *m);
	char *def_id = NULL, *value_path, *ts_path, *ca, *cert, *key;
	char err[256];
	long long qos, max_packet;
	size_t i;
	int bad = 0, fmt, clean, insecure;

	a->priv = m;
	m->a = a;
	m->fd = -1;
	if (!cfg_has(t, "url")) {
		cfg_error(
		    cfg, dev->line, "%s: missing required key 'url'", t->name);
		bad = -1;
	}
	bad |= cfg_get_string(cfg, t, "url", "", &m->url);
	if (bad == 0 && mqtt_url_parse(m, m->url, err, sizeof err) == -1) {
		mqtt_key_error(cfg, dev, "url", "%s", err);
		bad = -1;
	}
	if (cfg_get_strings(cfg, t, "topics", &m->topics, &m->ntopics) == 0) {
		if (m->ntopics == 0) {
			mqtt_key_error(cfg, dev, "topics",
			    "at least one topic filter is needed");
			bad = -1;
		}
		for (i = 0; i < m->ntopics; i++) {
			if (!mqtt_filter_valid(
				m->topics[i], strlen(m->topics[i]))) {
				mqtt_key_error(cfg, dev, "topics",
				    "'%s' is not a valid topic filter (+ and "
				    "# each fill a whole level, # only the "
				    "last)",
				    m->topics[i]);
				bad = -1;
			}
		}
	} else
		bad = -1;
	bad |= cfg_get_int(cfg, t, "qos", 1, 0, 1, &qos);
	m->qos = (int)qos;
	xasprintf(&def_id, "outpost-%s-%s", cfg->agent.id, dev->name);
	bad |= cfg_get_string(cfg, t, "client_id", def_id, &m->client_id);
	free(def_id);
	bad |= cfg_get_bool(cfg, t, "clean_session", 0, &clean);
	m->clean_session = clean;
	if (m->client_id[0] == '\0' && !m->clean_session) {
		mqtt_key_error(cfg, dev, "client_id",
		    "an empty client id needs clean_session = true");
		bad = -1;
	}
	if (strlen(m->client_id) > MQTT_MAX_STRING ||
	    !mqtt_utf8_valid(m->client_id, strlen(m->client_id))) {
		mqtt_key_error(cfg, dev, "client_id", "not a valid client id");
		bad = -1;
	}
	bad |= cfg_get_int(cfg, t, "keepalive", 30, 0, 65535, &m->keepalive_s);
	bad |= cfg_get_string(cfg, t, "username", "", &m->username);
	bad |= cfg_get_secret(cfg, t, "password", "", &m->password);
	if (m->password[0] != '\0' && m->username[0] == '\0') {
		mqtt_key_error(
		    cfg, dev, "password", "a password needs a username");
		bad = -1;
	}
	bad |= cfg_get_enum(cfg, t, "payload", mqtt_payload_names, 0, &fmt);
	m->popts.format = mqtt_payload_formats[fmt];
	bad |= cfg_get_string(cfg, t, "value_path", "", &value_path);
	bad |= cfg_get_string(cfg, t, "ts_path", "", &ts_path);
	if ((value_path[0] != '\0' || ts_path[0] != '\0') &&
	    m->popts.format != PAYLOAD_JSON) {
		mqtt_key_error(cfg, dev,
		    value_path[0] != '\0' ? "value_path" : "ts_path",
		    "only for payload = \"json\"");
		bad = -1;
	}
	m->popts.value_path = value_path[0] != '\0' ? value_path : NULL;
	m->popts.ts_path = ts_path[0] != '\0' ? ts_path : NULL;
	m->popts.scale = 1.0;
	/* A message must fit the ring whole: see mqtt_room(). */
	m->popts.max_readings = (size_t)dev->buffer;
	m->fixed_sensor = cfg_has(t, "sensor");

	bad |= cfg_get_string(
	    cfg, t, "ca_file", "/etc/ssl/certs/ca-certificates.crt", &ca);
	bad |= cfg_get_string(cfg, t, "client_cert", "", &cert);
	bad |= cfg_get_string(cfg, t, "client_key", "", &key);
	bad |= cfg_get_bool(cfg, t, "insecure", 0, &insecure);
	if ((cert[0] == '\0') != (key[0] == '\0')) {
		mqtt_key_error(cfg, dev,
		    cert[0] == '\0' ? "client_cert" : "client_key",
		    "client_cert and client_key go together");
		bad = -1;
	}
	if (m->tls_on && !insecure && ca[0] == '\0') {
		mqtt_key_error(cfg, dev, "ca_file",
		    "mqtts:// needs a CA file (or insecure = true)");
		bad = -1;
	}
	m->tlsp.ca_file = ca[0] != '\0' ? ca : NULL;
	m->tlsp.client_cert = cert[0] != '\0' ? cert : NULL;
	m->tlsp.client_key = key[0] != '\0' ? key : NULL;
	m->tlsp.insecure = insecure;

	if ((cfg_get_double(cfg, t, "reconnect_min", 1.0, 0.001, 86400,
		 &m->reconnect_min_s) |
		cfg_get_double(cfg, t, "reconnect_max", 60.0, 0.001, 86400,
		    &m->reconnect_max_s)) != 0)
		bad = -1;
	else if (m->reconnect_max_s < m->reconnect_min_s) {
		mqtt_key_error(cfg, dev, "reconnect_max",
		    "%g is below reconnect_min (%g)", m->reconnect_max_s,
		    m->reconnect_min_s);
		bad = -1;
	}
	bad |= cfg_get_int(cfg, t, "max_packet_bytes", 65536, 64,
	    MQTT_MAX_REMAINING, &max_packet);
	m->max_packet = (size_t)max_packet;
	bad |= cfg_get_double(cfg, t, "connect_timeout", 10.0, 0.001, 3600,
	    &m->connect_timeout_s);
	(void)cause;
	return bad ? -1 : 0;
}

/* Output. */

static void
mqtt_queue(struct mqtt *m, const void *p, size_t n)
{
	size_t ncap;

	if (m->out_off == m->out_len && m->tls_wlen == 0)
		m->out_off = m->out_len = 0;
	if (m->out_len + n > m->out_cap) {
		ncap = m->out_cap == 0 ? 256 : m->out_cap;
		while (ncap < m->out_len + n)
			ncap *= 2;
		m->out = xreallocarray(m->out, ncap, 1);
		m->out_cap = ncap;
	}
	memcpy(m->out + m->out_len, p, n);
	m->out_len += n;
}

/* Writes what is queued; -1 when the connection failed. */
static int
mqtt_flush(struct mqtt *m)
{
	char err[256];
	size_t len, n;
	ssize_t w;

	m->wr_wants_read = 0;
	while (m->out_off < m->out_len) {
		len = m->tls_wlen != 0 ? m->tls_wlen : m->out_len - m->out_off;
		if (m->tls != NULL) {
			switch (tlsio_write(m->tls, m->out + m->out_off, len,
			    &n, err, sizeof err)) {
			case TLSIO_OK:
				m->tls_wlen = 0;
				break;
			case TLSIO_WANT_READ:
				m->tls_wlen = len;
				m->wr_wants_read = 1;
				return 0;
			case TLSIO_WANT_WRITE:
				m->tls_wlen = len;
				return 0;
			default:
				mqtt_fail(m, "TLS send to %s:%d: %s", m->host,
				    m->port, err);
				return -1;
			}
		} else {
			w = send(m->fd, m->out + m->out_off, len, MSG_NOSIGNAL);
			if (w == -1) {
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR)
					return 0;
				mqtt_fail(m, "send to %s:%d: %s", m->host,
				    m->port, strerror(errno));
				return -1;
			}
			n = (size_t)w;
		}
		m->out_off += n;
	}
	m->out_off = m->out_len = 0;
	return 0;
}

/* Waits on the socket for what; replaces the previous wait. */
static void
mqtt_wait(struct mqtt *m, short what)
{
	if (m->io_what == what &&
	    event_pending(m->io, EV_READ | EV_WRITE, NULL))
		return;
	event_del(m->io);
	m->io_what = what;
	if (what == 0)
		return;
	event_assign(
	    m->io, m->a->base, m->fd, what | EV_PERSIST, mqtt_io_cb, m);
	event_add(m->io, NULL);
}

/* An established connection: read unless blocked, write when queued. */
static void
mqtt_io_update(struct mqtt *m)
{
	short what = 0;

	if (m->phase < MQTT_WAIT_CONNACK || m->phase > MQTT_UP)
		return;
	if (!m->blocked)
		what |= m->rd_wants_write ? EV_WRITE : EV_READ;
	if (m->out_off < m->out_len)
		what |= m->wr_wants_read ? EV_READ : EV_WRITE;
	mqtt_wait(m, what);
}

/* How long a PINGREQ may wait for its PINGRESP. */
static double
mqtt_pong_wait(const struct mqtt *m)
{
	double wait = (double)m->keepalive_s / 2;

	if (m->keepalive_s == 0)
		return m->connect_timeout_s;
	return wait < 0.5 ? 0.5 : wait;
}

/*
 * PINGREQ: for the keepalive, and to learn that the broker has read the
 * PUBACKs queued before it (it answers in order).
 */
static void
mqtt_send_ping(struct mqtt *m)
{
	unsigned char buf[2];
	uint16_t *tmp, id;
	size_t cap, i;

	mqtt_encode_empty(buf, sizeof buf, MQTT_PINGREQ);
	mqtt_queue(m, buf, sizeof buf);
	m->ping_outstanding = 1;
	for (i = 0; i < m->nunconfirmed; i++) {
		id = m->unconfirmed[i];
		m->acking[id / 8] &= ~(1 << (id % 8));
	}
	tmp = m->confirming;
	cap = m->confirming_cap;
	m->confirming = m->unconfirmed;
	m->confirming_cap = m->unconfirmed_cap;
	m->nconfirming = m->nunconfirmed;
	m->unconfirmed = tmp;
	m->unconfirmed_cap = cap;
	m->nunconfirmed = 0;
	mqtt_arm(m->ping_timer, mqtt_pong_wait(m));
	mqtt_io_update(m);
}

/*
 * PUBACK. Its key stays until the broker has surely read it: deleted
 * earlier, a crash before the PUBACK leaves our socket would have the
 * broker redeliver a message we no longer recognise.
 */
static void
mqtt_send_ack(struct mqtt *m, uint16_t id)
{
	unsigned char buf[4];

	mqtt_encode_ack(buf, sizeof buf, MQTT_PUBACK, id);
	mqtt_queue(m, buf, sizeof buf);
	m->acked++;
	if (m->nunconfirmed == m->unconfirmed_cap) {
		m->unconfirmed_cap =
		    m->unconfirmed_cap == 0 ? 32 : m->unconfirmed_cap * 2;
		m->unconfirmed = xreallocarray(
		    m->unconfirmed, m->unconfirmed_cap, sizeof *m->unconfirmed);
	}
	m->unconfirmed[m->nunconfirmed++] = id;
	m->acking[id / 8] |= 1 << (id % 8);
	if (!m->ping_outstanding)
		mqtt_send_ping(m);
	mqtt_io_update(m);
}

/* The connection's lifecycle. */

static void
mqtt_close(struct mqtt *m)
{
	dial_cancel(m->dial);
	m->dial = NULL;
	if (m->io != NULL) {
		event_del(m->io);
		m->io_what = 0;
	}
	if (m->timer != NULL)
		evtimer_del(m->timer);
	if (m->ping_timer != NULL)
		evtimer_del(m->ping_timer);
	if (m->tls != NULL) {
		tlsio_free(m->tls);
		m->tls = NULL;
	}
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	if (m->out != NULL)
		explicit_bzero(m->out, m->out_cap); /* CONNECT's password */
	m->in_off = m->in_len = 0;
	m->out_off = m->out_len = 0;
	m->tls_wlen = 0;
	m->rd_wants_write = m->wr_wants_read = 0;
	m->blocked = 0;
	m->ping_outstanding = 0;
	/* Unconfirmed PUBACKs keep their keys: redelivery will tell. */
	m->nunconfirmed = m->nconfirming = 0;
	if (m->acking != NULL)
		memset(m->acking, 0, 65536 / 8);
	m->stale_at_pingresp = 0;
	if (m->dec != NULL)
		mqtt_decoder_reset(m->dec);
}

/*
 * The one failure path: close, count and log (adapter_error), show the
 * error state, and reconnect after min(max, min * 2^n) scaled by a random
 * 50..100 % so a fleet that lost the same broker does not return at once.
 */
static void
mqtt_fail(struct mqtt *m, const char *fmt, ...)
{
	va_list ap;
	double delay;
	unsigned i;

	va_start(ap, fmt);
	vsnprintf(m->last_disconnect, sizeof m->last_disconnect, fmt, ap);
	va_end(ap);
	mqtt_close(m);
	adapter_error(m->a, "%s", m->last_disconnect);
	adapter_set_state(m->a, ADAPTER_ERROR);
	delay = m->reconnect_min_s;
	for (i = 0; i < m->attempts && delay < m->reconnect_max_s; i++)
		delay *= 2;
	if (delay > m->reconnect_max_s)
		delay = m->reconnect_max_s;
	delay *= 0.5 + 0.5 * mqtt_random(m);
	m->attempts++;
	m->phase = MQTT_BACKOFF;
	log_debug(m->a->name, "reconnecting to %s in %.2f s", m->url, delay);
	mqtt_arm(m->retry_timer, delay);
}

/* Fails from a place that must not close the connection under itself. */
static void
mqtt_fail_later(struct mqtt *m, const char *reason)
{
	if (m->fail_deferred)
		return;
	m->fail_deferred = 1;
	snprintf(m->deferred_reason, sizeof m->deferred_reason, "%s", reason);
	mqtt_arm(m->resume_ev, 0);
}

static void
mqtt_send_connect(struct mqtt *m)
{
	struct mqtt_connect c;
	unsigned char *buf;
	size_t n;

	memset(&c, 0, sizeof c);
	c.client_id.p = m->client_id;
	c.client_id.len = strlen(m->client_id);
	c.keepalive_s = (uint16_t)m->keepalive_s;
	c.clean_session = m->clean_session;
	if (m->username[0] != '\0') {
		c.has_username = 1;
		c.username.p = m->username;
		c.username.len = strlen(m->username);
	}
	if (m->password[0] != '\0') {
		c.has_password = 1;
		c.password.p = m->password;
		c.password.len = strlen(m->password);
	}
	n = mqtt_encode_connect(NULL, 0, &c);
	buf = xmalloc(n);
	mqtt_encode_connect(buf, n, &c);
	mqtt_queue(m, buf, n);
	explicit_bzero(buf, n);
	free(buf);
	m->phase = MQTT_WAIT_CONNACK;
	mqtt_step(m);
}

static void
mqtt_handshake_step(struct mqtt *m)
{
	char err[256];

	switch (tlsio_handshake(m->tls, err, sizeof err)) {
	case TLSIO_OK:
		log_debug(m->a->name, "TLS with %s:%d: %s %s%s", m->host,
		    m->port, tlsio_version(m->tls), tlsio_ciphersuite(m->tls),
		    tlsio_resumed(m->tls) ? ", resumed" : "");
		mqtt_send_connect(m);
		return;
	case TLSIO_WANT_READ:
		mqtt_wait(m, EV_READ);
		return;
	case TLSIO_WANT_WRITE:
		mqtt_wait(m, EV_WRITE);
		return;
	default:
		mqtt_fail(
		    m, "TLS handshake with %s:%d: %s", m->host, m->port, err);
	}
}

static void
mqtt_connected(struct mqtt *m, int fd)
{
	char err[256];
	int one = 1;

	m->fd = fd;
	setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (!m->tls_on) {
		mqtt_send_connect(m);
		return;
	}
	if (m->tlscfg == NULL &&
	    (m->tlscfg = tlsio_config_new(&m->tlsp, err, sizeof err)) == NULL) {
		mqtt_fail(m, "TLS setup: %s", err);
		return;
	}
	if ((m->tls = tlsio_new(m->tlscfg, m->fd, m->host, err, sizeof err)) ==
	    NULL) {
		mqtt_fail(m, "TLS with %s:%d: %s", m->host, m->port, err);
		return;
	}
	m->phase = MQTT_HANDSHAKE;
	mqtt_handshake_step(m);
}

/* Resolved: status and the timeout say "connecting" from now on. */
static void
mqtt_dial_cb(const struct dial_result *r, void *arg)
{
	struct mqtt *m = arg;

	if (r->event == DIAL_RESOLVED) {
		m->phase = MQTT_CONNECTING;
		return;
	}
	m->dial = NULL; /* over: it frees itself */
	if (r->event == DIAL_CONNECTED)
		mqtt_connected(m, r->fd);
	else
		mqtt_fail(m, "%s", r->error);
}

static void
mqtt_connect(struct mqtt *m)
{
	m->gen++;
	m->session_present = 0;
	memset(m->granted, 0xff, m->ntopics);
	adapter_set_state(m->a, ADAPTER_CONNECTING);
	m->phase = MQTT_RESOLVING;
	mqtt_arm(m->timer, m->connect_timeout_s);
	if (m->dns == NULL &&
	    (m->dns = evdns_base_new(m->a->base,
		 EVDNS_BASE_INITIALIZE_NAMESERVERS |
		     EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL) {
		mqtt_fail(m, "resolve %s: cannot set up the resolver", m->host);
		return;
	}
	m->dial =
	    dial_start(m->a->base, m->dns, m->host, m->port, mqtt_dial_cb, m);
}

static void
mqtt_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	mqtt_connect(arg);
}

/* Until SUBACK, one deadline covers the whole way up. */
static void
mqtt_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt *m = arg;
	double t = m->connect_timeout_s;

	switch (m->phase) {
	case MQTT_RESOLVING:
		mqtt_fail(m, "resolve %s: timed out after %.1f s", m->host, t);
		break;
	case MQTT_CONNECTING:
		mqtt_fail(m, "connect to %s:%d: timed out after %.1f s",
		    m->host, m->port, t);
		break;
	case MQTT_HANDSHAKE:
		mqtt_fail(m, "TLS handshake with %s:%d: timed out after %.1f s",
		    m->host, m->port, t);
		break;
	case MQTT_WAIT_CONNACK:
		mqtt_fail(m, "no CONNACK from %s:%d within %.1f s", m->host,
		    m->port, t);
		break;
	case MQTT_WAIT_SUBACK:
		mqtt_fail(m, "no SUBACK from %s:%d within %.1f s", m->host,
		    m->port, t);
		break;
	default:
		break;
	}
}

/*
 * Keepalive: a PINGREQ every keepalive seconds; no PINGRESP within half
 * of that means the broker or the path to it is dead.
 */
static void
mqtt_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt *m = arg;

	if (m->ping_outstanding) {
		if (m->blocked) {
			/* We are not reading; the answer may be waiting. */
			mqtt_arm(m->ping_timer, mqtt_pong_wait(m));
			return;
		}
		mqtt_fail(m, "no PINGRESP from %s:%d within %.1f s", m->host,
		    m->port, mqtt_pong_wait(m));
		return;
	}
	mqtt_send_ping(m);
}

/* Commits and acknowledgements. */

static struct mqtt_pool *
mqtt_pool_new(struct mqtt *m, size_t n)
{
	struct mqtt_pool *pool = xcalloc(1, sizeof *pool);
	size_t i, nb = 1;

	while (nb < n)
		nb *= 2;
	pool->m = m;
	pool->n = n;
	pool->msgs = xcalloc(n, sizeof *pool->msgs);
	pool->buckets = xcalloc(nb, sizeof *pool->buckets);
	pool->mask = nb - 1;
	for (i = 0; i < nb; i++)
		pool->buckets[i] = -1;
	for (i = 0; i < n; i++) {
		pool->msgs[i].pool = pool;
		pool->msgs[i].next = i + 1 < n ? (int)i + 1 : -1;
	}
	pool->free = 0;
	return pool;
}

static void
mqtt_pool_free(struct mqtt_pool *pool)
{
	free(pool->buckets);
	free(pool->msgs);
	free(pool);
}

/* The message in flight with this id (and hash, unless any_hash). */
static struct mqtt_msg *
mqtt_msg_find(struct mqtt_pool *pool, uint16_t id, uint64_t hash, int any_hash)
{
	int i;

	for (i = pool->buckets[id & pool->mask]; i != -1;
	     i = pool->msgs[i].next) {
		if (pool->msgs[i].id == id &&
		    (any_hash || pool->msgs[i].hash == hash))
			return &pool->msgs[i];
	}
	return NULL;
}

static int
mqtt_id_in_flight(struct mqtt_pool *pool, uint16_t id)
{
	return mqtt_msg_find(pool, id, 0, 1) != NULL;
}

static struct mqtt_msg *
mqtt_msg_new(struct mqtt_pool *pool, uint16_t id, uint64_t hash,
    unsigned long gen, size_t n)
{
	struct mqtt_msg *msg = &pool->msgs[pool->free];
	int *bucket = &pool->buckets[id & pool->mask];

	pool->free = msg->next;
	msg->next = *bucket;
	*bucket = (int)(msg - pool->msgs);
	msg->used = 1;
	msg->id = id;
	msg->hash = hash;
	msg->gen = gen;
	msg->pending = n;
	msg->failed = 0;
	pool->used++;
	pool->pending += n;
	return msg;
}

static void
mqtt_msg_release(struct mqtt_msg *msg)
{
	struct mqtt_pool *pool = msg->pool;
	int *link = &pool->buckets[msg->id & pool->mask];
	int self = (int)(msg - pool->msgs);

	while (*link != self)
		link = &pool->msgs[*link].next;
	*link = msg->next;
	msg->next = pool->free;
	pool->free = self;
	msg->used = 0;
	pool->used--;
	if (pool->m == NULL && pool->pending == 0)
		mqtt_pool_free(pool);
}

static int
mqtt_bit(const unsigned char *map, uint16_t id)
{
	return map != NULL && (map[id / 8] & (1 << (id % 8)));
}

static void
mqtt_marker_key(const struct mqtt *m, char *buf, size_t len)
{
	snprintf(buf, len, "mqtt:%s:keys", m->a->name);
}

/* This run is in charge of the key of id from now on. */
static void
mqtt_key_own(struct mqtt *m, uint16_t id)
{
	if (mqtt_bit(m->stale, id)) {
		m->stale[id / 8] &= ~(1 << (id % 8));
		m->nstale--;
	}
	if (!mqtt_bit(m->owned, id)) {
		m->owned[id / 8] |= 1 << (id % 8);
		m->nowned++;
	}
}

/*
 * The key of a message, written with its readings. A marker goes first
 * (the same transaction), so a start-up after a clean stop with no key
 * left need not look for any.
 */
static int
mqtt_key_set(struct mqtt *m, uint16_t id, const char *hex)
{
	char key[PIPELINE_OFFSET_KEY_MAX];

	if (!m->marked) {
		mqtt_marker_key(m, key, sizeof key);
		if (pipeline_src_set_offset(m->a->src, key, "1") == -1)
			return -1;
		m->marked = 1;
	}
	mqtt_offset_key(m, id, key, sizeof key);
	if (pipeline_src_set_offset(m->a->src, key, hex) == -1)
		return -1;
	mqtt_key_own(m, id);
	return 0;
}

static void
mqtt_key_drop(struct mqtt *m, uint16_t id)
{
	char key[PIPELINE_OFFSET_KEY_MAX];

	mqtt_offset_key(m, id, key, sizeof key);
	pipeline_src_set_offset(m->a->src, key, NULL);
	if (mqtt_bit(m->stale, id)) {
		m->stale[id / 8] &= ~(1 << (id % 8));
		m->nstale--;
	}
	if (mqtt_bit(m->owned, id)) {
		m->owned[id / 8] &= ~(1 << (id % 8));
		m->nowned--;
	}
}

/*
 * Every reading of msg is settled. Committed: PUBACK on the connection
 * that (last) delivered it; the key goes once the broker has read that.
 * If that connection is gone, keep the committed key: the broker
 * redelivers with DUP and the key answers it. Refused: drop the key and
 * reconnect, so the broker redelivers the message.
 */
static void
mqtt_msg_settled(struct mqtt *m, struct mqtt_msg *msg)
{
	int live = msg->gen == m->gen &&
	    (m->phase == MQTT_WAIT_SUBACK || m->phase == MQTT_UP);
	uint16_t id = msg->id;
	int failed = msg->failed;

	mqtt_msg_release(msg);
	if (failed) {
		if (!mqtt_id_in_flight(m->pool, id))
			mqtt_key_drop(m, id);
		if (live)
			mqtt_fail_later(m,
			    "the store refused readings; reconnecting for "
			    "redelivery");
	} else if (live)
		mqtt_send_ack(m, id);
	if (m->blocked)
		mqtt_arm(m->resume_ev, 0);
}

static int
mqtt_acked_unconfirmed(const struct mqtt *m, uint16_t id)
{
	size_t i;

	for (i = 0; i < m->nunconfirmed; i++) {
		if (m->unconfirmed[i] == id)
			return 1;
	}
	for (i = 0; i < m->nconfirming; i++) {
		if (m->confirming[i] == id)
			return 1;
	}
	return 0;
}

/*
 * The keys the previous run left behind: those of messages it stored
 * whose PUBACK it could not send (the broker redelivers them, and the
 * key answers), and those of PUBACKs the broker read before the run saw
 * the PINGRESP confirming them. The latter are never asked about again
 * and would only match, wrongly, a later message with the same id and
 * the same bytes; so once the broker has redelivered what it still
 * holds, every key not claimed by this run goes.
 */
static void
mqtt_stale_cleanup(struct mqtt *m)
{
	char key[PIPELINE_OFFSET_KEY_MAX];
	size_t gone = 0;
	unsigned id;

	for (id = 1; id <= 65535 && m->stale != NULL; id++) {
		if (!mqtt_bit(m->stale, (uint16_t)id) ||
		    mqtt_id_in_flight(m->pool, (uint16_t)id) ||
		    mqtt_acked_unconfirmed(m, (uint16_t)id))
			continue;
		mqtt_offset_key(m, (uint16_t)id, key, sizeof key);
		pipeline_src_set_offset(m->a->src, key, NULL);
		gone++;
	}
	if (gone > 0)
		log_info(m->a->name,
		    "%zu packet-id keys of the last run dropped (not "
		    "redelivered)",
		    gone);
	free(m->stale);
	m->stale = NULL;
	m->nstale = 0;
	m->stale_at_pingresp = 0;
}

/*
 * Which packet ids have a key from the last run: one lookup each (a
 * fifth of a second on a PC), only after a run that did not stop clean.
 */
static void
mqtt_stale_load(struct mqtt *m)
{
	char key[PIPELINE_OFFSET_KEY_MAX], buf[PIPELINE_OFFSET_VALUE_MAX];
	unsigned id;

	m->owned = xcalloc(65536 / 8, 1);
	m->acking = xcalloc(65536 / 8, 1);
	mqtt_marker_key(m, key, sizeof key);
	if (pipeline_src_get_offset(m->a->src, key, buf, sizeof buf) != 0)
		return; /* the last run stopped with no key left */
	m->marked = 1;
	m->stale = xcalloc(65536 / 8, 1);
	for (id = 1; id <= 65535; id++) {
		mqtt_offset_key(m, (uint16_t)id, key, sizeof key);
		if (pipeline_src_get_offset(m->a->src, key, buf, sizeof buf) ==
		    0) {
			m->stale[id / 8] |= 1 << (id % 8);
			m->nstale++;
		}
	}
	if (m->nstale == 0) {
		free(m->stale);
		m->stale = NULL;
		return;
	}
	log_info(m->a->name,
	    "%zu packet-id keys from the last run: kept until the broker "
	    "has redelivered",
	    m->nstale);
}

/*
 * A PINGRESP came: the broker has read every PUBACK sent before its
 * PINGREQ, and will not redeliver those messages. Their keys can go,
 * unless the id is already back in use.
 */
static void
mqtt_confirm(struct mqtt *m)
{
	size_t i;
	uint16_t id;

	for (i = 0; i < m->nconfirming; i++) {
		id = m->confirming[i];
		if (mqtt_id_in_flight(m->pool, id))
			continue;
		if (m->acking[id / 8] & (1 << (id % 8)))
			continue; /* acknowledged again since */
		mqtt_key_drop(m, id);
	}
	m->nconfirming = 0;
}

/* The pipeline's word on one reading of a QoS 1 message. */
static void
mqtt_done_cb(int ok, void *arg)
{
	struct mqtt_msg *msg = arg;
	struct mqtt_pool *pool = msg->pool;

	pool->pending--;
	if (!ok)
		msg->failed = 1;
	else if (pool->m != NULL)
		pool->m->stored++;
	if (--msg->pending > 0)
		return;
	if (pool->m == NULL)
		mqtt_msg_release(msg);
	else
		mqtt_msg_settled(pool->m, msg);
}

/* Incoming packets. */

/* The sensor from the topic: '/' -> '.', others outside the set -> '_'. */
static void
mqtt_topic_sensor(const struct mqtt_str *topic, char *out, size_t len)
{
	size_t i, n = topic->len < len - 1 ? topic->len : len - 1;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)topic->p[i];
		if (c == '/')
			out[i] = '.';
		else if (isalnum(c) || c == '_' || c == '-' || c == '.' ||
		    c == ':')
			out[i] = (char)c;
		else
			out[i] = '_';
	}
	out[n] = '\0';
}

static int
mqtt_batch_cb(void *arg, struct reading *r)
{
	struct mqtt *m = arg;
	size_t ncap;

	if (m->nbatch == m->batch_cap) {
		ncap = m->batch_cap == 0 ? 4 : m->batch_cap * 2;
		m->batch = xreallocarray(m->batch, ncap, sizeof *m->batch);
		m->batch_cap = ncap;
	}
	m->batch[m->nbatch++] = *r;
	return 0;
}

/* Decodes a payload into m->batch; -1 counts a bad payload. */
static int
mqtt_decode_payload(struct mqtt *m, const struct mqtt_publish *p)
{
	char err[200], sensor[READING_SENSOR_MAX], topic[101];
	size_t i, n;

	m->nbatch = 0;
	if (payload_decode(m->payload, &m->popts, (const char *)p->payload,
		p->payload_len, mqtt_batch_cb, m, err, sizeof err) == -1) {
		m->bad_payloads++;
		/* The topic is UTF-8 but may hold control characters. */
		n = p->topic.len < sizeof topic - 1 ? p->topic.len
						    : sizeof topic - 1;
		for (i = 0; i < n; i++) {
			topic[i] = (unsigned char)p->topic.p[i] < 0x20 ||
				p->topic.p[i] == 0x7f
			    ? '?'
			    : p->topic.p[i];
		}
		topic[n] = '\0';
		adapter_error(m->a, "bad payload on %s: %s", topic, err);
		return -1;
	}
	if (!m->fixed_sensor) {
		mqtt_topic_sensor(&p->topic, sensor, sizeof sensor);
		for (i = 0; i < m->nbatch; i++) {
			if (m->batch[i].sensor[0] == '\0')
				memcpy(
				    m->batch[i].sensor, sensor, sizeof sensor);
		}
	}
	return 0;
}

/*
 * Room in the ring for n readings, so one message commits whole, and a
 * free slot for the message (which also bounds a transaction's size).
 */
static int
mqtt_room(struct mqtt *m, size_t n)
{
	const struct pipeline_src_stats *s = pipeline_src_stats(m->a->src);
	unsigned long long held =
	    s->submitted - s->committed - s->filtered - s->dropped;

	return held + n <= (unsigned long long)m->a->dev->buffer &&
	    m->pool->used < m->pool->n;
}

/* Returns 0 when handled, 1 when it must wait for ring room. */
static int
mqtt_on_publish(struct mqtt *m, const struct mqtt_publish *p)
{
	char key[PIPELINE_OFFSET_KEY_MAX], hex[17], have[32];
	struct mqtt_msg *msg;
	uint64_t hash;
	size_t i;

	if (p->qos == 0) {
		m->messages++;
		m->qos0++;
		if (mqtt_decode_payload(m, p) == -1)
			return 0;
		for (i = 0; i < m->nbatch; i++)
			adapter_submit(m->a, &m->batch[i], NULL, NULL);
		return 0;
	}
	hash = mqtt_hash(p);
	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
	mqtt_offset_key(m, p->id, key, sizeof key);
	/* Redelivered while its readings wait for their commit. */
	if ((msg = mqtt_msg_find(m->pool, p->id, hash, 0)) != NULL) {
		msg->gen = m->gen;
		m->messages++;
		m->duplicates++;
		return 0;
	}
	/* Redelivered after its readings were committed. */
	if (p->dup &&
	    pipeline_src_get_offset(m->a->src, key, have, sizeof have) == 0 &&
	    strcmp(have, hex) == 0) {
		log_debug(m->a->name,
		    "packet %u redelivered, already stored: acknowledged",
		    p->id);
		m->messages++;
		m->duplicates++;
		mqtt_key_own(m, p->id);
		mqtt_send_ack(m, p->id);
		return 0;
	}
	if (mqtt_decode_payload(m, p) == -1 || m->nbatch == 0) {
		/* It will never decode: do not have it redelivered. */
		m->messages++;
		m->qos1++;
		mqtt_send_ack(m, p->id);
		return 0;
	}
	/*
	 * The key first, then the readings, with room for all of them in
	 * the ring: nothing in between can commit, so they share one
	 * transaction.
	 */
	if (!mqtt_room(m, m->nbatch) || mqtt_key_set(m, p->id, hex) == -1)
		return 1;
	m->messages++;
	m->qos1++;
	msg = mqtt_msg_new(m->pool, p->id, hash, m->gen, m->nbatch);
	for (i = 0; i < m->nbatch; i++)
		adapter_submit(m->a, &m->batch[i], mqtt_done_cb, msg);
	return 0;
}

static void
mqtt_send_subscribe(struct mqtt *m)
{
	struct mqtt_str *filters = xcalloc(m->ntopics, sizeof *filters);
	int *qos = xcalloc(m->ntopics, sizeof *qos);
	unsigned char *buf;
	size_t i, n;

	for (i = 0; i < m->ntopics; i++) {
		filters[i].p = m->topics[i];
		filters[i].len = strlen(m->topics[i]);
		qos[i] = m->qos;
	}
	if (++m->next_id == 0)
		m->next_id = 1;
	m->sub_id = m->next_id;
	n = mqtt_encode_subscribe(NULL, 0, m->sub_id, filters, qos, m->ntopics);
	buf = xmalloc(n);
	mqtt_encode_subscribe(buf, n, m->sub_id, filters, qos, m->ntopics);
	mqtt_queue(m, buf, n);
	free(buf);
	free(filters);
	free(qos);
}

/* Returns 0 when handled, 1 when blocked, -1 when the connection failed. */
static int
mqtt_on_packet(struct mqtt *m, const struct mqtt_packet *pkt)
{
	char refused[200];
	size_t i, len;

	switch (pkt->type) {
	case MQTT_CONNACK:
		if (m->phase != MQTT_WAIT_CONNACK)
			break;
		if (pkt->u.connack.code != MQTT_CONNACK_ACCEPTED) {
			mqtt_fail(m, "%s:%d refused the connection: %s",
			    m->host, m->port,
			    mqtt_connack_text(pkt->u.connack.code));
			return -1;
		}
		m->connects++;
		m->session_present = pkt->u.connack.session_present;
		m->phase = MQTT_WAIT_SUBACK;
		mqtt_send_subscribe(m);
		if (m->keepalive_s > 0)
			mqtt_arm(m->ping_timer, (double)m->keepalive_s);
		if (m->stale != NULL && !m->session_present)
			mqtt_stale_cleanup(m); /* nothing will be redelivered */
		else if (m->stale != NULL) {
			/*
			 * The broker resends right after CONNACK: when the
			 * answer to a PINGREQ sent now arrives, it has.
			 */
			m->stale_at_pingresp = 1;
			if (!m->ping_outstanding)
				mqtt_send_ping(m);
		}
		return 0;
	case MQTT_SUBACK:
		if (m->phase != MQTT_WAIT_SUBACK || pkt->id != m->sub_id)
			break;
		if (pkt->u.suback.n != m->ntopics) {
			mqtt_fail(m, "SUBACK with %zu codes for %zu filters",
			    pkt->u.suback.n, m->ntopics);
			return -1;
		}
		refused[0] = '\0';
		for (i = 0; i < m->ntopics; i++) {
			m->granted[i] = pkt->u.suback.codes[i];
			if (m->granted[i] != MQTT_SUBACK_FAILURE)
				continue;
			len = strlen(refused);
			snprintf(refused + len, sizeof refused - len, "%s'%s'",
			    len > 0 ? ", " : "", m->topics[i]);
		}
		if (refused[0] != '\0') {
			mqtt_fail(m, "%s:%d refused the subscription to %s",
			    m->host, m->port, refused);
			return -1;
		}
		evtimer_del(m->timer);
		m->phase = MQTT_UP;
		m->attempts = 0;
		log_info(m->a->name,
		    "subscribed to %zu filter%s on %s (session %s)", m->ntopics,
		    m->ntopics == 1 ? "" : "s", m->url,
		    m->session_present ? "resumed" : "new");
		adapter_set_state(m->a, ADAPTER_CONNECTED);
		return 0;
	case MQTT_PUBLISH:
		if (m->phase != MQTT_WAIT_SUBACK && m->phase != MQTT_UP)
			break;
		if (pkt->u.publish.qos > 1) {
			mqtt_fail(m,
			    "QoS 2 PUBLISH from %s:%d (subscribed "
			    "with QoS %d)",
			    m->host, m->port, m->qos);
			return -1;
		}
		return mqtt_on_publish(m, &pkt->u.publish);
	case MQTT_PINGRESP:
		if (m->phase != MQTT_WAIT_SUBACK && m->phase != MQTT_UP)
			break;
		if (m->ping_outstanding) {
			/*
			 * Still outstanding while confirming: deleting keys
			 * may commit, and PUBACKs sent from that commit must
			 * wait for the next PINGREQ, not replace this list.
			 */
			mqtt_confirm(m);
			if (m->stale_at_pingresp)
				mqtt_stale_cleanup(m);
			m->ping_outstanding = 0;
			if (m->nunconfirmed > 0)
				mqtt_send_ping(m);
			else if (m->keepalive_s > 0)
				mqtt_arm(m->ping_timer, (double)m->keepalive_s);
			else
				evtimer_del(m->ping_timer);
		}
		return 0;
	default:
		break;
	}
	mqtt_fail(m, "unexpected %s from %s:%d", mqtt_type_name(pkt->type),
	    m->host, m->port);
	return -1;
}

/* Decodes and handles what was read; 1 when blocked, -1 when failed. */
static int
mqtt_process(struct mqtt *m)
{
	enum mqtt_decode_status st;
	struct mqtt_packet pkt;
	size_t used;
	int rc;

	if (m->blocked) {
		if ((rc = mqtt_on_packet(m, &m->held)) != 0)
			return rc;
		m->blocked = 0;
	}
	while (m->in_off < m->in_len) {
		st = mqtt_decoder_feed(m->dec, m->in + m->in_off,
		    m->in_len - m->in_off, &used, &pkt);
		m->in_off += used;
		if (st == MQTT_DECODE_ERROR) {
			mqtt_fail(m, "bad packet from %s:%d: %s", m->host,
			    m->port, mqtt_decoder_error(m->dec));
			return -1;
		}
		if (st == MQTT_DECODE_MORE)
			break;
		if ((rc = mqtt_on_packet(m, &pkt)) == 1) {
			/* pkt points into m->in or the decoder: both wait. */
			m->held = pkt;
			m->blocked = 1;
			mqtt_arm(m->resume_ev, MQTT_BLOCKED_RETRY_S);
		}
		if (rc != 0)
			return rc;
	}
	m->in_off = m->in_len = 0;
	return 0;
}

/* Reads and handles packets; -1 when the connection failed. */
static int
mqtt_read(struct mqtt *m)
{
	char err[256];
	size_t n;
	ssize_t r;
	int i, rc;

	m->rd_wants_write = 0;
	for (i = 0; i < MQTT_READS_PER_WAKEUP; i++) {
		if ((rc = mqtt_process(m)) != 0)
			return rc == 1 ? 0 : -1;
		if (m->tls != NULL) {
			switch (tlsio_read(
			    m->tls, m->in, sizeof m->in, &n, err, sizeof err)) {
			case TLSIO_OK:
				break;
			case TLSIO_WANT_READ:
				return 0;
			case TLSIO_WANT_WRITE:
				m->rd_wants_write = 1;
				return 0;
			case TLSIO_EOF:
				mqtt_fail(m, "%s:%d closed the connection",
				    m->host, m->port);
				return -1;
			default:
				mqtt_fail(m, "TLS read from %s:%d: %s", m->host,
				    m->port, err);
				return -1;
			}
		} else {
			r = recv(m->fd, m->in, sizeof m->in, 0);
			if (r == 0) {
				mqtt_fail(m, "%s:%d closed the connection",
				    m->host, m->port);
				return -1;
			}
			if (r == -1) {
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR)
					return 0;
				mqtt_fail(m, "read from %s:%d: %s", m->host,
				    m->port, strerror(errno));
				return -1;
			}
			n = (size_t)r;
		}
		m->in_off = 0;
		m->in_len = n;
	}
	/* More may be waiting (TLS keeps decrypted bytes): come back. */
	mqtt_arm(m->resume_ev, 0);
	return 0;
}

/* An established connection: write, read, wait for what is needed. */
static void
mqtt_step(struct mqtt *m)
{
	if (mqtt_flush(m) == -1 || mqtt_read(m) == -1 || mqtt_flush(m) == -1)
		return;
	mqtt_io_update(m);
}

static void
mqtt_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt *m = arg;

	switch (m->phase) {
	case MQTT_HANDSHAKE:
		mqtt_handshake_step(m);
		break;
	case MQTT_WAIT_CONNACK:
	case MQTT_WAIT_SUBACK:
	case MQTT_UP:
		mqtt_step(m);
		break;
	default:
		mqtt_wait(m, 0);
	}
}

/* Ring room again (or more to read, or a failure to carry out). */
static void
mqtt_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt *m = arg;

	if (m->fail_deferred) {
		m->fail_deferred = 0;
		if (m->phase >= MQTT_WAIT_CONNACK && m->phase <= MQTT_UP) {
			mqtt_fail(m, "%s", m->deferred_reason);
			return;
		}
	}
	if (m->phase >= MQTT_WAIT_CONNACK && m->phase <= MQTT_UP)
		mqtt_step(m);
}

/* The ops. */

static int
mqtt_start(struct adapter *a)
{
	struct mqtt *m = a->priv;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	m->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^
	    (uint64_t)(uintptr_t)m;
	if (m->rng == 0)
		m->rng = 0x9e3779b97f4a7c15ULL;
	m->dec = mqtt_decoder_new(m->max_packet);
	m->payload = payload_new();
	m->pool = mqtt_pool_new(m,
	    a->dev->buffer < MQTT_MAX_UNCOMMITTED ? (size_t)a->dev->buffer
						  : MQTT_MAX_UNCOMMITTED);
	m->granted = xmalloc(m->ntopics);
	memset(m->granted, 0xff, m->ntopics);
	m->io = event_new(a->base, -1, 0, mqtt_io_cb, m);
	m->timer = evtimer_new(a->base, mqtt_timer_cb, m);
	m->ping_timer = evtimer_new(a->base, mqtt_ping_cb, m);
	m->retry_timer = evtimer_new(a->base, mqtt_retry_cb, m);
	m->resume_ev = evtimer_new(a->base, mqtt_resume_cb, m);
	mqtt_stale_load(m);
	if (m->tls_on && m->tlsp.insecure)
		log_warn(a->name,
		    "insecure = true: the certificate of %s is NOT checked",
		    m->host);
	mqtt_connect(m);
	return 0;
}

/* Says goodbye if it can without waiting, then closes. */
static void
mqtt_stop(struct adapter *a)
{
	struct mqtt *m = a->priv;
	char key[PIPELINE_OFFSET_KEY_MAX];
	unsigned char buf[2];
	size_t n;

	if (m == NULL || m->phase == MQTT_STOPPED || m->io == NULL)
		return;
	if (m->phase == MQTT_UP || m->phase == MQTT_WAIT_SUBACK) {
		mqtt_encode_empty(buf, sizeof buf, MQTT_DISCONNECT);
		if (m->tls != NULL && m->tls_wlen == 0) {
			if (tlsio_write(m->tls, buf, 2, &n, NULL, 0) ==
			    TLSIO_OK)
				tlsio_close_notify(m->tls);
		} else if (m->tls == NULL && m->out_off == m->out_len)
			(void)send(m->fd, buf, 2, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	mqtt_close(m);
	evtimer_del(m->retry_timer);
	evtimer_del(m->resume_ev);
	m->fail_deferred = 0;
	m->phase = MQTT_STOPPED;
	/* Committed with what the pipeline still holds. */
	if (m->marked && m->nowned == 0 && m->nstale == 0 &&
	    m->pool->used == 0) {
		mqtt_marker_key(m, key, sizeof key);
		pipeline_src_set_offset(m->a->src, key, NULL);
		m->marked = 0;
	}
}

static void
mqtt_free(struct adapter *a)
{
	struct mqtt *m = a->priv;

	if (m == NULL)
		return;
	mqtt_stop(a);
	if (m->io != NULL)
		event_free(m->io);
	if (m->timer != NULL)
		event_free(m->timer);
	if (m->ping_timer != NULL)
		event_free(m->ping_timer);
	if (m->retry_timer != NULL)
		event_free(m->retry_timer);
	if (m->resume_ev != NULL)
		event_free(m->resume_ev);
	if (m->dns != NULL)
		evdns_base_free(m->dns, 0);
	tlsio_config_free(m->tlscfg);
	mqtt_decoder_free(m->dec);
	payload_free(m->payload);
	if (m->pool != NULL) {
		/* Readings still in the pipeline settle into the pool. */
		m->pool->m = NULL;
		if (m->pool->pending == 0)
			mqtt_pool_free(m->pool);
	}
	free(m->out);
	free(m->unconfirmed);
	free(m->confirming);
	free(m->stale);
	free(m->owned);
	free(m->acking);
	free(m->batch);
	free(m->granted);
	free(m);
	a->priv = NULL;
}

static const char *
mqtt_phase_name(enum mqtt_phase p)
{
	static const char *const names[] = { "idle", "resolving", "connecting",
		"tls handshake", "waiting for CONNACK", "waiting for SUBACK",
		"up", "backoff", "stopped" };

	return names[p];
}

static void
mqtt_status(const struct adapter *a, struct json_out *j)
{
	const struct mqtt *m = a->priv;
	size_t i;

	json_out_string(j, "url", m->url);
	json_out_string(j, "client_id", m->client_id);
	json_out_string(j, "phase", mqtt_phase_name(m->phase));
	json_out_bool(j, "clean_session", m->clean_session);
	json_out_bool(j, "session_present", m->session_present);
	json_out_array_begin(j, "subscriptions");
	for (i = 0; i < m->ntopics; i++) {
		json_out_object_begin(j, NULL);
		json_out_string(j, "filter", m->topics[i]);
		json_out_int(j, "qos", m->qos);
		if (m->granted == NULL || m->granted[i] == 0xff)
			json_out_null(j, "granted");
		else if (m->granted[i] == MQTT_SUBACK_FAILURE)
			json_out_string(j, "granted", "refused");
		else
			json_out_int(j, "granted", m->granted[i]);
		json_out_object_end(j);
	}
	json_out_array_end(j);
	json_out_int(j, "connects", (long long)m->connects);
	json_out_int(j, "messages", (long long)m->messages);
	json_out_int(j, "qos0", (long long)m->qos0);
	json_out_int(j, "qos1", (long long)m->qos1);
	json_out_int(j, "stored", (long long)m->stored);
	json_out_int(j, "acked", (long long)m->acked);
	json_out_int(j, "duplicates", (long long)m->duplicates);
	json_out_int(j, "bad_payloads", (long long)m->bad_payloads);
	json_out_int(
	    j, "inflight", m->pool != NULL ? (long long)m->pool->used : 0);
	if (m->last_disconnect[0] != '\0')
		json_out_string(j, "last_disconnect", m->last_disconnect);
	else
		json_out_null(j, "last_disconnect");
}

const struct adapter_ops adapter_mqtt_ops = {
	.type = "mqtt",
	.configure = mqtt_configure,
	.start = mqtt_start,
	.stop = mqtt_stop,
	.free = mqtt_free,
	.status = mqtt_status,
};
