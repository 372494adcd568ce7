/*
 * The health port (evhttp): /health, /health/live, /metrics, CORS
 * preflight and the admin endpoints. Reads state through agent accessors;
 * changes nothing except through the agent's admin entry points.
 */
#ifndef OUTPOST_HEALTH_H
#define OUTPOST_HEALTH_H

struct agent;
struct evhttp_request;
struct health;
struct json_out;
struct pipeline_stats;
struct store_queue_stats;

enum health_status {
	HEALTH_HEALTHY,
	HEALTH_DEGRADED,
	HEALTH_UNHEALTHY,
};

/* Binds listen ("host:port"); NULL with *cause on failure. */
struct health *health_new(struct agent *, const char *listen, char **cause);
void health_free(struct health *);
/*
 * POST /ingest goes to cb (the http push device), which must end the
 * request with exactly one reply, now or once its readings are committed.
 * cb NULL: /ingest answers 404.
 */
typedef void health_ingest_cb(struct evhttp_request *, void *arg);
void health_set_ingest(struct health *, health_ingest_cb *cb, void *arg);
/* The JSON document of GET /health, and its status. */
enum health_status health_render(struct agent *, struct json_out *);
const char *health_status_name(enum health_status);
/*
 * The status from figures the caller already has (metrics): qs is NULL
 * when the queue could not be read.
 */
enum health_status health_evaluate(struct agent *,
    const struct pipeline_stats *, const struct store_queue_stats *);

#endif
