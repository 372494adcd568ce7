/*
 * Record ids. The hashed record is packed binary (length-prefixed strings,
 * big-endian IEEE 754 doubles): no number-to-text conversion, so the id
 * costs well under a microsecond and is the same on every architecture.
 */
#include <stdint.h>
#include <string.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "recid.h"

void
recid_sha256(const void *data, size_t len, unsigned char out[RECORD_ID_LEN])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mbedtls_sha256(data, len, out, 0);
#else
	mbedtls_sha256_ret(data, len, out, 0);
#endif
}

static size_t
recid_put_string(unsigned char *p, const char *s, size_t max)
{
	size_t len = strnlen(s, max);

	p[0] = (unsigned char)(len >> 8);
	p[1] = (unsigned char)len;
	memcpy(p + 2, s, len);
	return 2 + len;
}

static size_t
recid_put_double(unsigned char *p, double v)
{
	uint64_t bits;
	int i;

	if (v == 0)
		v = 0; /* -0.0 and 0.0 are the same reading */
	memcpy(&bits, &v, sizeof bits);
	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)bits;
		bits >>= 8;
	}
	return 8;
}

void
recid_reading(const char *agent_id, struct reading *r)
{
	unsigned char
	    buf[2 + 256 + 2 + READING_DEVICE_MAX + 2 + READING_SENSOR_MAX + 16];
	size_t n = 0;

	n += recid_put_string(buf + n, agent_id, 256);
	n += recid_put_string(buf + n, r->device, READING_DEVICE_MAX);
	n += recid_put_string(buf + n, r->sensor, READING_SENSOR_MAX);
	n += recid_put_double(buf + n, r->ts);
	n += recid_put_double(buf + n, r->value);
	recid_sha256(buf, n, r->id);
}

static size_t
recid_put_u64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
	return 8;
}

/*
 * The packings differ in what follows the three leading strings (16
 * bytes; a fourth string and 16 bytes), so no two kinds of record can
 * hash the same bytes.
 */
void
recid_reading_mono(const char *agent_id, const char *boot_id, struct reading *r)
{
	unsigned char buf[2 + 256 + 2 + READING_DEVICE_MAX + 2 +
	    READING_SENSOR_MAX + 2 + 64 + 16];
	size_t n = 0;

	n += recid_put_string(buf + n, agent_id, 256);
	n += recid_put_string(buf + n, r->device, READING_DEVICE_MAX);
	n += recid_put_string(buf + n, r->sensor, READING_SENSOR_MAX);
	n += recid_put_string(buf + n, boot_id, 64);
	n += recid_put_u64(buf + n, r->mono_ns);
	n += recid_put_double(buf + n, r->value);
	recid_sha256(buf, n, r->id);
}

void
recid_summary(const char *agent_id, const char *device, const char *sensor,
    double period_start, double period_s, unsigned char out[RECORD_ID_LEN])
{
	unsigned char buf[2 + 256 + 2 + READING_DEVICE_MAX + 2 +
	    READING_SENSOR_MAX + 2 + 7 + 16];
	size_t n = 0;

	n += recid_put_string(buf + n, agent_id, 256);
	n += recid_put_string(buf + n, device, READING_DEVICE_MAX);
	n += recid_put_string(buf + n, sensor, READING_SENSOR_MAX);
	n += recid_put_string(buf + n, "summary", 7);
	n += recid_put_double(buf + n, period_start);
	n += recid_put_double(buf + n, period_s);
	recid_sha256(buf, n, out);
}

void
recid_hex(const unsigned char id[RECORD_ID_LEN], char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < RECORD_ID_LEN; i++) {
		hex[2 * i] = digits[id[i] >> 4];
		hex[2 * i + 1] = digits[id[i] & 0xf];
	}
	hex[64] = '\0';
}
