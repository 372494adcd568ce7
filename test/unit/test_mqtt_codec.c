/*
 * The MQTT codec: every packet type encoded and decoded back, fed whole,
 * byte by byte and in odd chunks; remaining-length boundaries; and every
 * decoder error path with its message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt_codec.h"

#define S(lit) ((struct mqtt_str){ (lit), sizeof(lit) - 1 })

/* Feeds buf in chunks of step bytes; expects exactly one packet. */
static void
decode_one(struct mqtt_decoder *d, const unsigned char *buf, size_t len,
    size_t step, struct mqtt_packet *pkt)
{
	enum mqtt_decode_status st = MQTT_DECODE_MORE;
	size_t off = 0, n, used;

	while (off < len) {
		n = len - off < step ? len - off : step;
		st = mqtt_decoder_feed(d, buf + off, n, &used, pkt);
		if (st == MQTT_DECODE_ERROR)
			fail_msg("decode: %s", mqtt_decoder_error(d));
		off += used;
		if (st == MQTT_DECODE_PACKET)
			break;
		assert_int_equal(used, n);
	}
	assert_int_equal(st, MQTT_DECODE_PACKET);
	assert_int_equal(off, len);
	assert_int_equal(mqtt_decoder_buffered(d), 0);
}

/* Decodes buf whole; returns the error text, or NULL for a packet. */
static const char *
decode_error(const unsigned char *buf, size_t len, size_t max)
{
	static char err[200];
	struct mqtt_decoder *d = mqtt_decoder_new(max);
	struct mqtt_packet pkt;
	enum mqtt_decode_status st;
	size_t used, off = 0;

	/* Byte by byte first: the error must come out the same way. */
	do {
		st = mqtt_decoder_feed(d, buf + off, 1, &used, &pkt);
		off += used;
	} while (st == MQTT_DECODE_MORE && off < len);
	if (st != MQTT_DECODE_ERROR) {
		mqtt_decoder_free(d);
		return NULL;
	}
	snprintf(err, sizeof err, "%s", mqtt_decoder_error(d));
	/* Sticky until reset. */
	assert_int_equal(
	    mqtt_decoder_feed(d, buf, len, &used, &pkt), MQTT_DECODE_ERROR);
	assert_int_equal(used, 0);
	mqtt_decoder_reset(d);
	assert_string_equal(mqtt_decoder_error(d), "");
	/* Whole: the same error. */
	assert_int_equal(
	    mqtt_decoder_feed(d, buf, len, &used, &pkt), MQTT_DECODE_ERROR);
	assert_string_equal(mqtt_decoder_error(d), err);
	mqtt_decoder_free(d);
	return err;
}

