/*
 * The uplink: when to upload and what happens after. Flushes on a timer,
 * when a batch is pending, after recovering and on admin request; claims
 * a batch from the spool, encodes it, POSTs it with the http client, and
 * acks, retries with jittered exponential backoff, or dead-letters.
 * A circuit breaker stops hammering a dead collector; a daily byte budget
 * holds back all but urgent records on metered links.
 *
 * Connection states and their legal transitions:
 *   DISABLED (cloud off, final)
 *   DISCONNECTED -> CONNECTING -> CONNECTED | ERROR
 *   CONNECTED -> CONNECTING (new connection) | ERROR
 *   ERROR -> CONNECTING (retry or probe)
 * Breaker: CLOSED -> OPEN (failure_threshold failures in a row)
 *   -> HALF_OPEN (after recovery_timeout, exactly one probe)
 *   -> CLOSED (probe succeeded) | OPEN (probe failed).
 */
#ifndef OUTPOST_UPLINK_H
#define OUTPOST_UPLINK_H

#include <stddef.h>
#include <stdint.h>

#include "reading.h"

struct config;
struct event_base;
struct json_out;
struct spool;
struct store;
struct uplink;

enum uplink_state {
	UPLINK_DISABLED,
	UPLINK_DISCONNECTED,
	UPLINK_CONNECTING,
	UPLINK_CONNECTED,
	UPLINK_ERROR,
};

enum uplink_breaker {
	UPLINK_BREAKER_CLOSED,
	UPLINK_BREAKER_OPEN,
	UPLINK_BREAKER_HALF_OPEN,
};

/* Upload results, for /metrics. */
enum uplink_result {
	UPLINK_RESULT_OK,
	UPLINK_RESULT_RETRY,	/* 408, 429, 5xx */
	UPLINK_RESULT_REJECTED, /* other 4xx: dead-lettered */
	UPLINK_RESULT_ERROR,	/* no usable answer: dns, tcp, tls, http */
	UPLINK_NRESULTS,
};

#define UPLINK_DURATION_BUCKETS 10

struct uplink_stats {
	enum uplink_state state;
	double since;	     /* Unix s of the last change */
	double last_success; /* 0 = never */
	unsigned long long consecutive_failures;
	const char *last_error_layer; /* NULL = none */
	const char *last_error;
	enum uplink_breaker breaker;
	unsigned long long uploads[UPLINK_NRESULTS];
	unsigned long long records_sent;
	unsigned long long records_dead;
	unsigned long long bytes_sent; /* request bodies as sent */
	unsigned long long wire_bytes; /* socket bytes, TLS included */
	/* Upload duration histogram: cumulative counts per bucket bound. */
	const double *duration_bounds; /* seconds, ascending */
	unsigned long long duration_counts[UPLINK_DURATION_BUCKETS + 1];
	double duration_sum;
	unsigned long long in_flight; /* records of the open request */
	double next_attempt_in_s;     /* -1 = none planned */
	long long budget_bytes;	      /* daily budget, 0 = none */
	long long budget_used;	      /* bytes today (UTC) */
	long long ca_expiry;	      /* Unix s, -1 = unknown */
	long long cert_expiry;
};

/* NULL with *cause when TLS material cannot be loaded. */
struct uplink *uplink_new(struct event_base *, struct store *, struct spool *,
    const struct config *, char **cause);
void uplink_free(struct uplink *);
/* Applies a reloaded config: -1 with *cause and the old one kept. */
int uplink_reconfigure(struct uplink *, const struct config *, char **cause);
/* Upload now if allowed (not in backoff, breaker not open). */
void uplink_flush(struct uplink *, const char *reason);
/* The pipeline committed n records: flush when a batch is waiting. */
void uplink_committed(struct uplink *, size_t n);
void uplink_stats(const struct uplink *, struct uplink_stats *);
const char *uplink_state_name(enum uplink_state);
const char *uplink_breaker_name(enum uplink_breaker);

#endif
