/*
 * Dialing a TCP server: resolve a host with evdns, then connect a
 * non-blocking socket to each address in turn until one accepts. A dial
 * owns its lookup, its address list and the socket being tried, and
 * hands the connected socket over. Timeouts, TLS and what is said over
 * the socket are the caller's.
 */
#ifndef OUTPOST_DIAL_H
#define OUTPOST_DIAL_H

struct event_base;
struct evdns_base;
struct dial;

enum dial_event {
	DIAL_RESOLVED,	/* addresses known, connecting now */
	DIAL_CONNECTED, /* final: fd is connected */
	DIAL_FAILED,	/* final: layer and error say why */
};

/* Where a dial failed. */
enum dial_layer {
	DIAL_LAYER_DNS, /* "resolve HOST: ..." */
	DIAL_LAYER_TCP, /* "connect to ADDR: ...", of the last address */
};

struct dial_result {
	enum dial_event event;
	/* DIAL_CONNECTED: non-blocking, close-on-exec; the callback owns it. */
	int fd;
	enum dial_layer layer; /* DIAL_FAILED */
	const char *error;     /* DIAL_FAILED; "" otherwise */
};

/*
 * Runs from the event loop, never inside dial_start(): once with
 * DIAL_RESOLVED, unless resolving fails, then once with a final event.
 * After a final event the dial is gone (it frees itself once the callback
 * returns); dial_cancel() inside any callback is safe.
 */
typedef void dial_cb(const struct dial_result *, void *arg);

/*
 * Starts resolving host (numeric, /etc/hosts or DNS through dns) and
 * connecting to port. dns is borrowed and must outlive the dial.
 */
struct dial *dial_start(struct event_base *, struct evdns_base *dns,
    const char *host, int port, dial_cb *, void *arg);
/*
 * Abandons a dial that has not reached a final event, without calling
 * back, and closes the socket it was trying. NULL is ignored.
 */
void dial_cancel(struct dial *);

#endif
