/*
 * Upload encoders. json_out doubles as the byte buffer for every format, so
 * the uplink reuses one allocation across batches. gzip uses a small deflate
 * window: about 48 KiB of zlib state instead of the default 256 KiB, at a
 * few percent of ratio on our repetitive batches.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef OUTPOST_HAVE_ZLIB
#include <zlib.h>
#endif

#include "encode.h"
#include "recid.h"

#define ENCODE_GZIP_WINDOW_BITS 13 /* 8 KiB window; +16 = gzip header */
#define ENCODE_GZIP_MEM_LEVEL 5

void
encode_json_begin(struct json_out *j, const char *agent_id, double sent_at)
{
	json_out_reset(j);
	json_out_object_begin(j, NULL);
	json_out_string(j, "agent", agent_id);
	json_out_double(j, "sent_at", sent_at);
	json_out_array_begin(j, "records");
}

static const char *const encode_kind_names[] = { "reading", "event",
	"summary" };

void
encode_json_record(struct json_out *j, const struct encode_record *r)
{
	char hex[65];

	recid_hex(r->id, hex);
	json_out_object_begin(j, NULL);
	json_out_string(j, "id", hex);
	json_out_string(j, "kind", encode_kind_names[r->kind]);
	switch (r->kind) {
	case ENCODE_READING:
		json_out_string(j, "device", r->device);
		json_out_string(j, "sensor", r->sensor);
		json_out_double(j, "ts", r->ts);
		json_out_double(j, "value", r->value);
		if (r->unit != NULL && r->unit[0] != '\0')
			json_out_string(j, "unit", r->unit);
		break;
	case ENCODE_EVENT:
		json_out_string(j, "rule", r->rule);
		if (r->event_kind != NULL)
			json_out_string(j, "event", r->event_kind);
		if (r->device != NULL)
			json_out_string(j, "device", r->device);
		json_out_string(j, "sensor", r->sensor);
		json_out_double(j, "ts", r->ts);
		json_out_double(j, "value", r->value);
		json_out_string(j, "severity", priority_name(r->severity));
		break;
	case ENCODE_SUMMARY:
		json_out_string(j, "device", r->device);
		json_out_string(j, "sensor", r->sensor);
		json_out_double(j, "ts", r->ts);
		json_out_double(j, "period_s", r->period_s);
		json_out_double(j, "min", r->min);
		json_out_double(j, "max", r->max);
		json_out_double(j, "mean", r->mean);
		json_out_double(j, "last", r->last);
		json_out_int(j, "count", r->count);
		if (r->unit != NULL && r->unit[0] != '\0')
			json_out_string(j, "unit", r->unit);
		break;
	}
	json_out_string(j, "priority", priority_name(r->priority));
	if (r->meta != NULL && r->meta[0] != '\0')
		json_out_raw(j, "meta", r->meta);
	json_out_object_end(j);
}

void
encode_json_end(struct json_out *j)
{
	json_out_array_end(j);
	json_out_object_end(j);
}

/* Appends s escaped for line protocol: chars in special get a backslash. */
static void
encode_influx_escape(struct json_out *out, const char *s, const char *special)
{
	char c[2] = { 0, 0 };

	for (; *s != '\0'; s++) {
		if (*s == '\n' || *s == '\r')
			continue; /* a newline would end the line */
		if (strchr(special, *s) != NULL || *s == '\\') {
			c[0] = '\\';
			json_out_bytes(out, c, 1);
		}
		c[0] = *s;
		json_out_bytes(out, c, 1);
	}
}

static void
encode_influx_append(struct json_out *out, const char *fmt_value)
{
	json_out_bytes(out, fmt_value, strlen(fmt_value));
}

static void
encode_influx_field(struct json_out *out, const char *name, double v, int first)
{
	char num[32];

	json_out_format_double(num, v);
	if (!first)
		encode_influx_append(out, ",");
	encode_influx_append(out, name);
	encode_influx_append(out, "=");
	/* A whole number gets ".0" so the field stays a float in InfluxDB. */
	encode_influx_append(out, num);
	if (strpbrk(num, ".eEn") == NULL)
		encode_influx_append(out, ".0");
}

void
encode_influx_record(
    struct json_out *out, const char *agent_id, const struct encode_record *r)
{
	char ts[32];

	if (r->kind == ENCODE_EVENT)
		encode_influx_escape(out, "outpost_event", ", ");
	else
		encode_influx_escape(out, r->sensor, ", ");
	encode_influx_append(out, ",agent=");
	encode_influx_escape(out, agent_id, ",= ");
	if (r->device != NULL && r->device[0] != '\0') {
		encode_influx_append(out, ",device=");
		encode_influx_escape(out, r->device, ",= ");
	}
	if (r->unit != NULL && r->unit[0] != '\0') {
		encode_influx_append(out, ",unit=");
		encode_influx_escape(out, r->unit, ",= ");
	}
	if (r->kind == ENCODE_EVENT) {
		encode_influx_append(out, ",rule=");
		encode_influx_escape(out, r->rule, ",= ");
		encode_influx_append(out, ",sensor=");
		encode_influx_escape(out, r->sensor, ",= ");
		encode_influx_append(out, ",severity=");
		encode_influx_append(out, priority_name(r->severity));
	}
	encode_influx_append(out, " ");
	if (r->kind == ENCODE_SUMMARY) {
		encode_influx_field(out, "min", r->min, 1);
		encode_influx_field(out, "max", r->max, 0);
		encode_influx_field(out, "mean", r->mean, 0);
		encode_influx_field(out, "last", r->last, 0);
		encode_influx_field(out, "count", (double)r->count, 0);
	} else
		encode_influx_field(out, "value", r->value, 1);
	/* Nanoseconds, rounded to the microsecond a double holds exactly. */
	snprintf(ts, sizeof ts, " %lld000\n", (long long)llround(r->ts * 1e6));
	encode_influx_append(out, ts);
}

int
encode_gzip_available(void)
{
#ifdef OUTPOST_HAVE_ZLIB
	return 1;
#else
	return 0;
#endif
}

int
encode_gzip(const void *in, size_t len, struct json_out *out)
{
#ifdef OUTPOST_HAVE_ZLIB
	z_stream zs;
	size_t bound;
	int rc;

	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
		ENCODE_GZIP_WINDOW_BITS + 16, ENCODE_GZIP_MEM_LEVEL,
		Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	bound = deflateBound(&zs, (uLong)len) + 32;
	json_out_reset(out);
	json_out_reserve(out, bound);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out->buf;
	zs.avail_out = (uInt)bound;
	rc = deflate(&zs, Z_FINISH);
	out->len = bound - zs.avail_out;
	deflateEnd(&zs);
	return rc == Z_STREAM_END ? 0 : -1;
#else
	(void)in;
	(void)len;
	(void)out;
	return -1;
#endif
}
