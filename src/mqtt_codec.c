/*
 * MQTT 3.1.1 encoding and decoding (OASIS standard, 2014). The decoder
 * checks the first byte as soon as it arrives and the remaining length
 * against the configured limit before buffering anything, so a hostile
 * peer costs at most max_packet bytes; every field is bounds-checked and
 * every error names the packet and the field. No I/O here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_codec.h"
#include "xmalloc.h"

enum mqtt_decoder_state {
	MQTT_DEC_HEADER, /* waiting for the first byte */
	MQTT_DEC_LENGTH, /* remaining length bytes */
	MQTT_DEC_BODY,	 /* copying a packet split across feeds */
	MQTT_DEC_FAILED,
};

struct mqtt_decoder {
	size_t max_packet;
	enum mqtt_decoder_state state;
	uint8_t first;
	size_t remaining;
	int length_bytes;
	unsigned char *buf; /* the body of a split packet */
	size_t cap;
	size_t have;
	char error[160];
};

/* A cursor over a packet body. */
struct mqtt_rd {
	const unsigned char *p;
	size_t len;
	size_t off;
};

static const char *const mqtt_type_names[16] = { "reserved", "CONNECT",
	"CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP",
	"DISCONNECT", "reserved" };

const char *
mqtt_type_name(int type)
{
	if (type < 0 || type > 15)
		return "reserved";
	return mqtt_type_names[type];
}

const char *
mqtt_connack_text(uint8_t code)
{
	switch (code) {
	case MQTT_CONNACK_ACCEPTED:
		return "accepted";
	case MQTT_CONNACK_PROTOCOL:
		return "unacceptable protocol version";
	case MQTT_CONNACK_IDENTIFIER:
		return "client identifier rejected";
	case MQTT_CONNACK_UNAVAILABLE:
		return "server unavailable";
	case MQTT_CONNACK_CREDENTIALS:
		return "bad user name or password";
	case MQTT_CONNACK_NOT_AUTHORIZED:
		return "not authorized";
	}
	return "unknown return code";
}

int
mqtt_utf8_valid(const void *data, size_t len)
{
	const unsigned char *s = data;
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		if (s[i] == 0)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates and beyond U+10FFFF. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

int
mqtt_topic_valid(const void *data, size_t len)
{
	if (len == 0 || len > MQTT_MAX_STRING || !mqtt_utf8_valid(data, len))
		return 0;
	return memchr(data, '+', len) == NULL && memchr(data, '#', len) == NULL;
}

int
mqtt_filter_valid(const void *data, size_t len)
{
	const char *s = data;
	size_t i;

	if (len == 0 || len > MQTT_MAX_STRING || !mqtt_utf8_valid(data, len))
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] != '+' && s[i] != '#')
			continue;
		/* A wildcard fills its whole level... */
		if ((i > 0 && s[i - 1] != '/') ||
		    (i + 1 < len && s[i + 1] != '/'))
			return 0;
		/* ...and # is the last level. */
		if (s[i] == '#' && i + 1 != len)
			return 0;
	}
	return 1;
}

/* Fixed-header flags each type must carry; PUBLISH is checked apart. */
static int
mqtt_flags_valid(int type, uint8_t flags, char *err, size_t errlen)
{
	int want;

	switch (type) {
	case 0:
	case 15:
		snprintf(err, errlen, "reserved packet type %d", type);
		return 0;
	case MQTT_PUBLISH:
		if (((flags >> 1) & 3) == 3) {
			snprintf(err, errlen, "PUBLISH: bad flags 0x%x (QoS 3)",
			    flags);
			return 0;
		}
		if ((flags & 0x08) && ((flags >> 1) & 3) == 0) {
			snprintf(err, errlen,
			    "PUBLISH: bad flags 0x%x (DUP with QoS 0)", flags);
			return 0;
		}
		return 1;
	case MQTT_PUBREL:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		want = 2;
		break;
	default:
		want = 0;
	}
	if (flags != want) {
		snprintf(err, errlen, "%s: bad flags 0x%x (must be 0x%x)",
		    mqtt_type_name(type), flags, want);
		return 0;
	}
	return 1;
}