static void
expect_error(const void *buf, size_t len, const char *want)
{
	const char *err = decode_error((const unsigned char *)buf, len, 1024);

	if (err == NULL)
		fail_msg("decoded, expected error '%s'", want);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void
test_connect_round_trip(void **state)
{
	static const size_t steps[] = { 1, 2, 3, 7, 1000 };
	struct mqtt_decoder *d = mqtt_decoder_new(65536);
	struct mqtt_connect c, *g;
	struct mqtt_packet pkt;
	unsigned char buf[512];
	size_t n, i;

	memset(&c, 0, sizeof c);
	c.client_id = S("outpost-agent-deck");
	c.keepalive_s = 30;
	c.will = 1;
	c.will_topic = S("status/outpost");
	c.will_message = S("gone\0bin");
	c.will_qos = 1;
	c.will_retain = 1;
	c.has_username = 1;
	c.username = S("bob");
	c.has_password = 1;
	c.password = S("p\xffss");
	n = mqtt_encode_connect(buf, sizeof buf, &c);
	assert_true(n > 0 && n < sizeof buf);
	for (i = 0; i < sizeof steps / sizeof *steps; i++) {
		decode_one(d, buf, n, steps[i], &pkt);
		assert_int_equal(pkt.type, MQTT_CONNECT);
		g = &pkt.u.connect;
		assert_int_equal(g->keepalive_s, 30);
		assert_int_equal(g->clean_session, 0);
		assert_int_equal(g->will, 1);
		assert_int_equal(g->will_qos, 1);
		assert_int_equal(g->will_retain, 1);
		assert_int_equal(g->client_id.len, c.client_id.len);
		assert_memory_equal(g->client_id.p, "outpost-agent-deck", 18);
		assert_int_equal(g->will_topic.len, 14);
		assert_memory_equal(g->will_message.p, "gone\0bin", 8);
		assert_int_equal(g->has_username, 1);
		assert_memory_equal(g->username.p, "bob", 3);
		assert_int_equal(g->has_password, 1);
		assert_int_equal(g->password.len, 4);
		assert_memory_equal(g->password.p, "p\xffss", 4);
	}

	/* Minimal: empty client id, clean session, no will, no login. */
	memset(&c, 0, sizeof c);
	c.clean_session = 1;
	n = mqtt_encode_connect(buf, sizeof buf, &c);
	assert_int_equal(n, 14);
	decode_one(d, buf, n, 1, &pkt);
	assert_int_equal(pkt.u.connect.clean_session, 1);
	assert_int_equal(pkt.u.connect.client_id.len, 0);
	assert_int_equal(pkt.u.connect.has_username, 0);
	/* The well-known bytes of that packet. */
	assert_memory_equal(
	    buf, "\x10\x0c\x00\x04MQTT\x04\x02\x00\x00\x00\x00", 14);

	/* Refused by the encoder. */
	c.has_password = 1;
	assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &c), 0);
	c.has_password = 0;
	c.will_qos = 1; /* without a will */
	assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &c), 0);
	c.will_qos = 0;
	c.client_id = S("bad\xc0\x80");
	assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &c), 0);
	mqtt_decoder_free(d);
}

static void
test_connack_suback_acks(void **state)
{
	static const unsigned char codes[] = { 0, 1, 2, 0x80 };
	static const enum mqtt_type acks[] = { MQTT_PUBACK, MQTT_PUBREC,
		MQTT_PUBREL, MQTT_PUBCOMP, MQTT_UNSUBACK };
	static const enum mqtt_type empties[] = { MQTT_PINGREQ, MQTT_PINGRESP,
		MQTT_DISCONNECT };
	struct mqtt_decoder *d = mqtt_decoder_new(64);
	struct mqtt_packet pkt;
	unsigned char buf[64];
	size_t n, i;
	int code;

	for (code = 0; code <= 5; code++) {
		n = mqtt_encode_connack(buf, sizeof buf, code == 0, code);
		assert_int_equal(n, 4);
		decode_one(d, buf, n, 1, &pkt);
		assert_int_equal(pkt.type, MQTT_CONNACK);
		assert_int_equal(pkt.u.connack.code, code);
		assert_int_equal(pkt.u.connack.session_present, code == 0);
		assert_non_null(mqtt_connack_text(code));
	}
	assert_string_equal(mqtt_connack_text(5), "not authorized");
	assert_string_equal(mqtt_connack_text(4), "bad user name or password");
	assert_int_equal(mqtt_encode_connack(buf, sizeof buf, 1, 5), 0);
	assert_int_equal(mqtt_encode_connack(buf, sizeof buf, 0, 6), 0);

	n = mqtt_encode_suback(buf, sizeof buf, 77, codes, 4);
	assert_int_equal(n, 8);
	decode_one(d, buf, n, 3, &pkt);
	assert_int_equal(pkt.type, MQTT_SUBACK);
	assert_int_equal(pkt.id, 77);
	assert_int_equal(pkt.u.suback.n, 4);
	assert_memory_equal(pkt.u.suback.codes, codes, 4);
	assert_int_equal(mqtt_encode_suback(buf, sizeof buf, 0, codes, 4), 0);

	for (i = 0; i < sizeof acks / sizeof *acks; i++) {
		n = mqtt_encode_ack(buf, sizeof buf, acks[i], 0xbeef);
		assert_int_equal(n, 4);
		decode_one(d, buf, n, 1, &pkt);
		assert_int_equal(pkt.type, acks[i]);
		assert_int_equal(pkt.id, 0xbeef);
		assert_int_equal(pkt.flags, acks[i] == MQTT_PUBREL ? 2 : 0);
	}
	assert_int_equal(mqtt_encode_ack(buf, sizeof buf, MQTT_PUBACK, 0), 0);
	assert_int_equal(mqtt_encode_ack(buf, sizeof buf, MQTT_PINGREQ, 1), 0);
	for (i = 0; i < sizeof empties / sizeof *empties; i++) {
		n = mqtt_encode_empty(buf, sizeof buf, empties[i]);
		assert_int_equal(n, 2);
		decode_one(d, buf, n, 1, &pkt);
		assert_int_equal(pkt.type, empties[i]);
		assert_int_equal(pkt.remaining, 0);
	}
	assert_int_equal(mqtt_encode_empty(buf, sizeof buf, MQTT_PUBACK), 0);
	assert_memory_equal(buf, "\xe0\x00", 2); /* DISCONNECT */
	mqtt_decoder_free(d);
}

