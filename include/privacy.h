/*
 * The privacy firewall, run on every reading before it is buffered: sensor
 * deny and allow lists (globs), metadata keys removed (redact_meta) or
 * their values replaced by a keyed hash (hash_meta: HMAC-SHA256, hex),
 * values rounded to a step (quantize). What it refuses never reaches the
 * store, the WAL or the uplink. Counts how many readings each rule touched.
 */
#ifndef OUTPOST_PRIVACY_H
#define OUTPOST_PRIVACY_H

#include <stddef.h>

#include "reading.h"

struct config;
struct json_out;
struct privacy;

enum privacy_kind {
	PRIVACY_DENY,	  /* count: readings dropped by this glob */
	PRIVACY_ALLOW,	  /* one entry: readings no allow glob matched */
	PRIVACY_REDACT,	  /* count: readings that lost this meta key */
	PRIVACY_HASH,	  /* count: readings whose key was hashed */
	PRIVACY_QUANTIZE, /* count: readings rounded by this glob */
};

struct privacy_rule_stat {
	enum privacy_kind kind;
	const char *pattern; /* glob; allow: the globs, comma-separated */
	const char *label;   /* "deny:gps.*", "allow", "hash:operator" */
	unsigned long long count;
};

struct privacy_stats {
	int enabled;
	size_t rules;
	unsigned long long dropped;	 /* deny + allow */
	unsigned long long meta_invalid; /* meta not an object: removed */
	unsigned long long
	    hash_overflow; /* hashed value did not fit: removed */
};

/*
 * Builds the firewall from cfg->privacy (validated by config.c). NULL with
 * *cause when the HMAC cannot be set up. The key is copied and wiped on
 * free; it is never logged.
 */
struct privacy *privacy_new(const struct config *, char **cause);
void privacy_free(struct privacy *);
/* Counters of old's rules carry over to same kind and pattern in p. */
void privacy_carry(struct privacy *p, const struct privacy *old);

/*
 * The admission step: 0 keeps r (its value and meta may have changed), -1
 * drops it. Meta that is not a JSON object is removed whole when any meta
 * rule exists (it cannot be shown to be clean).
 */
int privacy_admit(struct privacy *, struct reading *r);

void privacy_stats(const struct privacy *, struct privacy_stats *);
size_t privacy_rule_count(const struct privacy *);
int
privacy_rule_stat(const struct privacy *, size_t i, struct privacy_rule_stat *);
const char *privacy_kind_name(enum privacy_kind);
/* The members of /health's "privacy" object, into an object already open. */
void privacy_status(const struct privacy *, struct json_out *);

/* Rounds v to the nearest multiple of step (step > 0). */
double privacy_quantize(double v, double step);
/* HMAC-SHA256 of data under key as 64 hex characters and a NUL. */
int privacy_hmac_hex(
    const void *key, size_t keylen, const void *data, size_t len, char hex[65]);

#endif
