/*
 * Payload decoding shared by the ingest adapters (mqtt, http, file): a bare
 * number, JSON (one reading, an array of readings, or a value picked with a
 * JSON path; SQLite's JSON functions do the parsing), InfluxDB line
 * protocol, or a CSV column. A payload is all or nothing: either every
 * reading in it decodes, or none is handed out and err says why in one line.
 */
#ifndef OUTPOST_PAYLOAD_H
#define OUTPOST_PAYLOAD_H

#include <stddef.h>

#include "reading.h"

enum payload_format {
	PAYLOAD_NUMBER,
	PAYLOAD_JSON,
	PAYLOAD_INFLUX,
	PAYLOAD_CSV,
};

struct payload_opts {
	enum payload_format format;
	const char *value_path; /* JSON: "$.temp"; NULL = whole reading(s) */
	const char *ts_path;	/* JSON: optional timestamp (Unix s) */
	int csv_column;		/* CSV: 1-based column of the value */
	char csv_separator;	/* CSV: ',' by default */
	double scale;		/* value = raw * scale + offset */
	double offset;
	size_t max_readings; /* per payload; more is an error */
};

struct payload;

/* Decoded readings are handed to cb one by one, after the whole payload
 * decoded; sensor, value, ts (0 = now), unit and meta are set when the
 * payload carries them. cb returns 0, or -1 to stop. */
typedef int payload_reading_cb(void *arg, struct reading *r);

struct payload *payload_new(void);
void payload_free(struct payload *);
/* The format names for config keys ("number", "json", "influx", "csv"). */
int payload_format_parse(const char *, enum payload_format *);
/* Returns the number of readings handed out, or -1 with err filled. */
long
payload_decode(struct payload *, const struct payload_opts *, const char *data,
    size_t len, payload_reading_cb *cb, void *arg, char *err, size_t errlen);

#endif