static void
test_publish_round_trip(void **state)
{
	struct mqtt_decoder *d = mqtt_decoder_new(4096);
	struct mqtt_publish m;
	struct mqtt_packet pkt;
	unsigned char buf[1024];
	size_t n;
	int qos;

	for (qos = 0; qos <= 2; qos++) {
		memset(&m, 0, sizeof m);
		m.topic = S("sensors/deck/temp");
		m.payload = (const unsigned char *)"21.5";
		m.payload_len = 4;
		m.qos = qos;
		m.id = qos > 0 ? 4242 : 0;
		m.dup = qos > 0;
		m.retain = qos == 2;
		n = mqtt_encode_publish(buf, sizeof buf, &m);
		assert_int_equal(n, 2 + 2 + 17 + (qos > 0 ? 2 : 0) + 4);
		decode_one(d, buf, n, 1, &pkt);
		assert_int_equal(pkt.type, MQTT_PUBLISH);
		assert_int_equal(pkt.u.publish.qos, qos);
		assert_int_equal(pkt.u.publish.dup, qos > 0);
		assert_int_equal(pkt.u.publish.retain, qos == 2);
		assert_int_equal(pkt.u.publish.id, m.id);
		assert_int_equal(pkt.id, m.id);
		assert_int_equal(pkt.u.publish.topic.len, 17);
		assert_memory_equal(
		    pkt.u.publish.topic.p, "sensors/deck/temp", 17);
		assert_int_equal(pkt.u.publish.payload_len, 4);
		assert_memory_equal(pkt.u.publish.payload, "21.5", 4);
	}
	/* An empty payload is a valid message. */
	m.payload_len = 0;
	n = mqtt_encode_publish(buf, sizeof buf, &m);
	decode_one(d, buf, n, 5, &pkt);
	assert_int_equal(pkt.u.publish.payload_len, 0);

	/* Encoder refusals. */
	m.qos = 1;
	m.id = 0;
	assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &m), 0);
	m.id = 1;
	m.topic = S("a/+/b");
	assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &m), 0);
	m.topic = S("");
	assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &m), 0);
	m.topic = S("a");
	m.qos = 0;
	m.dup = 1;
	assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &m), 0);
	m.qos = 3;
	m.dup = 0;
	assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &m), 0);
	mqtt_decoder_free(d);
}