static int
mqtt_rd_u8(struct mqtt_rd *rd, uint8_t *v)
{
	if (rd->len - rd->off < 1)
		return -1;
	*v = rd->p[rd->off++];
	return 0;
}

static int
mqtt_rd_u16(struct mqtt_rd *rd, uint16_t *v)
{
	if (rd->len - rd->off < 2)
		return -1;
	*v = (uint16_t)(rd->p[rd->off] << 8 | rd->p[rd->off + 1]);
	rd->off += 2;
	return 0;
}

/* A length-prefixed field; binary, or UTF-8 checked when utf8 is set. */
static int
mqtt_rd_str(struct mqtt_rd *rd, struct mqtt_str *s, int utf8, const char *pkt,
    const char *field, char *err, size_t errlen)
{
	uint16_t n;

	if (mqtt_rd_u16(rd, &n) == -1 || rd->len - rd->off < n) {
		snprintf(err, errlen, "%s: %s truncated", pkt, field);
		return -1;
	}
	s->p = (const char *)rd->p + rd->off;
	s->len = n;
	rd->off += n;
	if (utf8 && !mqtt_utf8_valid(s->p, s->len)) {
		snprintf(err, errlen, "%s: %s is not valid UTF-8", pkt, field);
		return -1;
	}
	return 0;
}

static int
mqtt_rd_id(
    struct mqtt_rd *rd, uint16_t *id, const char *pkt, char *err, size_t errlen)
{
	if (mqtt_rd_u16(rd, id) == -1) {
		snprintf(err, errlen, "%s: packet identifier truncated", pkt);
		return -1;
	}
	if (*id == 0) {
		snprintf(err, errlen, "%s: packet identifier 0", pkt);
		return -1;
	}
	return 0;
}

static int
mqtt_decode_connect(
    struct mqtt_rd *rd, struct mqtt_packet *pkt, char *err, size_t errlen)
{
	struct mqtt_connect *c = &pkt->u.connect;
	struct mqtt_str proto;
	uint8_t level, flags;

	if (mqtt_rd_str(
		rd, &proto, 1, "CONNECT", "protocol name", err, errlen) == -1)
		return -1;
	if (proto.len != 4 || memcmp(proto.p, "MQTT", 4) != 0) {
		snprintf(err, errlen, "CONNECT: protocol name is not MQTT");
		return -1;
	}
	if (mqtt_rd_u8(rd, &level) == -1 || mqtt_rd_u8(rd, &flags) == -1 ||
	    mqtt_rd_u16(rd, &c->keepalive_s) == -1) {
		snprintf(err, errlen, "CONNECT: variable header truncated");
		return -1;
	}
	if (level != 4) {
		snprintf(
		    err, errlen, "CONNECT: protocol level %u (not 4)", level);
		return -1;
	}
	c->clean_session = (flags >> 1) & 1;
	c->will = (flags >> 2) & 1;
	c->will_qos = (flags >> 3) & 3;
	c->will_retain = (flags >> 5) & 1;
	c->has_password = (flags >> 6) & 1;
	c->has_username = (flags >> 7) & 1;
	if ((flags & 1) || c->will_qos == 3 ||
	    (!c->will && (c->will_qos != 0 || c->will_retain)) ||
	    (c->has_password && !c->has_username)) {
		snprintf(
		    err, errlen, "CONNECT: bad connect flags 0x%02x", flags);
		return -1;
	}
	if (mqtt_rd_str(rd, &c->client_id, 1, "CONNECT", "client identifier",
		err, errlen) == -1)
		return -1;
	if (c->will) {
		if (mqtt_rd_str(rd, &c->will_topic, 1, "CONNECT", "will topic",
			err, errlen) == -1)
			return -1;
		if (!mqtt_topic_valid(c->will_topic.p, c->will_topic.len)) {
			snprintf(err, errlen, "CONNECT: bad will topic");
			return -1;
		}
		if (mqtt_rd_str(rd, &c->will_message, 0, "CONNECT",
			"will message", err, errlen) == -1)
			return -1;
	}
	if (c->has_username &&
	    mqtt_rd_str(
		rd, &c->username, 1, "CONNECT", "user name", err, errlen) == -1)
		return -1;
	if (c->has_password &&
	    mqtt_rd_str(
		rd, &c->password, 0, "CONNECT", "password", err, errlen) == -1)
		return -1;
	return 0;
}

