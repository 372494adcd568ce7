/*
 * A small MQTT 3.1.1 publisher on the agent's event loop, for rule
 * actions: plain mqtt://host[:port] (no TLS), clean session. It connects
 * when there is something to send, sends what is queued, waits for PUBACK
 * at QoS 1 and disconnects after a while with nothing to send; a failed
 * connection fails what it carried and the next attempt waits out a
 * backoff. Nothing here blocks.
 */
#ifndef OUTPOST_MQTT_PUB_H
#define OUTPOST_MQTT_PUB_H

#include <stddef.h>

struct event_base;
struct mqtt_pub;

/*
 * Called once per mqtt_pub_publish, on the loop: ok = 1 when the broker
 * acknowledged it (QoS 1) or it was written to the connection (QoS 0);
 * else error says why.
 */
typedef void mqtt_pub_done_cb(void *arg, int ok, const char *error);

struct mqtt_pub_opts {
	size_t max_queued; /* messages waiting or unacknowledged (64) */
	double timeout_s;  /* to connect, and for each PUBACK (5) */
	double idle_s;	   /* disconnect after this long idle (30) */
};

/* mqtt://host[:port][/]; 0, or -1 with err. */
int mqtt_pub_url_check(const char *url, char *err, size_t errlen);

/* NULL with err when url is not usable; opts may be NULL. */
struct mqtt_pub *
mqtt_pub_new(struct event_base *, const char *url, const char *client_id,
    const struct mqtt_pub_opts *, char *err, size_t errlen);
/* Takes effect on the next connection. */
void mqtt_pub_set_client_id(struct mqtt_pub *, const char *);
/* Closes at once; what is still queued is reported as not sent. */
void mqtt_pub_free(struct mqtt_pub *);

/*
 * Queues one message (qos 0 or 1). Returns 0 when queued; -1 when
 * refused (queue full, invalid topic), done having been called with the
 * reason.
 */
int mqtt_pub_publish(struct mqtt_pub *, const char *topic, const void *payload,
    size_t len, int qos, mqtt_pub_done_cb *done, void *arg);

size_t mqtt_pub_queued(const struct mqtt_pub *);
const char *mqtt_pub_url(const struct mqtt_pub *);

#endif