static void
test_subscribe_round_trip(void **state)
{
	const struct mqtt_str filters[] = { S("sensors/#"), S("+/deck/+"),
		S("#"), S("a/b") };
	const int qos[] = { 1, 0, 2, 1 };
	struct mqtt_decoder *d = mqtt_decoder_new(4096);
	struct mqtt_packet pkt;
	struct mqtt_str f;
	unsigned char buf[256];
	size_t n, pos = 0, i = 0;
	int q;

	n = mqtt_encode_subscribe(buf, sizeof buf, 9, filters, qos, 4);
	assert_int_equal(buf[0], 0x82);
	decode_one(d, buf, n, 2, &pkt);
	assert_int_equal(pkt.type, MQTT_SUBSCRIBE);
	assert_int_equal(pkt.id, 9);
	assert_int_equal(pkt.u.subscribe.n, 4);
	while (mqtt_subscribe_next(&pkt, &pos, &f, &q)) {
		assert_true(i < 4);
		assert_int_equal(f.len, filters[i].len);
		assert_memory_equal(f.p, filters[i].p, f.len);
		assert_int_equal(q, qos[i]);
		i++;
	}
	assert_int_equal(i, 4);

	/* UNSUBSCRIBE decodes the same list without QoS bytes. */
	memcpy(buf, "\xa2\x09\x00\x05\x00\x01x\x00\x02y#", 11);
	expect_error(buf, 11, "UNSUBSCRIBE: bad topic filter");
	memcpy(buf, "\xa2\x09\x00\x05\x00\x01x\x00\x02y/", 11);
	decode_one(d, buf, 11, 1, &pkt);
	assert_int_equal(pkt.type, MQTT_UNSUBSCRIBE);
	assert_int_equal(pkt.u.subscribe.n, 2);
	pos = 0;
	assert_int_equal(mqtt_subscribe_next(&pkt, &pos, &f, &q), 1);
	assert_int_equal(mqtt_subscribe_next(&pkt, &pos, &f, &q), 1);
	assert_memory_equal(f.p, "y/", 2);
	assert_int_equal(mqtt_subscribe_next(&pkt, &pos, &f, &q), 0);

	/* Encoder refusals: bad filters, QoS 3, no filter, id 0. */
	assert_int_equal(
	    mqtt_encode_subscribe(buf, sizeof buf, 1, &S("a/#/b"), qos, 1), 0);
	assert_int_equal(
	    mqtt_encode_subscribe(buf, sizeof buf, 1, &S("a+"), qos, 1), 0);
	q = 3;
	assert_int_equal(
	    mqtt_encode_subscribe(buf, sizeof buf, 1, filters, &q, 1), 0);
	assert_int_equal(
	    mqtt_encode_subscribe(buf, sizeof buf, 1, filters, qos, 0), 0);
	assert_int_equal(
	    mqtt_encode_subscribe(buf, sizeof buf, 0, filters, qos, 1), 0);
	mqtt_decoder_free(d);
}

/* Remaining-length encodings at every size boundary, 1 to 4 bytes. */
static void
test_remaining_length_boundaries(void **state)
{
	static const size_t sizes[] = { 0, 127, 128, 16383, 16384, 2097151,
		2097152, 3000000 };
	struct mqtt_decoder *d = mqtt_decoder_new(4 * 1024 * 1024);
	unsigned char *buf = malloc(3100000), *payload = calloc(1, 3000000);
	struct mqtt_publish m;
	struct mqtt_packet pkt;
	size_t i, n, rem, hdr;

	assert_non_null(buf);
	assert_non_null(payload);
	for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		memset(&m, 0, sizeof m);
		m.topic = S("t");
		m.payload = payload;
		/* Remaining = 3 (topic) + payload. */
		rem = sizes[i] < 3 ? 3 : sizes[i];
		m.payload_len = rem - 3;
		n = mqtt_encode_publish(buf, 3100000, &m);
		hdr = rem < 128 ? 2 : rem < 16384 ? 3 : rem < 2097152 ? 4 : 5;
		assert_int_equal(n, hdr + rem);
		assert_int_equal(buf[hdr - 1] & 0x80, 0);
		decode_one(d, buf, n, n, &pkt);
		assert_int_equal(pkt.remaining, rem);
		assert_int_equal(pkt.u.publish.payload_len, rem - 3);
		/* And split in two: the copy path. */
		decode_one(d, buf, n, n / 2 + 1, &pkt);
		assert_int_equal(pkt.u.publish.payload_len, rem - 3);
	}
	/* snprintf-like: too small a buffer gets nothing, but the size. */
	memset(buf, 0xaa, 16);
	m.payload_len = 100;
	assert_int_equal(mqtt_encode_publish(buf, 10, &m), 2 + 3 + 100);
	for (i = 0; i < 16; i++)
		assert_int_equal(buf[i], 0xaa);
	assert_int_equal(mqtt_encode_ack(buf, 3, MQTT_PUBACK, 1), 4);
	assert_int_equal(buf[0], 0xaa);
	free(buf);
	free(payload);
	mqtt_decoder_free(d);
}

