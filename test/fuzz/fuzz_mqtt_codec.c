/*
 * Fuzzes the MQTT decoder on arbitrary bytes. The first input byte picks
 * the packet size limit, the second the chunk size. Checks: fed whole or
 * in chunks, the stream decodes to the same packets and the same error;
 * every decoded packet encodes back to exactly its body bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_MAX_FILTERS 4096

static unsigned char fuzz_out[70000];

/* Re-encodes pkt; its body must be the original body, byte for byte. */
static void
fuzz_reencode(const struct mqtt_packet *pkt, const unsigned char *body)
{
	static struct mqtt_str filters[FUZZ_MAX_FILTERS];
	static int qos[FUZZ_MAX_FILTERS];
	size_t n = 0, pos = 0, hdr;
	unsigned char *out = fuzz_out;
	struct mqtt_packet again;
	char err[200];

	switch (pkt->type) {
	case MQTT_CONNECT:
		n = mqtt_encode_connect(out, sizeof fuzz_out, &pkt->u.connect);
		break;
	case MQTT_CONNACK:
		n = mqtt_encode_connack(out, sizeof fuzz_out,
		    pkt->u.connack.session_present, pkt->u.connack.code);
		break;
	case MQTT_PUBLISH:
		n = mqtt_encode_publish(out, sizeof fuzz_out, &pkt->u.publish);
		break;
	case MQTT_SUBSCRIBE:
		while (pos < pkt->u.subscribe.len && n < FUZZ_MAX_FILTERS &&
		    mqtt_subscribe_next(pkt, &pos, &filters[n], &qos[n]))
			n++;
		if (n != pkt->u.subscribe.n)
			return; /* more filters than this check holds */
		n = mqtt_encode_subscribe(
		    out, sizeof fuzz_out, pkt->id, filters, qos, n);
		break;
	case MQTT_SUBACK:
		n = mqtt_encode_suback(out, sizeof fuzz_out, pkt->id,
		    pkt->u.suback.codes, pkt->u.suback.n);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		n = mqtt_encode_ack(out, sizeof fuzz_out, pkt->type, pkt->id);
		break;
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		n = mqtt_encode_empty(out, sizeof fuzz_out, pkt->type);
		break;
	case MQTT_UNSUBSCRIBE:
		return;
	}
	if (n == 0 || n > sizeof fuzz_out) {
		if (pkt->remaining + 5 > sizeof fuzz_out)
			return;
		fprintf(stderr, "%s decoded but does not encode\n",
		    mqtt_type_name(pkt->type));
		abort();
	}
	hdr = n - pkt->remaining;
	if (hdr < 2 || hdr > 5 || out[0] != (pkt->type << 4 | pkt->flags) ||
	    memcmp(out + hdr, body, pkt->remaining) != 0) {
		fprintf(stderr, "%s encodes to other bytes\n",
		    mqtt_type_name(pkt->type));
		abort();
	}
	if (mqtt_decode_body(out[0], out + hdr, pkt->remaining, &again, err,
		sizeof err) == -1) {
		fprintf(stderr, "re-encoded %s does not decode: %s\n",
		    mqtt_type_name(pkt->type), err);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mqtt_decoder *whole, *chunked;
	struct mqtt_packet pkt, pkt2;
	enum mqtt_decode_status st, st2 = MQTT_DECODE_MORE;
	size_t max, chunk, off, off2 = 0, used, n, packets = 0, packets2 = 0;

	if (size < 2)
		return 0;
	max = data[0] == 0 ? 65536 : 2 + (size_t)data[0] * 8;
	chunk = data[1] == 0 ? 1 : data[1];
	data += 2;
	size -= 2;
	whole = mqtt_decoder_new(max);
	chunked = mqtt_decoder_new(max);

	for (off = 0; off < size; off += used) {
		st = mqtt_decoder_feed(
		    whole, data + off, size - off, &used, &pkt);
		if (st == MQTT_DECODE_ERROR) {
			if (mqtt_decoder_error(whole)[0] == '\0')
				abort();
			break;
		}
		if (st == MQTT_DECODE_MORE) {
			if (used != size - off)
				abort();
			break;
		}
		if (used < 2 || used - pkt.remaining < 2 ||
		    used - pkt.remaining > 5 || used > max)
			abort();
		packets++;
		fuzz_reencode(&pkt, data + off + used - pkt.remaining);
	}

	/* The same bytes in chunks: the same packets, the same end. */
	while (off2 < size) {
		n = size - off2 < chunk ? size - off2 : chunk;
		st2 = mqtt_decoder_feed(chunked, data + off2, n, &used, &pkt2);
		off2 += used;
		if (st2 == MQTT_DECODE_PACKET)
			packets2++;
		else if (st2 == MQTT_DECODE_ERROR)
			break;
	}
	if (packets != packets2) {
		fprintf(stderr, "whole: %zu packets, chunked: %zu\n", packets,
		    packets2);
		abort();
	}
	if ((mqtt_decoder_error(whole)[0] != '\0') !=
		(st2 == MQTT_DECODE_ERROR) ||
	    strcmp(mqtt_decoder_error(whole), mqtt_decoder_error(chunked)) !=
		0) {
		fprintf(stderr, "whole: '%s', chunked: '%s'\n",
		    mqtt_decoder_error(whole), mqtt_decoder_error(chunked));
		abort();
	}
	mqtt_decoder_free(whole);
	mqtt_decoder_free(chunked);
	return 0;
}
