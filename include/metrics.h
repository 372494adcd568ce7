/*
 * Prometheus text exposition (0.0.4) and the JSON system view of /metrics,
 * rendered from agent accessors on each scrape.
 */
#ifndef OUTPOST_METRICS_H
#define OUTPOST_METRICS_H

struct agent;
struct evbuffer;
struct json_out;
struct sysinfo_snapshot;

void metrics_render_prometheus(struct agent *, struct evbuffer *);
/* The whole JSON document of GET /metrics?format=json. */
void metrics_render_system_json(struct agent *, struct json_out *);
/*
 * The members of a "system" object (cpu, memory, disk, uptime, load,
 * thermal) into an object the caller opened; absent sources are null.
 */
void metrics_system_fields(struct json_out *, const struct sysinfo_snapshot *);

#endif