/* Many packets in one stream, fed one byte at a time. */
static void
test_stream_byte_by_byte(void **state)
{
	struct mqtt_decoder *d = mqtt_decoder_new(256);
	unsigned char stream[4096];
	char topic[32], payload[32];
	struct mqtt_publish m;
	struct mqtt_packet pkt;
	size_t len = 0, off, used, got = 0;
	enum mqtt_decode_status st;
	int i;

	for (i = 0; i < 50; i++) {
		memset(&m, 0, sizeof m);
		snprintf(topic, sizeof topic, "s/%d", i);
		snprintf(payload, sizeof payload, "%d", i * 3);
		m.topic.p = topic;
		m.topic.len = strlen(topic);
		m.payload = (const unsigned char *)payload;
		m.payload_len = strlen(payload);
		m.qos = i % 2;
		m.id = (uint16_t)(i % 2 ? i : 0);
		len +=
		    mqtt_encode_publish(stream + len, sizeof stream - len, &m);
		len += mqtt_encode_empty(
		    stream + len, sizeof stream - len, MQTT_PINGRESP);
	}
	for (off = 0; off < len; off++) {
		st = mqtt_decoder_feed(d, stream + off, 1, &used, &pkt);
		assert_int_equal(used, 1);
		if (st == MQTT_DECODE_MORE)
			continue;
		assert_int_equal(st, MQTT_DECODE_PACKET);
		if (got % 2 == 0) {
			snprintf(topic, sizeof topic, "s/%zu", got / 2);
			snprintf(payload, sizeof payload, "%zu", got / 2 * 3);
			assert_int_equal(pkt.type, MQTT_PUBLISH);
			assert_int_equal(
			    pkt.u.publish.topic.len, strlen(topic));
			assert_memory_equal(
			    pkt.u.publish.topic.p, topic, strlen(topic));
			assert_memory_equal(
			    pkt.u.publish.payload, payload, strlen(payload));
			assert_int_equal(pkt.u.publish.qos, (got / 2) % 2);
		} else
			assert_int_equal(pkt.type, MQTT_PINGRESP);
		got++;
	}
	assert_int_equal(got, 100);

	/* The same stream whole: packets come out one per call. */
	got = 0;
	for (off = 0; off < len; off += used) {
		st = mqtt_decoder_feed(d, stream + off, len - off, &used, &pkt);
		assert_int_equal(st, MQTT_DECODE_PACKET);
		got++;
	}
	assert_int_equal(got, 100);
	mqtt_decoder_free(d);
}

