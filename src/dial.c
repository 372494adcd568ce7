/*
 * Dialing: evdns lookup, then a non-blocking connect to each address in
 * turn (EINPROGRESS, wait for writable, read SO_ERROR), remembering why
 * the last one failed. The dial owns its event, lookup, addresses and
 * the socket being tried until it hands a connected socket over; the
 * caller keeps its own timeouts and cancels on them.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "dial.h"
#include "xmalloc.h"

struct dial {
	struct event_base *base;
	struct evdns_base *dns; /* borrowed */
	char *host;
	int port;
	dial_cb *cb;
	void *arg;
	struct event *ev; /* the start, then the wait for writable */
	struct evdns_getaddrinfo_request *dns_req;
	struct evutil_addrinfo *ai;
	struct evutil_addrinfo *ai_next; /* address being tried */
	int fd;				 /* socket being tried */
	char error[320];
	int in_cb;
	int cancelled; /* inside a callback: free once it returns */
};

static void dial_connect_next(struct dial *);

static void
dial_free(struct dial *d)
{
	if (d->dns_req != NULL) {
		/* Calls back at once with EAI_CANCEL, which is ignored. */
		evdns_getaddrinfo_cancel(d->dns_req);
		d->dns_req = NULL;
	}
	if (d->ai != NULL)
		evutil_freeaddrinfo(d->ai);
	if (d->fd != -1)
		close(d->fd);
	event_free(d->ev);
	free(d->host);
	free(d);
}

/*
 * Calls back; 1 when the dial is over (a final event, or cancelled inside
 * the callback) and has been freed, so the caller must not touch it.
 */
static int
dial_notify(
    struct dial *d, enum dial_event event, int fd, enum dial_layer layer)
{
	struct dial_result r;

	memset(&r, 0, sizeof r);
	r.event = event;
	r.fd = fd;
	r.layer = layer;
	r.error = event == DIAL_FAILED ? d->error : "";
	d->in_cb = 1;
	d->cb(&r, d->arg);
	d->in_cb = 0;
	if (event == DIAL_RESOLVED && !d->cancelled)
		return 0;
	dial_free(d);
	return 1;
}

static void
dial_format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
		snprintf(buf, len, "[%s]:%d", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		snprintf(buf, len, "%s:%d", ip, ntohs(s4->sin_port));
	}
}

static void
dial_connected(struct dial *d, int fd)
{
	d->fd = -1; /* the callback's now */
	dial_notify(d, DIAL_CONNECTED, fd, DIAL_LAYER_TCP);
}

/* The socket being tried became writable: connected, or on to the next. */
static void
dial_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	char addr[INET6_ADDRSTRLEN + 8];
	int error = 0;
	socklen_t len = sizeof error;

	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	if (error == 0) {
		dial_connected(d, d->fd);
		return;
	}
	dial_format_addr(d->ai_next->ai_addr, addr, sizeof addr);
	snprintf(d->error, sizeof d->error, "connect to %s: %s", addr,
	    strerror(error));
	close(d->fd);
	d->fd = -1;
	d->ai_next = d->ai_next->ai_next;
	dial_connect_next(d);
}

/* Tries the addresses in turn until one accepts or none is left. */
static void
dial_connect_next(struct dial *d)
{
	struct evutil_addrinfo *ai;
	char addr[INET6_ADDRSTRLEN + 8];
	int fd;

	for (; (ai = d->ai_next) != NULL; d->ai_next = ai->ai_next) {
		dial_format_addr(ai->ai_addr, addr, sizeof addr);
		fd = socket(ai->ai_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			snprintf(d->error, sizeof d->error, "socket: %s",
			    strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			dial_connected(d, fd);
			return;
		}
		if (errno == EINPROGRESS) {
			d->fd = fd;
			event_assign(
			    d->ev, d->base, fd, EV_WRITE, dial_write_cb, d);
			event_add(d->ev, NULL);
			return;
		}
		snprintf(d->error, sizeof d->error, "connect to %s: %s", addr,
		    strerror(errno));
		close(fd);
	}
	if (d->error[0] == '\0')
		snprintf(d->error, sizeof d->error, "no address to connect to");
	dial_notify(d, DIAL_FAILED, -1, DIAL_LAYER_TCP);
}

static void
dial_dns_cb(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct dial *d = arg;

	if (result == EVUTIL_EAI_CANCEL)
		return; /* dial_free() cancelled the lookup */
	d->dns_req = NULL;
	if (result != 0) {
		snprintf(d->error, sizeof d->error, "resolve %s: %s", d->host,
		    evutil_gai_strerror(result));
		dial_notify(d, DIAL_FAILED, -1, DIAL_LAYER_DNS);
		return;
	}
	d->ai = d->ai_next = ai;
	if (dial_notify(d, DIAL_RESOLVED, -1, DIAL_LAYER_TCP))
		return;
	dial_connect_next(d);
}

/* Zero-timeout start, so the callback never runs inside dial_start(). */
static void
dial_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dial *d = arg;
	struct evutil_addrinfo hints;
	struct evdns_getaddrinfo_request *req;
	char port[8];

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	snprintf(port, sizeof port, "%d", d->port);
	/*
	 * Numeric hosts and /etc/hosts answer before this returns (NULL),
	 * and the dial may be gone by then.
	 */
	req = evdns_getaddrinfo(d->dns, d->host, port, &hints, dial_dns_cb, d);
	if (req != NULL)
		d->dns_req = req;
}

struct dial *
dial_start(struct event_base *base, struct evdns_base *dns, const char *host,
    int port, dial_cb *cb, void *arg)
{
	struct dial *d = xcalloc(1, sizeof *d);
	struct timeval zero = { 0, 0 };

	d->base = base;
	d->dns = dns;
	d->host = xstrdup(host);
	d->port = port;
	d->cb = cb;
	d->arg = arg;
	d->fd = -1;
	d->ev = evtimer_new(base, dial_start_cb, d);
	evtimer_add(d->ev, &zero);
	return d;
}

void
dial_cancel(struct dial *d)
{
	if (d == NULL)
		return;
	if (d->in_cb) {
		d->cancelled = 1;
		return;
	}
	dial_free(d);
}
