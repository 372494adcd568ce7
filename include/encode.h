/*
 * Batch encoders for the upload wire formats: the JSON document of
 * CONTRACT.md and InfluxDB line protocol, plus optional gzip. They turn
 * records into bytes and know nothing of the store or the network.
 */
#ifndef OUTPOST_ENCODE_H
#define OUTPOST_ENCODE_H

#include <stddef.h>

#include "json_out.h"
#include "reading.h"

enum encode_kind {
	ENCODE_READING,
	ENCODE_EVENT,
	ENCODE_SUMMARY,
};

/* One record as the spool hands it over; strings are borrowed. */
struct encode_record {
	enum encode_kind kind;
	unsigned char id[RECORD_ID_LEN];
	const char *device;
	const char *sensor;
	double ts;
	double value;
	const char *unit; /* "" = none */
	const char *meta; /* JSON object text, or NULL */
	enum priority priority;
	const char *rule;	/* events */
	const char *event_kind; /* events: "fire" | "clear" */
	enum priority severity; /* events */
	double period_s;	/* summaries: ts is the period start */
	double min, max, mean, last;
	long long count;
};

/* JSON: begin, add records, end. The buffer is the caller's. */
void encode_json_begin(struct json_out *, const char *agent_id, double sent_at);
void encode_json_record(struct json_out *, const struct encode_record *);
void encode_json_end(struct json_out *);

/* Line protocol: appends one line per reading or summary field set. */
void encode_influx_record(
    struct json_out *, const char *agent_id, const struct encode_record *);

/*
 * gzip of len bytes into out (reset first). Returns 0, or -1 when zlib is
 * not compiled in or fails. Memory is bounded (small window, see .c).
 */
int encode_gzip(const void *in, size_t len, struct json_out *out);
int encode_gzip_available(void);

#endif