static void
test_errors_header(void **state)
{
	unsigned char big[8];

	expect_error("\x00\x00", 2, "reserved packet type 0");
	expect_error("\xf0\x00", 2, "reserved packet type 15");
	expect_error("\x36\x00", 2, "PUBLISH: bad flags 0x6 (QoS 3)");
	expect_error("\x38\x00", 2, "DUP with QoS 0");
	expect_error("\x80\x00", 2, "SUBSCRIBE: bad flags 0x0 (must be 0x2)");
	expect_error("\x41\x02\x00\x01", 4, "PUBACK: bad flags 0x1");
	expect_error("\x60\x02\x00\x01", 4, "PUBREL: bad flags 0x0");
	expect_error("\xd8\x00", 2, "PINGRESP: bad flags 0x8");
	/* Five length bytes. */
	expect_error(
	    "\x30\xff\xff\xff\xff\x01", 6, "remaining length longer than 4");
	/* The limit is checked before a body byte arrives. */
	memcpy(big, "\x30\x80\x08", 3); /* 1024 bytes */
	expect_error(big, 3, "PUBLISH of 1027 bytes is larger than the limit");
	assert_null(decode_error((const unsigned char *)"\x30\x03\x00\x01t", 5,
	    5)); /* exactly at the limit */
	assert_non_null(
	    decode_error((const unsigned char *)"\x30\x04\x00\x01tx", 6, 5));
}

static void
test_errors_publish(void **state)
{
	/* Topic length beyond the packet. */
	expect_error("\x30\x03\x00\x05t", 5, "PUBLISH: topic truncated");
	expect_error("\x30\x01\x00", 3, "PUBLISH: topic truncated");
	/* QoS 1 without (or with a short, or a zero) identifier. */
	expect_error("\x32\x03\x00\x01t", 5, "packet identifier truncated");
	expect_error("\x32\x04\x00\x01t\x01", 6, "packet identifier truncated");
	expect_error("\x32\x05\x00\x01t\x00\x00", 7, "packet identifier 0");
	/* Topics. */
	expect_error("\x30\x02\x00\x00", 4, "bad topic name (empty)");
	expect_error("\x30\x05\x00\x03\x61/+", 7, "has a wildcard");
	expect_error("\x30\x05\x00\x03\x61/#", 7, "has a wildcard");
	expect_error("\x30\x04\x00\x02\xc0\x80", 6, "topic is not valid UTF-8");
	expect_error("\x30\x03\x00\x01\x00", 5, "not valid UTF-8");
	expect_error("\x30\x05\x00\x03\xed\xa0\x80", 7, "not valid UTF-8");
	expect_error("\x30\x04\x00\x02\xe2\x82", 6, "not valid UTF-8");
	expect_error("\x30\x03\x00\x01\x80", 5, "not valid UTF-8");
	expect_error("\x30\x06\x00\x04\xf4\x90\x80\x80", 8, "not valid UTF-8");
	expect_error("\x30\x03\x00\x01\xff", 5, "not valid UTF-8");
}

