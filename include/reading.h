/*
 * One reading as it travels from an adapter to the store: fixed size, so
 * the hot path copies it into a ring slot and never allocates.
 */
#ifndef OUTPOST_READING_H
#define OUTPOST_READING_H

#include <stdint.h>

#define READING_DEVICE_MAX 48
#define READING_SENSOR_MAX 64
#define READING_UNIT_MAX 16
#define READING_META_MAX 192 /* a JSON object, or "" */
#define RECORD_ID_LEN 32     /* SHA-256 */

enum priority {
	PRIORITY_CRITICAL,
	PRIORITY_HIGH,
	PRIORITY_NORMAL,
	PRIORITY_LOW,
	PRIORITY_COUNT,
};

struct reading {
	char device[READING_DEVICE_MAX];
	char sensor[READING_SENSOR_MAX];
	char unit[READING_UNIT_MAX];
	char meta[READING_META_MAX];
	double ts; /* Unix seconds, wall clock */
	double value;
	uint64_t mono_ns; /* CLOCK_MONOTONIC at the reading */
	enum priority priority;
	unsigned char ts_local; /* ts read from our wall clock (adapters) */
	unsigned char unsynced; /* stamped before our clock was trusted */
	unsigned char id[RECORD_ID_LEN]; /* filled by the pipeline */
};

const char *priority_name(enum priority);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int priority_parse(const char *, enum priority *out);

#endif
