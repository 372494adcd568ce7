/*
 * dial against loopback sockets the test makes: a listener, ports bound
 * but not listening (refused at once), a listener whose backlog is full
 * (the connect stays in progress), names from a hosts file, and a DNS
 * responder on 127.0.0.1 that answers NXDOMAIN or stays quiet, so nothing
 * depends on resolv.conf and nothing can hang.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "dial.h"

#define MAX_EVENTS 8

struct ctx {
	struct event_base *base;
	struct evdns_base *dns;
	int dns_fd;
	struct event *dns_ev;
	int dns_quiet; /* read queries, answer none */
	int dns_queries;
	char dir[64];

	struct dial *dial;
	int cancel_on; /* cancel inside the callback of this event, or -1 */
	int nevents;
	enum dial_event events[MAX_EVENTS];
	int fd; /* of DIAL_CONNECTED */
	enum dial_layer layer;
	char error[400];
};

static void
dns_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctx *x = arg;
	unsigned char buf[512];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	ssize_t n;

	n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl);
	if (n < 12)
		return;
	x->dns_queries++;
	if (x->dns_quiet)
		return;
	buf[2] = 0x80 | (buf[2] & 0x79); /* QR, keep opcode and RD */
	buf[3] = 0x80 | 3;		 /* RA, NXDOMAIN */
	memset(buf + 6, 0, 6);		 /* no answers */
	sendto(fd, buf, n, 0, (struct sockaddr *)&ss, sl);
}

static int
ctx_setup(void **state)
{
	struct ctx *x = calloc(1, sizeof *x);
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	char ns[64], hosts[128];
	FILE *f;

	snprintf(x->dir, sizeof x->dir, "/tmp/test_dial.XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(hosts, sizeof hosts, "%s/hosts", x->dir);
	assert_non_null(f = fopen(hosts, "w"));
	/* Two addresses, tried in this order. */
	fprintf(f, "127.0.0.2 two.test\n127.0.0.1 two.test\n");
	fclose(f);

	x->base = event_base_new();
	x->dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(
	    bind(x->dns_fd, (struct sockaddr *)&sin, sizeof sin), 0);
	getsockname(x->dns_fd, (struct sockaddr *)&sin, &len);
	x->dns_ev =
	    event_new(x->base, x->dns_fd, EV_READ | EV_PERSIST, dns_read_cb, x);
	event_add(x->dns_ev, NULL);

	x->dns = evdns_base_new(x->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	assert_int_equal(evdns_base_load_hosts(x->dns, hosts), 0);
	snprintf(ns, sizeof ns, "127.0.0.1:%d", ntohs(sin.sin_port));
	assert_int_equal(evdns_base_nameserver_ip_add(x->dns, ns), 0);
	/* A lost answer fails within a second, whatever the test does. */
	assert_int_equal(evdns_base_set_option(x->dns, "timeout:", "0.5"), 0);
	assert_int_equal(evdns_base_set_option(x->dns, "attempts:", "1"), 0);

	x->cancel_on = -1;
	x->fd = -1;
	*state = x;
	return 0;
}

static int
ctx_teardown(void **state)
{
	struct ctx *x = *state;
	char path[128];

	if (x->fd != -1)
		close(x->fd);
	evdns_base_free(x->dns, 0);
	event_free(x->dns_ev);
	close(x->dns_fd);
	event_base_free(x->base);
	snprintf(path, sizeof path, "%s/hosts", x->dir);
	unlink(path);
	rmdir(x->dir);
	free(x);
	return 0;
}

static void
record_cb(const struct dial_result *r, void *arg)
{
	struct ctx *x = arg;

	assert_true(x->nevents < MAX_EVENTS);
	x->events[x->nevents++] = r->event;
	assert_non_null(r->error);
	switch (r->event) {
	case DIAL_RESOLVED:
		assert_int_equal(r->fd, -1);
		assert_string_equal(r->error, "");
		break;
	case DIAL_CONNECTED:
		assert_true(r->fd >= 0);
		assert_string_equal(r->error, "");
		x->fd = r->fd;
		break;
	case DIAL_FAILED:
		assert_int_equal(r->fd, -1);
		x->layer = r->layer;
		snprintf(x->error, sizeof x->error, "%s", r->error);
		break;
	}
	if ((int)r->event == x->cancel_on) {
		dial_cancel(x->dial);
		x->dial = NULL;
	}
	if (r->event != DIAL_RESOLVED)
		x->dial = NULL;
}

static int
is_final(const struct ctx *x)
{
	return x->nevents > 0 && x->events[x->nevents - 1] != DIAL_RESOLVED;
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	int *fired = arg;

	*fired = 1;
}

/* Runs the loop until want(x) or for seconds; 1 when want(x) came true. */
static int
run(struct ctx *x, int (*want)(const struct ctx *), double seconds)
{
	struct timeval tv;
	struct event *guard;
	int fired = 0;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - tv.tv_sec) * 1e6);
	guard = evtimer_new(x->base, guard_cb, &fired);
	evtimer_add(guard, &tv);
	while (!fired && (want == NULL || !want(x)))
		event_base_loop(x->base, EVLOOP_ONCE);
	event_free(guard);
	return want != NULL && want(x);
}

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n - 1; /* the directory's own */
}