static int
mqtt_decode_publish(
    struct mqtt_rd *rd, struct mqtt_packet *pkt, char *err, size_t errlen)
{
	struct mqtt_publish *p = &pkt->u.publish;

	p->dup = (pkt->flags >> 3) & 1;
	p->qos = (pkt->flags >> 1) & 3;
	p->retain = pkt->flags & 1;
	if (mqtt_rd_str(rd, &p->topic, 1, "PUBLISH", "topic", err, errlen) ==
	    -1)
		return -1;
	if (!mqtt_topic_valid(p->topic.p, p->topic.len)) {
		snprintf(err, errlen, "PUBLISH: bad topic name (%s)",
		    p->topic.len == 0 ? "empty" : "has a wildcard");
		return -1;
	}
	if (p->qos > 0) {
		if (mqtt_rd_id(rd, &p->id, "PUBLISH", err, errlen) == -1)
			return -1;
		pkt->id = p->id;
	}
	p->payload = rd->p + rd->off;
	p->payload_len = rd->len - rd->off;
	rd->off = rd->len;
	return 0;
}

/* SUBSCRIBE and UNSUBSCRIBE: validate the list, keep it for walking. */
static int
mqtt_decode_subscribe(
    struct mqtt_rd *rd, struct mqtt_packet *pkt, char *err, size_t errlen)
{
	const char *name = mqtt_type_name(pkt->type);
	struct mqtt_str f;
	uint8_t qos;

	if (mqtt_rd_id(rd, &pkt->id, name, err, errlen) == -1)
		return -1;
	pkt->u.subscribe.list = rd->p + rd->off;
	pkt->u.subscribe.len = rd->len - rd->off;
	pkt->u.subscribe.n = 0;
	while (rd->off < rd->len) {
		if (mqtt_rd_str(rd, &f, 1, name, "topic filter", err, errlen) ==
		    -1)
			return -1;
		if (!mqtt_filter_valid(f.p, f.len)) {
			snprintf(err, errlen, "%s: bad topic filter", name);
			return -1;
		}
		if (pkt->type == MQTT_SUBSCRIBE) {
			if (mqtt_rd_u8(rd, &qos) == -1) {
				snprintf(err, errlen,
				    "SUBSCRIBE: requested QoS truncated");
				return -1;
			}
			if (qos > 2) {
				snprintf(err, errlen,
				    "SUBSCRIBE: bad requested QoS byte 0x%02x",
				    qos);
				return -1;
			}
		}
		pkt->u.subscribe.n++;
	}
	if (pkt->u.subscribe.n == 0) {
		snprintf(err, errlen, "%s: no topic filter", name);
		return -1;
	}
	return 0;
}

int
mqtt_decode_body(uint8_t first, const unsigned char *body, size_t len,
    struct mqtt_packet *pkt, char *err, size_t errlen)
{
	struct mqtt_rd rd = { body, len, 0 };
	uint8_t b;
	size_t i;

