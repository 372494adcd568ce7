/*
 * MQTT 3.1.1 packets: encoders into a caller's buffer and an incremental
 * decoder that takes bytes in chunks of any size and yields validated
 * packets or one clear error. Pure: no I/O, no clock, no logging; memory
 * bounded by the configured largest packet.
 */
#ifndef OUTPOST_MQTT_CODEC_H
#define OUTPOST_MQTT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define MQTT_MAX_REMAINING 268435455 /* 4 length bytes, 7 bits each */
#define MQTT_MAX_STRING 65535	     /* 2-byte length prefix */

enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_PUBREC = 5,
	MQTT_PUBREL = 6,
	MQTT_PUBCOMP = 7,
	MQTT_SUBSCRIBE = 8,
	MQTT_SUBACK = 9,
	MQTT_UNSUBSCRIBE = 10,
	MQTT_UNSUBACK = 11,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14,
};

/* CONNACK return codes. */
enum mqtt_connack_code {
	MQTT_CONNACK_ACCEPTED = 0,
	MQTT_CONNACK_PROTOCOL = 1,
	MQTT_CONNACK_IDENTIFIER = 2,
	MQTT_CONNACK_UNAVAILABLE = 3,
	MQTT_CONNACK_CREDENTIALS = 4,
	MQTT_CONNACK_NOT_AUTHORIZED = 5,
};

#define MQTT_SUBACK_FAILURE 0x80

/* Bytes that are not NUL-terminated: a string or binary field. */
struct mqtt_str {
	const char *p;
	size_t len;
};

struct mqtt_connect {
	struct mqtt_str client_id;
	struct mqtt_str will_topic;   /* with will */
	struct mqtt_str will_message; /* binary */
	struct mqtt_str username;     /* with has_username */
	struct mqtt_str password;     /* binary, with has_password */
	uint16_t keepalive_s;
	int clean_session;
	int will;
	int will_qos;
	int will_retain;
	int has_username;
	int has_password;
};

struct mqtt_publish {
	struct mqtt_str topic;
	const unsigned char *payload;
	size_t payload_len;
	uint16_t id; /* QoS 1 and 2 only */
	int qos;
	int dup;
	int retain;
};

/*
 * One decoded packet. Pointers refer to the bytes given to the decoder or
 * to its own buffer: valid until the next feed, reset or free.
 */
struct mqtt_packet {
	enum mqtt_type type;
	uint8_t flags;	  /* low nibble of the first byte */
	size_t remaining; /* remaining length */
	uint16_t id;	  /* packet identifier, where the type has one */
	union {
		struct mqtt_connect connect;
		struct {
			int session_present;
			uint8_t code;
		} connack;
		struct mqtt_publish publish;
		struct {
			const unsigned char *codes; /* granted QoS or 0x80 */
			size_t n;
		} suback;
		struct {
			/* SUBSCRIBE: filter + QoS byte; UNSUBSCRIBE: filter. */
			const unsigned char *list;
			size_t len;
			size_t n;
		} subscribe;
	} u;
};

enum mqtt_decode_status {
	MQTT_DECODE_MORE,   /* every byte taken; feed more */
	MQTT_DECODE_PACKET, /* *pkt holds a packet; feed the rest after used */
	MQTT_DECODE_ERROR,  /* mqtt_decoder_error() says why; sticky */
};

struct mqtt_decoder;

/* max_packet: largest whole packet (fixed header included), in bytes. */
struct mqtt_decoder *mqtt_decoder_new(size_t max_packet);
void mqtt_decoder_free(struct mqtt_decoder *);
/* Forgets a partial packet and an error: for a new connection. */
void mqtt_decoder_reset(struct mqtt_decoder *);
/*
 * Takes bytes from buf until a packet is complete, an error is found or
 * buf is used up; *used says how many were taken. A packet whole in buf
 * is decoded in place, without a copy.
 */
enum mqtt_decode_status mqtt_decoder_feed(struct mqtt_decoder *,
    const void *buf, size_t len, size_t *used, struct mqtt_packet *pkt);
/* The last error, one line; "" when none. */
const char *mqtt_decoder_error(const struct mqtt_decoder *);
/* Bytes of a partial packet held (the buffer's fill). */
size_t mqtt_decoder_buffered(const struct mqtt_decoder *);

/*
 * Decodes one packet's variable header and payload, given its first byte;
 * 0, or -1 with err filled. The decoder uses it; tests may too.
 */
int mqtt_decode_body(uint8_t first, const unsigned char *body, size_t len,
    struct mqtt_packet *pkt, char *err, size_t errlen);

/*
 * Walks the filters of a SUBSCRIBE or UNSUBSCRIBE: start with *pos = 0;
 * returns 1 and the next filter (and its QoS, for SUBSCRIBE), 0 at the end.
 */
int mqtt_subscribe_next(
    const struct mqtt_packet *, size_t *pos, struct mqtt_str *filter, int *qos);

/*
 * Encoders: like snprintf, each returns the whole packet's length and
 * writes it only when it fits in len; 0 when the arguments cannot make a
 * valid packet (a string too long, a bad topic or filter, QoS > 2, ...).
 */
size_t mqtt_encode_connect(void *buf, size_t len, const struct mqtt_connect *);
size_t
mqtt_encode_connack(void *buf, size_t len, int session_present, uint8_t code);
size_t mqtt_encode_publish(void *buf, size_t len, const struct mqtt_publish *);
size_t mqtt_encode_subscribe(void *buf, size_t len, uint16_t id,
    const struct mqtt_str *filters, const int *qos, size_t n);
size_t mqtt_encode_suback(
    void *buf, size_t len, uint16_t id, const unsigned char *codes, size_t n);
/* PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: a type and an identifier. */
size_t mqtt_encode_ack(void *buf, size_t len, enum mqtt_type, uint16_t id);
/* PINGREQ, PINGRESP, DISCONNECT: two bytes. */
size_t mqtt_encode_empty(void *buf, size_t len, enum mqtt_type);

/* "PUBLISH", ...; "reserved" for 0 and 15. */
const char *mqtt_type_name(int type);
/* The CONNACK refusal reasons as text. */
const char *mqtt_connack_text(uint8_t code);
/* MQTT's UTF-8: well formed, no U+0000 (nor surrogates, overlongs). */
int mqtt_utf8_valid(const void *, size_t);
/* A topic name one may publish to: 1..65535 bytes, UTF-8, no + or #. */
int mqtt_topic_valid(const void *, size_t);
/* A filter: as a topic, with + alone in a level and # alone and last. */
int mqtt_filter_valid(const void *, size_t);

#endif