/* A TCP socket bound on ip:port (0: any), listening with backlog >= 0. */
static int
tcp_socket(int family, const char *ip, int port, int backlog, int *bound)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof ss);
	if (family == AF_INET6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		len = sizeof *s6;
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
		len = sizeof *s4;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	if (backlog >= 0)
		assert_int_equal(listen(fd, backlog), 0);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*bound = ntohs(family == AF_INET6 ? s6->sin6_port : s4->sin_port);
	return fd;
}

static int
peer_port(int fd, char *ip, size_t len)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;

	assert_int_equal(getpeername(fd, (struct sockaddr *)&sin, &sl), 0);
	inet_ntop(AF_INET, &sin.sin_addr, ip, len);
	return ntohs(sin.sin_port);
}

static void
test_connect_ok(void **state)
{
	struct ctx *x = *state;
	char ip[INET_ADDRSTRLEN];
	int lfd, port, afd, fds = open_fds();

	lfd = tcp_socket(AF_INET, "127.0.0.1", 0, 8, &port);
	x->dial = dial_start(x->base, x->dns, "127.0.0.1", port, record_cb, x);
	assert_non_null(x->dial);
	/* Never calls back from inside dial_start(). */
	assert_int_equal(x->nevents, 0);
	assert_true(run(x, is_final, 5));
	assert_int_equal(x->nevents, 2);
	assert_int_equal(x->events[0], DIAL_RESOLVED);
	assert_int_equal(x->events[1], DIAL_CONNECTED);
	assert_int_equal(peer_port(x->fd, ip, sizeof ip), port);
	assert_string_equal(ip, "127.0.0.1");
	assert_true(fcntl(x->fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(x->fd, F_GETFD) & FD_CLOEXEC);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	assert_int_equal(write(x->fd, "hi", 2), 2);
	close(afd);
	close(lfd);
	close(x->fd);
	x->fd = -1;
	/* The fd handed over was the only one left open. */
	assert_int_equal(open_fds(), fds);
	run(x, NULL, 0.05);
	assert_int_equal(x->nevents, 2);
}

static void
test_connect_refused(void **state)
{
	struct ctx *x = *state;
	char want[128];
	int hold, port, fds;

	/* Bound but not listening: the port is ours and refuses. */
	hold = tcp_socket(AF_INET, "127.0.0.1", 0, -1, &port);
	fds = open_fds();
	x->dial = dial_start(x->base, x->dns, "127.0.0.1", port, record_cb, x);
	assert_true(run(x, is_final, 5));
	assert_int_equal(x->nevents, 2);
	assert_int_equal(x->events[0], DIAL_RESOLVED);
	assert_int_equal(x->events[1], DIAL_FAILED);
	assert_int_equal(x->layer, DIAL_LAYER_TCP);
	snprintf(want, sizeof want,
	    "connect to 127.0.0.1:%d: Connection refused", port);
	assert_string_equal(x->error, want);
	assert_int_equal(open_fds(), fds);
	close(hold);
}

static void
test_ipv6_refused(void **state)
{
	struct ctx *x = *state;
	char want[128];
	int hold, port;

	hold = tcp_socket(AF_INET6, "::1", 0, -1, &port);
	x->dial = dial_start(x->base, x->dns, "::1", port, record_cb, x);
	assert_true(run(x, is_final, 5));
	assert_int_equal(x->events[x->nevents - 1], DIAL_FAILED);
	assert_int_equal(x->layer, DIAL_LAYER_TCP);
	snprintf(
	    want, sizeof want, "connect to [::1]:%d: Connection refused", port);
	assert_string_equal(x->error, want);
	close(hold);
}

/* two.test is 127.0.0.2 (refuses), then 127.0.0.1 (listens). */
static void
test_next_address(void **state)
{
	struct ctx *x = *state;
	char ip[INET_ADDRSTRLEN];
	int lfd, hold, port, port2;

	lfd = tcp_socket(AF_INET, "127.0.0.1", 0, 8, &port);
	hold = tcp_socket(AF_INET, "127.0.0.2", port, -1, &port2);
	x->dial = dial_start(x->base, x->dns, "two.test", port, record_cb, x);
	assert_true(run(x, is_final, 5));
	assert_int_equal(x->nevents, 2);
	assert_int_equal(x->events[0], DIAL_RESOLVED);
	assert_int_equal(x->events[1], DIAL_CONNECTED);
	assert_int_equal(peer_port(x->fd, ip, sizeof ip), port);
	assert_string_equal(ip, "127.0.0.1");
	/* From the hosts file: no DNS query. */
	assert_int_equal(x->dns_queries, 0);
	close(hold);
	close(lfd);
}

/* Every address refuses: the error is the last one's. */
static void
test_all_refused(void **state)
{
	struct ctx *x = *state;
	char want[128];
	int hold1, hold2, port, port2, fds;

	hold1 = tcp_socket(AF_INET, "127.0.0.1", 0, -1, &port);
	hold2 = tcp_socket(AF_INET, "127.0.0.2", port, -1, &port2);
	fds = open_fds();
	x->dial = dial_start(x->base, x->dns, "two.test", port, record_cb, x);
	assert_true(run(x, is_final, 5));
	assert_int_equal(x->events[x->nevents - 1], DIAL_FAILED);
	assert_int_equal(x->layer, DIAL_LAYER_TCP);
	snprintf(want, sizeof want,
	    "connect to 127.0.0.1:%d: Connection refused", port);
	assert_string_equal(x->error, want);
	assert_int_equal(open_fds(), fds);
	close(hold1);
	close(hold2);
}

/* No socket can be had: every address says so, and the dial fails. */
static void
test_socket_fails(void **state)
{
	struct ctx *x = *state;
	struct rlimit old, rl;
	int lowest;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	x->dial = dial_start(x->base, x->dns, "two.test", 9, record_cb, x);
	lowest = dup(0);
	close(lowest);
	rl = old;
	rl.rlim_cur = lowest; /* the next fd would be above the limit */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	run(x, is_final, 5);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_true(is_final(x));
	assert_int_equal(x->events[x->nevents - 1], DIAL_FAILED);
	assert_int_equal(x->layer, DIAL_LAYER_TCP);
	assert_string_equal(x->error, "socket: Too many open files");
}

static void
test_dns_failure(void **state)
{
	struct ctx *x = *state;

	x->dial = dial_start(
	    x->base, x->dns, "nonexistent.invalid", 80, record_cb, x);
	assert_true(run(x, is_final, 5));
	/* No DIAL_RESOLVED: the failure is the only event. */
	assert_int_equal(x->nevents, 1);
	assert_int_equal(x->events[0], DIAL_FAILED);
	assert_int_equal(x->layer, DIAL_LAYER_DNS);
	assert_true(x->dns_queries >= 1);
	assert_non_null(strstr(x->error, "resolve nonexistent.invalid: "));
	assert_true(strlen(x->error) > strlen("resolve nonexistent.invalid: "));
}

/* The responder stays quiet: evdns gives up by its own timeout. */
static void
test_dns_no_answer(void **state)
{
	struct ctx *x = *state;

	x->dns_quiet = 1;
	x->dial =
	    dial_start(x->base, x->dns, "quiet.invalid", 80, record_cb, x);
	assert_true(run(x, is_final, 5));
	assert_int_equal(x->nevents, 1);
	assert_int_equal(x->events[0], DIAL_FAILED);
	assert_int_equal(x->layer, DIAL_LAYER_DNS);
	assert_non_null(strstr(x->error, "resolve quiet.invalid: "));
}

static int
has_query(const struct ctx *x)
{
	return x->dns_queries > 0;
}

static void
test_cancel_resolving(void **state)
{
	struct ctx *x = *state;
	int fds = open_fds();

	x->dns_quiet = 1;
	x->dial =
	    dial_start(x->base, x->dns, "quiet.invalid", 80, record_cb, x);
	assert_true(run(x, has_query, 5));
	dial_cancel(x->dial);
	x->dial = NULL;
	/* Past evdns's own timeout: nothing calls back. */
	run(x, NULL, 1.2);
	assert_int_equal(x->nevents, 0);
	assert_int_equal(open_fds(), fds);
}

static void
test_cancel_before_start(void **state)
{
	struct ctx *x = *state;

	x->dial = dial_start(x->base, x->dns, "127.0.0.1", 9, record_cb, x);
	dial_cancel(x->dial);
	x->dial = NULL;
	dial_cancel(NULL);
	run(x, NULL, 0.1);
	assert_int_equal(x->nevents, 0);
}

static int
is_resolved(const struct ctx *x)
{
	return x->nevents > 0;
}

/*
 * A listener whose backlog is full drops our SYN, so the connect stays in
 * progress; cancelling then closes the socket and nothing calls back.
 */
static void
test_cancel_connecting(void **state)
{
	struct ctx *x = *state;
	struct sockaddr_in sin;
	int lfd, cfd, port, fds;

	lfd = tcp_socket(AF_INET, "127.0.0.1", 0, 0, &port);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sin, sizeof sin), 0);
	fds = open_fds();
	x->dial = dial_start(x->base, x->dns, "127.0.0.1", port, record_cb, x);
	assert_true(run(x, is_resolved, 5));
	assert_int_equal(x->events[0], DIAL_RESOLVED);
	run(x, is_final, 0.3);
	assert_int_equal(x->nevents, 1); /* still connecting */
	assert_int_equal(open_fds(), fds + 1);
	dial_cancel(x->dial);
	x->dial = NULL;
	assert_int_equal(open_fds(), fds);
	run(x, NULL, 0.3);
	assert_int_equal(x->nevents, 1);
	close(cfd);
	close(lfd);
}