	memset(pkt, 0, sizeof *pkt);
	pkt->type = (enum mqtt_type)(first >> 4);
	pkt->flags = first & 0x0f;
	pkt->remaining = len;
	if (!mqtt_flags_valid(pkt->type, pkt->flags, err, errlen))
		return -1;
	switch (pkt->type) {
	case MQTT_CONNECT:
		if (mqtt_decode_connect(&rd, pkt, err, errlen) == -1)
			return -1;
		break;
	case MQTT_CONNACK:
		if (len != 2) {
			snprintf(
			    err, errlen, "CONNACK: length %zu (not 2)", len);
			return -1;
		}
		if (body[0] & 0xfe) {
			snprintf(err, errlen,
			    "CONNACK: reserved acknowledge flags 0x%02x",
			    body[0]);
			return -1;
		}
		pkt->u.connack.session_present = body[0] & 1;
		pkt->u.connack.code = body[1];
		if (body[1] > MQTT_CONNACK_NOT_AUTHORIZED) {
			snprintf(err, errlen, "CONNACK: unknown return code %u",
			    body[1]);
			return -1;
		}
		if (body[1] != 0 && pkt->u.connack.session_present) {
			snprintf(err, errlen,
			    "CONNACK: session present with a refusal");
			return -1;
		}
		rd.off = len;
		break;
	case MQTT_PUBLISH:
		if (mqtt_decode_publish(&rd, pkt, err, errlen) == -1)
			return -1;
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
	case MQTT_UNSUBACK:
		if (len != 2) {
			snprintf(err, errlen, "%s: length %zu (not 2)",
			    mqtt_type_name(pkt->type), len);
			return -1;
		}
		if (mqtt_rd_id(&rd, &pkt->id, mqtt_type_name(pkt->type), err,
			errlen) == -1)
			return -1;
		break;
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		if (mqtt_decode_subscribe(&rd, pkt, err, errlen) == -1)
			return -1;
		break;
	case MQTT_SUBACK:
		if (mqtt_rd_id(&rd, &pkt->id, "SUBACK", err, errlen) == -1)
			return -1;
		pkt->u.suback.codes = body + rd.off;
		pkt->u.suback.n = len - rd.off;
		if (pkt->u.suback.n == 0) {
			snprintf(err, errlen, "SUBACK: no return code");
			return -1;
		}
		for (i = 0; i < pkt->u.suback.n; i++) {
			b = pkt->u.suback.codes[i];
			if (b > 2 && b != MQTT_SUBACK_FAILURE) {
				snprintf(err, errlen,
				    "SUBACK: bad return code 0x%02x", b);
				return -1;
			}
		}
		rd.off = len;
		break;
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		if (len != 0) {
			snprintf(err, errlen, "%s: length %zu (not 0)",
			    mqtt_type_name(pkt->type), len);
			return -1;
		}
		break;
	}
	if (rd.off != rd.len) {
		snprintf(err, errlen, "%s: %zu bytes after the last field",
		    mqtt_type_name(pkt->type), rd.len - rd.off);
		return -1;
	}
	return 0;
}

int
mqtt_subscribe_next(const struct mqtt_packet *pkt, size_t *pos,
    struct mqtt_str *filter, int *qos)
{
	const unsigned char *p = pkt->u.subscribe.list;
	size_t len = pkt->u.subscribe.len, n;

	/* The list was validated by the decoder or built by the encoder. */
	if (*pos + 2 > len)
		return 0;
	n = (size_t)p[*pos] << 8 | p[*pos + 1];
	if (*pos + 2 + n > len)
		return 0;
	filter->p = (const char *)p + *pos + 2;
	filter->len = n;
	*pos += 2 + n;
	if (pkt->type == MQTT_SUBSCRIBE) {
		if (*pos >= len)
			return 0;
		if (qos != NULL)
			*qos = p[*pos];
		(*pos)++;
	} else if (qos != NULL)
		*qos = 0;
	return 1;
}

struct mqtt_decoder *
mqtt_decoder_new(size_t max_packet)
{
	struct mqtt_decoder *d = xcalloc(1, sizeof *d);

	d->max_packet = max_packet < 2 ? 2 : max_packet;
	return d;
}

void
mqtt_decoder_free(struct mqtt_decoder *d)
{
	if (d == NULL)
		return;
	free(d->buf);
	free(d);
}

