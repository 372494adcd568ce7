/*
 * The action publisher against a small broker in this process (a
 * listening socket on the same loop, packets decoded with mqtt_codec):
 * CONNECT fields, PUBLISH and PUBACK at QoS 1 and 0, the idle DISCONNECT,
 * a refused CONNACK, a missing PUBACK, a closed port, a full queue and an
 * invalid topic, and what free reports.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "mqtt_codec.h"
#include "mqtt_pub.h"

struct broker {
	struct event_base *base;
	int lfd, fd;
	int port;
	struct event *lev, *cev;
	struct mqtt_decoder *dec;
	uint8_t connack; /* code to answer CONNECT with */
	int ack;	 /* answer PUBLISH with PUBACK */
	char client_id[64];
	int clean, keepalive;
	int publishes, disconnects, eofs;
	char last_topic[64];
	char last_payload[64];
	int last_qos;
};

struct result {
	int calls, ok;
	char error[200];
};

static void
done_cb(void *arg, int ok, const char *error)
{
	struct result *r = arg;

	r->calls++;
	r->ok = ok;
	snprintf(r->error, sizeof r->error, "%s", error != NULL ? error : "");
}

static void
broker_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	struct mqtt_packet pkt;
	unsigned char buf[4096], out[8];
	ssize_t n;
	size_t off = 0, used, k;

	if ((n = read(fd, buf, sizeof buf)) <= 0) {
		b->eofs++;
		event_free(b->cev);
		b->cev = NULL;
		close(b->fd);
		b->fd = -1;
		return;
	}
	while (off < (size_t)n) {
		if (mqtt_decoder_feed(b->dec, buf + off, n - off, &used,
			&pkt) != MQTT_DECODE_PACKET) {
			off += used;
			continue;
		}
		off += used;
		switch (pkt.type) {
		case MQTT_CONNECT:
			snprintf(b->client_id, sizeof b->client_id, "%.*s",
			    (int)pkt.u.connect.client_id.len,
			    pkt.u.connect.client_id.p);
			b->clean = pkt.u.connect.clean_session;
			b->keepalive = pkt.u.connect.keepalive_s;
			k = mqtt_encode_connack(out, sizeof out, 0, b->connack);
			assert_int_equal(write(fd, out, k), (ssize_t)k);
			break;
		case MQTT_PUBLISH:
			b->publishes++;
			b->last_qos = pkt.u.publish.qos;
			snprintf(b->last_topic, sizeof b->last_topic, "%.*s",
			    (int)pkt.u.publish.topic.len,
			    pkt.u.publish.topic.p);
			snprintf(b->last_payload, sizeof b->last_payload,
			    "%.*s", (int)pkt.u.publish.payload_len,
			    (const char *)pkt.u.publish.payload);
			if (b->ack && pkt.u.publish.qos == 1) {
				k = mqtt_encode_ack(out, sizeof out,
				    MQTT_PUBACK, pkt.u.publish.id);
				assert_int_equal(write(fd, out, k), (ssize_t)k);
			}
			break;
		case MQTT_DISCONNECT:
			b->disconnects++;
			break;
		default:
			fail_msg("unexpected %s", mqtt_type_name(pkt.type));
		}
	}
}

static void
broker_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	int c;

	if ((c = accept(fd, NULL, NULL)) == -1)
		return;
	assert_int_equal(b->fd, -1);
	b->fd = c;
	mqtt_decoder_reset(b->dec);
	b->cev = event_new(b->base, c, EV_READ | EV_PERSIST, broker_read_cb, b);
	event_add(b->cev, NULL);
}

static void
broker_start(struct broker *b, struct event_base *base)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;

	memset(b, 0, sizeof *b);
	b->base = base;
	b->fd = -1;
	b->ack = 1;
	b->dec = mqtt_decoder_new(8192);
	b->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(b->lfd >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(b->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(b->lfd, 4), 0);
	getsockname(b->lfd, (struct sockaddr *)&sin, &len);
	b->port = ntohs(sin.sin_port);
	b->lev =
	    event_new(base, b->lfd, EV_READ | EV_PERSIST, broker_accept_cb, b);
	event_add(b->lev, NULL);
}

static void
broker_stop(struct broker *b)
{
	if (b->cev != NULL)
		event_free(b->cev);
	if (b->fd != -1)
		close(b->fd);
	event_free(b->lev);
	close(b->lfd);
	mqtt_decoder_free(b->dec);
}

static int
wait_for(struct event_base *base, int *counter, int want, double max_s)
{
	struct timeval tv = { 0, 10000 };
	int i;

	for (i = 0; i < max_s * 100 && *counter < want; i++) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return *counter >= want;
}

static struct mqtt_pub *
pub_for(struct event_base *base, int port, double idle_s, double timeout_s)
{
	struct mqtt_pub_opts o = { 4, timeout_s, idle_s };
	char url[64], err[200];
	struct mqtt_pub *pub;

	snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", port);
	pub =
	    mqtt_pub_new(base, url, "outpost-a1-actions", &o, err, sizeof err);
	assert_non_null(pub);
	return pub;
}