/* Cancelling inside the DIAL_RESOLVED callback: no connect, no callback. */
static void
test_cancel_in_callback(void **state)
{
	struct ctx *x = *state;
	int lfd, port, afd, fds;

	lfd = tcp_socket(AF_INET, "127.0.0.1", 0, 8, &port);
	fds = open_fds();
	x->cancel_on = DIAL_RESOLVED;
	x->dial = dial_start(x->base, x->dns, "127.0.0.1", port, record_cb, x);
	assert_true(run(x, is_resolved, 5));
	run(x, NULL, 0.2);
	assert_int_equal(x->nevents, 1);
	assert_int_equal(open_fds(), fds);
	/* Nothing connected to the listener. */
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	afd = accept(lfd, NULL, NULL);
	assert_int_equal(afd, -1);
	close(lfd);
}

/* Cancelling inside a final callback is harmless; the fd stays ours. */
static void
test_cancel_in_final_callback(void **state)
{
	struct ctx *x = *state;
	int lfd, port, hold;

	lfd = tcp_socket(AF_INET, "127.0.0.1", 0, 8, &port);
	x->cancel_on = DIAL_CONNECTED;
	x->dial = dial_start(x->base, x->dns, "127.0.0.1", port, record_cb, x);
	assert_true(run(x, is_final, 5));
	assert_int_equal(x->events[x->nevents - 1], DIAL_CONNECTED);
	assert_int_equal(fcntl(x->fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(lfd);

	hold = tcp_socket(AF_INET, "127.0.0.1", 0, -1, &port);
	x->nevents = 0;
	x->cancel_on = DIAL_FAILED;
	x->dial = dial_start(x->base, x->dns, "127.0.0.1", port, record_cb, x);
	assert_true(run(x, is_final, 5));
	assert_int_equal(x->events[x->nevents - 1], DIAL_FAILED);
	close(hold);
}

static void
quiet_log_cb(int severity, const char *msg)
{
}

int
main(void)
{
	/* evdns reports the quiet responder; the tests check what matters. */
	event_set_log_callback(quiet_log_cb);
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_connect_ok),
		T(test_connect_refused),
		T(test_ipv6_refused),
		T(test_next_address),
		T(test_all_refused),
		T(test_socket_fails),
		T(test_dns_failure),
		T(test_dns_no_answer),
		T(test_cancel_resolving),
		T(test_cancel_before_start),
		T(test_cancel_connecting),
		T(test_cancel_in_callback),
		T(test_cancel_in_final_callback),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
