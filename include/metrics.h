/*
 * Prometheus text exposition (0.0.4) and the JSON system view of /metrics,
 * rendered from agent accessors on each scrape.
 */
#ifndef OUTPOST_METRICS_H
#define OUTPOST_METRICS_H

struct agent;
struct evbuffer;
struct json_out;

void	 metrics_render_prometheus(struct agent *, struct evbuffer *);
void	 metrics_render_system_json(struct agent *, struct json_out *);

#endif