static void
test_publish_and_idle(void **state)
{
	struct event_base *base = event_base_new();
	struct broker b;
	struct mqtt_pub *pub;
	struct result r1 = { 0 }, r0 = { 0 };

	broker_start(&b, base);
	pub = pub_for(base, b.port, 0.3, 2);
	assert_int_equal(
	    mqtt_pub_publish(pub, "alerts/x", "{\"a\":1}", 7, 1, done_cb, &r1),
	    0);
	/* Nothing is reported before the loop runs. */
	assert_int_equal(r1.calls, 0);
	assert_true(wait_for(base, &r1.calls, 1, 3));
	assert_int_equal(r1.ok, 1);
	assert_string_equal(b.client_id, "outpost-a1-actions");
	assert_int_equal(b.clean, 1);
	assert_true(b.keepalive > 0);
	assert_int_equal(b.publishes, 1);
	assert_int_equal(b.last_qos, 1);
	assert_string_equal(b.last_topic, "alerts/x");
	assert_string_equal(b.last_payload, "{\"a\":1}");
	assert_int_equal(mqtt_pub_queued(pub), 0);

	assert_int_equal(
	    mqtt_pub_publish(pub, "alerts/y", "zero", 4, 0, done_cb, &r0), 0);
	assert_true(wait_for(base, &b.publishes, 2, 3));
	assert_int_equal(r0.calls, 1);
	assert_int_equal(r0.ok, 1);
	assert_int_equal(b.last_qos, 0);

	/* Idle: DISCONNECT, then the connection is closed. */
	assert_true(wait_for(base, &b.eofs, 1, 3));
	assert_int_equal(b.disconnects, 1);

	/* The next message connects again. */
	assert_int_equal(
	    mqtt_pub_publish(pub, "alerts/z", "2", 1, 1, done_cb, &r1), 0);
	assert_true(wait_for(base, &r1.calls, 2, 3));
	assert_int_equal(r1.ok, 1);
	assert_int_equal(b.publishes, 3);
	mqtt_pub_free(pub);
	broker_stop(&b);
	event_base_free(base);
}

static void
test_failures(void **state)
{
	struct event_base *base = event_base_new();
	struct broker b;
	struct mqtt_pub *pub;
	struct result r = { 0 }, q = { 0 };
	char want[200];
	int i, port;

	/* Refused by CONNACK. */
	broker_start(&b, base);
	b.connack = MQTT_CONNACK_NOT_AUTHORIZED;
	pub = pub_for(base, b.port, 5, 2);
	mqtt_pub_publish(pub, "a", "1", 1, 1, done_cb, &r);
	assert_true(wait_for(base, &r.calls, 1, 3));
	assert_int_equal(r.ok, 0);
	snprintf(want, sizeof want, "broker refused the connection: %s",
	    mqtt_connack_text(MQTT_CONNACK_NOT_AUTHORIZED));
	assert_string_equal(r.error, want);
	mqtt_pub_free(pub);

	/* No PUBACK. */
	b.connack = 0;
	b.ack = 0;
	pub = pub_for(base, b.port, 5, 0.2);
	memset(&r, 0, sizeof r);
	mqtt_pub_publish(pub, "a", "1", 1, 1, done_cb, &r);
	assert_true(wait_for(base, &r.calls, 1, 3));
	assert_int_equal(r.ok, 0);
	assert_string_equal(r.error, "no PUBACK within 0.2s");

	/* A full queue (4 here) and a bad topic are refused at once. */
	memset(&r, 0, sizeof r);
	for (i = 0; i < 4; i++)
		assert_int_equal(
		    mqtt_pub_publish(pub, "a", "1", 1, 1, done_cb, &r), 0);
	assert_int_equal(
	    mqtt_pub_publish(pub, "a", "1", 1, 1, done_cb, &q), -1);
	assert_int_equal(q.calls, 1);
	snprintf(want, sizeof want,
	    "not sent: 4 messages already queued for mqtt://127.0.0.1:%d",
	    b.port);
	assert_string_equal(q.error, want);
	assert_int_equal(
	    mqtt_pub_publish(pub, "a/#", "1", 1, 1, done_cb, &q), -1);
	assert_string_equal(q.error, "invalid topic 'a/#'");
	/* Free reports what it still held. */
	mqtt_pub_free(pub);
	assert_int_equal(r.calls, 4);
	assert_int_equal(r.ok, 0);
	assert_string_equal(r.error, "not sent: the agent is stopping");
	port = b.port;
	broker_stop(&b);

	/* Nothing listens. */
	pub = pub_for(base, port, 5, 2);
	memset(&r, 0, sizeof r);
	mqtt_pub_publish(pub, "a", "1", 1, 1, done_cb, &r);
	assert_true(wait_for(base, &r.calls, 1, 3));
	snprintf(want, sizeof want, "connect to 127.0.0.1:%d: %s", port,
	    strerror(ECONNREFUSED));
	assert_string_equal(r.error, want);
	mqtt_pub_free(pub);
	event_base_free(base);
}

static void
test_url(void **state)
{
	char err[200];

	assert_int_equal(mqtt_pub_url_check("mqtt://h", err, sizeof err), 0);
	assert_int_equal(
	    mqtt_pub_url_check("mqtt://b-1.local:1883/", err, sizeof err), 0);
	assert_int_equal(mqtt_pub_url_check("mqtt://", err, sizeof err), -1);
	assert_string_equal(err, "'mqtt://' has no host");
	assert_int_equal(
	    mqtt_pub_url_check("mqtt://h:70000", err, sizeof err), -1);
	assert_string_equal(err, "'mqtt://h:70000': bad port");
	assert_int_equal(mqtt_pub_url_check("http://h", err, sizeof err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_and_idle),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
