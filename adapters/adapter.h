/*
 * One input kind per file behind one small ops table. An adapter knows
 * nothing of SQLite, the uplink or the health port: it hands readings to its
 * pipeline source and, for acknowledged sources, gets a callback once they
 * are durable.
 */
#ifndef OUTPOST_ADAPTER_H
#define OUTPOST_ADAPTER_H

#include <stddef.h>

#include "config.h"
#include "pipeline.h"

struct adapter;
struct event_base;
struct evhttp_request;
struct json_out;

/*
 * States and legal transitions:
 *   IDLE -> CONNECTING -> CONNECTED -> ERROR -> CONNECTING ...
 *   IDLE -> CONNECTED (polled sources), any -> STOPPED.
 */
enum adapter_state {
	ADAPTER_IDLE,
	ADAPTER_CONNECTING,
	ADAPTER_CONNECTED,
	ADAPTER_ERROR,
	ADAPTER_STOPPED,
};

struct adapter_ops {
	const char *type; /* "sim", "mqtt", ... */
	/* Parse and validate only: read keys with cfg_get_*(cfg, ...). */
	int (*configure)(struct adapter *, struct config *,
	    const struct cfg_device *, char **cause);
	int (*start)(struct adapter *); /* arm events on a->base */
	void (*stop)(struct adapter *); /* idempotent */
	void (*free)(struct adapter *); /* the private part */
	void (*status)(const struct adapter *, struct json_out *);
	/*
	 * Optional: POST /ingest on the health port, for push devices. Must
	 * end req with exactly one reply (after the commit, for a 204).
	 */
	void (*ingest)(struct adapter *, struct evhttp_request *req);
};

struct adapter {
	const struct adapter_ops *ops;
	char *name;
	const struct cfg_device *dev; /* owned by the config */
	struct event_base *base;      /* set before start */
	struct pipeline_src *src;     /* set before start */
	enum adapter_state state;
	unsigned long long readings; /* handed to the pipeline */
	unsigned long long errors;
	double last_reading_ts; /* 0 = never */
	char last_error[128];
	void *priv; /* the ops' own state */
};

/* Looks the type up in the registry; NULL if unknown. */
const struct adapter_ops *adapter_lookup(const char *type);
/* The registered types, comma-separated, for error messages. */
const char *adapter_types(void);

/*
 * Creates and configures; NULL on a configuration problem, which is recorded
 * in cfg->errors (and *cause, for problems outside the config).
 */
struct adapter *
adapter_new(struct config *, const struct cfg_device *, char **cause);
int adapter_start(struct adapter *, struct event_base *, struct pipeline_src *);
void adapter_stop(struct adapter *);
void adapter_free(struct adapter *);
void adapter_set_state(struct adapter *, enum adapter_state);
const char *adapter_state_name(enum adapter_state);
/* Counts an error, keeps its text, logs it (rate-limited by the logger). */
void adapter_error(struct adapter *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Fills device, unit, priority and timestamps of r from the device config
 * and submits it; the adapter sets sensor and value (sensor defaults to the
 * configured one when empty).
 */
int adapter_submit(
    struct adapter *, struct reading *r, pipeline_done_cb *done, void *arg);
/* Wall-clock now, Unix seconds. */
double adapter_now(void);

extern const struct adapter_ops adapter_sim_ops;
extern const struct adapter_ops adapter_system_ops;
extern const struct adapter_ops adapter_mqtt_ops;
extern const struct adapter_ops adapter_http_ops;
extern const struct adapter_ops adapter_file_ops;

#endif