void
mqtt_decoder_reset(struct mqtt_decoder *d)
{
	d->state = MQTT_DEC_HEADER;
	d->have = 0;
	d->remaining = 0;
	d->length_bytes = 0;
	d->error[0] = '\0';
	/* A big packet's buffer is not kept past its connection. */
	if (d->cap > 4096) {
		free(d->buf);
		d->buf = NULL;
		d->cap = 0;
	}
}

const char *
mqtt_decoder_error(const struct mqtt_decoder *d)
{
	return d->error;
}

size_t
mqtt_decoder_buffered(const struct mqtt_decoder *d)
{
	return d->have;
}

static enum mqtt_decode_status
mqtt_decoder_fail(struct mqtt_decoder *d)
{
	d->state = MQTT_DEC_FAILED;
	return MQTT_DECODE_ERROR;
}

static enum mqtt_decode_status
mqtt_decoder_finish(
    struct mqtt_decoder *d, const unsigned char *body, struct mqtt_packet *pkt)
{
	d->state = MQTT_DEC_HEADER;
	d->have = 0;
	if (mqtt_decode_body(d->first, body, d->remaining, pkt, d->error,
		sizeof d->error) == -1)
		return mqtt_decoder_fail(d);
	return MQTT_DECODE_PACKET;
}

enum mqtt_decode_status
mqtt_decoder_feed(struct mqtt_decoder *d, const void *data, size_t len,
    size_t *used, struct mqtt_packet *pkt)
{
	const unsigned char *in = data;
	enum mqtt_decode_status st;
	size_t i = 0, n, total;
	uint8_t b;

	*used = 0;
	if (d->state == MQTT_DEC_FAILED)
		return MQTT_DECODE_ERROR;
	while (i < len) {
		switch (d->state) {
		case MQTT_DEC_HEADER:
			d->first = in[i++];
			if (!mqtt_flags_valid(d->first >> 4, d->first & 0x0f,
				d->error, sizeof d->error)) {
				*used = i;
				return mqtt_decoder_fail(d);
			}
			d->state = MQTT_DEC_LENGTH;
			d->remaining = 0;
			d->length_bytes = 0;
			break;
		case MQTT_DEC_LENGTH:
			b = in[i++];
			d->remaining |= (size_t)(b & 0x7f)
			    << (7 * d->length_bytes);
			d->length_bytes++;
			if (b & 0x80) {
				if (d->length_bytes == 4) {
					snprintf(d->error, sizeof d->error,
					    "%s: remaining length longer than "
					    "4 bytes",
					    mqtt_type_name(d->first >> 4));
					*used = i;
					return mqtt_decoder_fail(d);
				}
				break;
			}
			total = 1 + (size_t)d->length_bytes + d->remaining;
			if (total > d->max_packet) {
				snprintf(d->error, sizeof d->error,
				    "%s of %zu bytes is larger than the limit "
				    "(%zu)",
				    mqtt_type_name(d->first >> 4), total,
				    d->max_packet);
				*used = i;
				return mqtt_decoder_fail(d);
			}
			if (len - i >= d->remaining) {
				/* Whole in the caller's bytes: no copy. */
				st = mqtt_decoder_finish(d, in + i, pkt);
				*used = i + d->remaining;
				return st;
			}
			if (d->cap < d->remaining) {
				free(d->buf);
				d->buf = xmalloc(d->remaining);
				d->cap = d->remaining;
			}
			d->have = 0;
			d->state = MQTT_DEC_BODY;
			break;
		case MQTT_DEC_BODY:
			n = d->remaining - d->have;
			if (n > len - i)
				n = len - i;
			memcpy(d->buf + d->have, in + i, n);
			d->have += n;
			i += n;
			if (d->have == d->remaining) {
				*used = i;
				return mqtt_decoder_finish(d, d->buf, pkt);
			}
			break;
		case MQTT_DEC_FAILED:
			*used = i;
			return MQTT_DECODE_ERROR;
		}
	}
	*used = i;
	return MQTT_DECODE_MORE;
}

