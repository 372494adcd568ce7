/*
 * Payload decoding shared by the ingest adapters (mqtt, http, file): a bare
 * number, JSON (one reading, an array of readings, or a value picked with a
 * JSON path; SQLite's JSON functions do the parsing), InfluxDB line
 * protocol, or a CSV column. A payload is all or nothing: either every
 * reading in it decodes, or none is handed out and err says why in one line.
 *
 * number: one decimal number, blanks around it allowed (no nan/inf/hex).
 * json with value_path: the number at that path (text, bool, null are
 *   errors); ts from ts_path: Unix seconds as a number, or an ISO-8601 /
 *   RFC 3339 string (no zone = UTC).
 * json without value_path (the POST /ingest body): one reading object
 *   {"sensor":"s","value":1.5,"ts":1717000000.5,"unit":"C","meta":{..}}
 *   or an array of them. value is required; sensor, ts, unit and meta are
 *   optional (the device's sensor and unit, the arrival time); other keys
 *   are ignored. Errors name the 0-based array index: "record 3: value is
 *   not a number".
 * influx: line protocol, one reading per numeric field (float, 12i, 12u);
 *   sensor = measurement, or measurement.field when the field is not
 *   "value"; tags go to meta as a JSON object, except tag "unit"; string and
 *   boolean fields are skipped, a line without a numeric field is an error;
 *   timestamp in ns, optional; '#' comments and blank lines skipped;
 *   backslash escapes ',', '=', ' ' and itself. Errors name the 1-based line.
 * csv: one line; the value is column csv_column; fields may be quoted.
 * Timestamps must be within (0, 1e11) Unix seconds.
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
	double scale;		/* value = raw * scale + offset; 0 means 1 */
	double offset;
	/* Per payload; more is an error; 0 or above the cap: the cap. */
	size_t max_readings;
};

/* The internal cap on readings per payload, whatever max_readings says. */
#define PAYLOAD_MAX_READINGS 10000

struct payload;

/* Decoded readings are handed to cb one by one, after the whole payload
 * decoded; sensor, value, ts (0 = now), unit and meta are set when the
 * payload carries them (the rest is zero). r is borrowed for the call. cb
 * returns 0, or -1 to stop: payload_decode then returns -1 ("stopped by the
 * consumer ..."), the readings before it having been handed out. */
typedef int payload_reading_cb(void *arg, struct reading *r);

struct payload *payload_new(void);
void payload_free(struct payload *);
/* The format names for config keys ("number", "json", "influx", "csv"). */
int payload_format_parse(const char *, enum payload_format *);
const char *payload_format_name(enum payload_format);
/* Returns the number of readings handed out, or -1 with err filled. */
long
payload_decode(struct payload *, const struct payload_opts *, const char *data,
    size_t len, payload_reading_cb *cb, void *arg, char *err, size_t errlen);

#endif