static void
test_errors_other_types(void **state)
{
	expect_error("\x20\x03\x00\x00\x00", 5, "CONNACK: length 3 (not 2)");
	expect_error("\x20\x02\x02\x00", 4, "reserved acknowledge flags");
	expect_error("\x20\x02\x00\x06", 4, "unknown return code 6");
	expect_error("\x20\x02\x01\x05", 4, "session present with a refusal");
	expect_error("\x90\x03\x00\x01\x03", 5, "SUBACK: bad return code 0x03");
	expect_error("\x90\x02\x00\x01", 4, "SUBACK: no return code");
	expect_error("\x90\x03\x00\x00\x01", 5, "SUBACK: packet identifier 0");
	expect_error("\x90\x01\x00", 3, "identifier truncated");
	expect_error("\xd0\x01\x00", 3, "PINGRESP: length 1 (not 0)");
	expect_error("\xe0\x01\x00", 3, "DISCONNECT: length 1");
	expect_error("\x40\x03\x00\x01\x00", 5, "PUBACK: length 3 (not 2)");
	expect_error("\x40\x02\x00\x00", 4, "PUBACK: packet identifier 0");
	expect_error("\x82\x02\x00\x01", 4, "SUBSCRIBE: no topic filter");
	expect_error(
	    "\x82\x06\x00\x01\x00\x01x\x03", 8, "bad requested QoS byte 0x03");
	expect_error("\x82\x05\x00\x01\x00\x01x", 7, "requested QoS truncated");
	expect_error(
	    "\x82\x08\x00\x01\x00\x03\x61+b\x00", 10, "bad topic filter");
	expect_error("\x82\x06\x00\x01\x00\x05x\x00", 8, "filter truncated");
	/* CONNECT. */
	expect_error("\x10\x0c\x00\x04MQTX\x04\x02\x00\x00\x00\x00", 14,
	    "protocol name is not MQTT");
	expect_error("\x10\x0c\x00\x04MQTT\x03\x02\x00\x00\x00\x00", 14,
	    "protocol level 3");
	expect_error("\x10\x0c\x00\x04MQTT\x04\x03\x00\x00\x00\x00", 14,
	    "bad connect flags 0x03");
	expect_error("\x10\x0c\x00\x04MQTT\x04\x42\x00\x00\x00\x00", 14,
	    "bad connect flags 0x42");
	expect_error("\x10\x0c\x00\x04MQTT\x04\x1c\x00\x00\x00\x00", 14,
	    "bad connect flags 0x1c");
	expect_error("\x10\x0c\x00\x04MQTT\x04\x20\x00\x00\x00\x00", 14,
	    "bad connect flags 0x20");
	expect_error("\x10\x09\x00\x04MQTT\x04\x02\x00", 11,
	    "CONNECT: variable header truncated");
	expect_error("\x10\x0d\x00\x04MQTT\x04\x02\x00\x00\x00\x00\x00", 15,
	    "CONNECT: 1 bytes after the last field");
	expect_error("\x10\x0c\x00\x04MQTT\x04\x82\x00\x00\x00\x00", 14,
	    "CONNECT: user name truncated");
	expect_error("\x10\x0c\x00\x04MQTT\x04\x06\x00\x00\x00\x00", 14,
	    "CONNECT: will topic truncated");
}

static void
test_validators(void **state)
{
	assert_true(mqtt_utf8_valid("", 0));
	assert_true(
	    mqtt_utf8_valid("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12));
	assert_false(mqtt_utf8_valid("\xe0\x80\xaf", 3)); /* overlong */
	assert_false(mqtt_utf8_valid("\xf8\x88\x80\x80\x80", 5));
	assert_true(mqtt_topic_valid("a//b", 4));
	assert_true(mqtt_topic_valid("/", 1));
	assert_false(mqtt_topic_valid("a/b#", 4));
	assert_true(mqtt_filter_valid("#", 1));
	assert_true(mqtt_filter_valid("+", 1));
	assert_true(mqtt_filter_valid("/+/", 3));
	assert_true(mqtt_filter_valid("a/+/#", 5));
	assert_false(mqtt_filter_valid("a/#/", 4));
	assert_false(mqtt_filter_valid("a#", 2));
	assert_false(mqtt_filter_valid("+a", 2));
	assert_false(mqtt_filter_valid("", 0));
	assert_string_equal(mqtt_type_name(MQTT_SUBACK), "SUBACK");
	assert_string_equal(mqtt_type_name(0), "reserved");
	assert_string_equal(mqtt_type_name(99), "reserved");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_round_trip),
		cmocka_unit_test(test_connack_suback_acks),
		cmocka_unit_test(test_publish_round_trip),
		cmocka_unit_test(test_subscribe_round_trip),
		cmocka_unit_test(test_remaining_length_boundaries),
		cmocka_unit_test(test_stream_byte_by_byte),
		cmocka_unit_test(test_errors_header),
		cmocka_unit_test(test_errors_publish),
		cmocka_unit_test(test_errors_other_types),
		cmocka_unit_test(test_validators),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