/* Encoding. */

static size_t
mqtt_length_size(size_t remaining)
{
	if (remaining < 128)
		return 1;
	if (remaining < 16384)
		return 2;
	if (remaining < 2097152)
		return 3;
	return 4;
}

/* Writes the fixed header; returns its size. */
static size_t
mqtt_put_header(unsigned char *p, uint8_t first, size_t remaining)
{
	size_t n = 0;

	p[n++] = first;
	do {
		p[n] = remaining & 0x7f;
		remaining >>= 7;
		if (remaining > 0)
			p[n] |= 0x80;
		n++;
	} while (remaining > 0);
	return n;
}

static unsigned char *
mqtt_put_u16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
	return p + 2;
}

static unsigned char *
mqtt_put_str(unsigned char *p, const struct mqtt_str *s)
{
	p = mqtt_put_u16(p, (uint16_t)s->len);
	if (s->len > 0)
		memcpy(p, s->p, s->len);
	return p + s->len;
}

/* Total size for a body of remaining bytes, or 0 when too big. */
static size_t
mqtt_total(size_t remaining)
{
	if (remaining > MQTT_MAX_REMAINING)
		return 0;
	return 1 + mqtt_length_size(remaining) + remaining;
}

size_t
mqtt_encode_connect(void *buf, size_t len, const struct mqtt_connect *c)
{
	static const struct mqtt_str proto = { "MQTT", 4 };
	unsigned char *p = buf;
	size_t rem, total;
	uint8_t flags = 0;

	if (c->client_id.len > MQTT_MAX_STRING ||
	    !mqtt_utf8_valid(c->client_id.p, c->client_id.len) ||
	    c->will_qos < 0 || c->will_qos > 2 ||
	    (c->has_password && !c->has_username))
		return 0;
	rem = 10 + 2 + c->client_id.len;
	if (c->will) {
		if (!mqtt_topic_valid(c->will_topic.p, c->will_topic.len) ||
		    c->will_message.len > MQTT_MAX_STRING)
			return 0;
		rem += 4 + c->will_topic.len + c->will_message.len;
		flags |= 0x04 | (uint8_t)(c->will_qos << 3) |
		    (c->will_retain ? 0x20 : 0);
	} else if (c->will_qos != 0 || c->will_retain)
		return 0;
	if (c->has_username) {
		if (c->username.len > MQTT_MAX_STRING ||
		    !mqtt_utf8_valid(c->username.p, c->username.len))
			return 0;
		rem += 2 + c->username.len;
		flags |= 0x80;
	}
	if (c->has_password) {
		if (c->password.len > MQTT_MAX_STRING)
			return 0;
		rem += 2 + c->password.len;
		flags |= 0x40;
	}
	if (c->clean_session)
		flags |= 0x02;
	if ((total = mqtt_total(rem)) == 0 || total > len)
		return total;
	p += mqtt_put_header(p, MQTT_CONNECT << 4, rem);
	p = mqtt_put_str(p, &proto);
	*p++ = 4;
	*p++ = flags;
	p = mqtt_put_u16(p, c->keepalive_s);
	p = mqtt_put_str(p, &c->client_id);
	if (c->will) {
		p = mqtt_put_str(p, &c->will_topic);
		p = mqtt_put_str(p, &c->will_message);
	}
	if (c->has_username)
		p = mqtt_put_str(p, &c->username);
	if (c->has_password)
		mqtt_put_str(p, &c->password);
	return total;
}

size_t
mqtt_encode_connack(void *buf, size_t len, int session_present, uint8_t code)
{
	unsigned char *p = buf;

	if (code > MQTT_CONNACK_NOT_AUTHORIZED ||
	    (code != 0 && session_present))
		return 0;
	if (len < 4)
		return 4;
	p[0] = MQTT_CONNACK << 4;
	p[1] = 2;
	p[2] = session_present ? 1 : 0;
	p[3] = code;
	return 4;
}

