/*
 * Fuzzes payload decoding. The first byte picks the format (and, for JSON,
 * whether a value path is used); the rest is the payload. Every reading
 * handed out must have a finite value, terminated strings and a meta that
 * is empty or an object, and a failed decode must hand out nothing.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct payload *fuzz_payload;

static int
fuzz_reading_cb(void *arg, struct reading *r)
{
	size_t *n = arg;
	size_t ml;

	if (!isfinite(r->value) || !isfinite(r->ts) || r->ts < 0)
		abort();
	if (memchr(r->sensor, '\0', sizeof r->sensor) == NULL ||
	    memchr(r->unit, '\0', sizeof r->unit) == NULL ||
	    memchr(r->meta, '\0', sizeof r->meta) == NULL)
		abort();
	ml = strlen(r->meta);
	if (ml > 0 && (r->meta[0] != '{' || r->meta[ml - 1] != '}'))
		abort();
	(*n)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct payload_opts o;
	char err[256];
	size_t n = 0;
	long rc;

	if (size < 1)
		return 0;
	if (fuzz_payload == NULL && (fuzz_payload = payload_new()) == NULL)
		abort();
	memset(&o, 0, sizeof o);
	switch (data[0] % 6) {
	case 0:
		o.format = PAYLOAD_JSON;
		break;
	case 1:
		o.format = PAYLOAD_JSON;
		o.value_path = "$.value";
		o.ts_path = "$.ts";
		break;
	case 2:
		o.format = PAYLOAD_INFLUX;
		break;
	case 3:
		o.format = PAYLOAD_NUMBER;
		o.scale = 1e300;
		break;
	case 4:
		o.format = PAYLOAD_CSV;
		o.csv_column = (data[0] >> 4) + 1;
		o.csv_separator = (data[0] & 0x08) ? ';' : ',';
		break;
	default:
		o.format = PAYLOAD_INFLUX;
		o.max_readings = (size_t)(data[0] >> 4) + 1;
		break;
	}
	err[0] = '\0';
	rc = payload_decode(fuzz_payload, &o, (const char *)data + 1, size - 1,
	    fuzz_reading_cb, &n, err, sizeof err);
	if (rc == -1 && (n != 0 || err[0] == '\0' || strchr(err, '\n') != NULL))
		abort();
	if (rc >= 0 && (size_t)rc != n)
		abort();
	if (o.max_readings > 0 && n > o.max_readings)
		abort();
	return 0;
}