size_t
mqtt_encode_publish(void *buf, size_t len, const struct mqtt_publish *m)
{
	unsigned char *p = buf;
	size_t rem, total;
	uint8_t first;

	if (m->qos < 0 || m->qos > 2 || (m->qos > 0 && m->id == 0) ||
	    (m->qos == 0 && m->dup) ||
	    !mqtt_topic_valid(m->topic.p, m->topic.len))
		return 0;
	rem = 2 + m->topic.len + (m->qos > 0 ? 2 : 0);
	if (m->payload_len > MQTT_MAX_REMAINING - rem)
		return 0;
	rem += m->payload_len;
	if ((total = mqtt_total(rem)) == 0 || total > len)
		return total;
	first = MQTT_PUBLISH << 4 | (m->dup ? 0x08 : 0) |
	    (uint8_t)(m->qos << 1) | (m->retain ? 1 : 0);
	p += mqtt_put_header(p, first, rem);
	p = mqtt_put_str(p, &m->topic);
	if (m->qos > 0)
		p = mqtt_put_u16(p, m->id);
	if (m->payload_len > 0)
		memcpy(p, m->payload, m->payload_len);
	return total;
}

size_t
mqtt_encode_subscribe(void *buf, size_t len, uint16_t id,
    const struct mqtt_str *filters, const int *qos, size_t n)
{
	unsigned char *p = buf;
	size_t i, rem = 2, total;

	if (id == 0 || n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (!mqtt_filter_valid(filters[i].p, filters[i].len) ||
		    qos[i] < 0 || qos[i] > 2)
			return 0;
		rem += 3 + filters[i].len;
		if (rem > MQTT_MAX_REMAINING)
			return 0;
	}
	if ((total = mqtt_total(rem)) == 0 || total > len)
		return total;
	p += mqtt_put_header(p, MQTT_SUBSCRIBE << 4 | 0x02, rem);
	p = mqtt_put_u16(p, id);
	for (i = 0; i < n; i++) {
		p = mqtt_put_str(p, &filters[i]);
		*p++ = (uint8_t)qos[i];
	}
	return total;
}

size_t
mqtt_encode_suback(
    void *buf, size_t len, uint16_t id, const unsigned char *codes, size_t n)
{
	unsigned char *p = buf;
	size_t i, total;

	if (id == 0 || n == 0 || n > MQTT_MAX_REMAINING - 2)
		return 0;
	for (i = 0; i < n; i++) {
		if (codes[i] > 2 && codes[i] != MQTT_SUBACK_FAILURE)
			return 0;
	}
	if ((total = mqtt_total(2 + n)) > len)
		return total;
	p += mqtt_put_header(p, MQTT_SUBACK << 4, 2 + n);
	p = mqtt_put_u16(p, id);
	memcpy(p, codes, n);
	return total;
}

size_t
mqtt_encode_ack(void *buf, size_t len, enum mqtt_type type, uint16_t id)
{
	unsigned char *p = buf;

	if (id == 0 ||
	    (type != MQTT_PUBACK && type != MQTT_PUBREC &&
		type != MQTT_PUBREL && type != MQTT_PUBCOMP &&
		type != MQTT_UNSUBACK))
		return 0;
	if (len < 4)
		return 4;
	p[0] = (uint8_t)(type << 4 | (type == MQTT_PUBREL ? 0x02 : 0));
	p[1] = 2;
	mqtt_put_u16(p + 2, id);
	return 4;
}

size_t
mqtt_encode_empty(void *buf, size_t len, enum mqtt_type type)
{
	unsigned char *p = buf;

	if (type != MQTT_PINGREQ && type != MQTT_PINGRESP &&
	    type != MQTT_DISCONNECT)
		return 0;
	if (len < 2)
		return 2;
	p[0] = (uint8_t)(type << 4);
	p[1] = 0;
	return 2;
}
