/*
 * http_client and tlsio against real servers on loopback, started and
 * killed by the test: the Python collector (test/tools/collector.py) in
 * its fault modes, and openssl s_server as a server that is not ours.
 * Certificates are made with the openssl command in a scratch directory;
 * DNS goes to a tiny responder on 127.0.0.1 that answers NXDOMAIN.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <mbedtls/version.h>

#include "http_client.h"
#include "http_response.h"
#include "tlsio.h"

extern char **environ;

/* Scratch directory and tools, shared by every test. */
static char dir[256];
static char python[256];
static char collector_py[1024];

#define MAX_SERVERS 4

struct server {
	pid_t pid;
	int port;
	char stats[320];
	char store[320];
};

struct result {
	int done;
	enum http_layer layer;
	char error[400];
	int status;
	char *body;
	size_t body_len;
	long long retry_after_s;
	int reused;
	int tls_resumed;
	int keep_alive;
	int version;
	double elapsed_s;
	uint64_t bytes_sent;
	uint64_t bytes_received;
	char trailer[64];
	char content_type[64];
};

struct ctx {
	struct event_base *base;
	struct evdns_base *dns;
	int dns_fd;
	struct event *dns_ev;
	int dns_port;
	int dns_queries;
	struct tlsio_config *tls;
	struct http_client *client;
	struct http_client_options opt;
	struct result res;
	int free_in_cb;
	struct server srv[MAX_SERVERS];
	int nsrv;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
path_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, n + 1);
	if (fread(buf, 1, n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int
port_open(int port)
{
	struct sockaddr_in sin;
	int fd, ok;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
	close(fd);
	return ok;
}

static pid_t
spawn(char *const argv[], const char *log)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(
	    &fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		fail_msg("cannot run %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static void
server_stop(struct server *s)
{
	double deadline;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	deadline = now_s() + 3;
	while (waitpid(s->pid, NULL, WNOHANG) == 0) {
		if (now_s() > deadline) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			break;
		}
		usleep(10000);
	}
	s->pid = -1;
}

/* Waits for the server's port (from a port file, or by connecting). */
static void
server_wait(struct server *s, const char *port_file, const char *log)
{
	double deadline = now_s() + 15;
	char *text;

	for (;;) {
		if (port_file != NULL &&
		    (text = read_file(port_file)) != NULL) {
			s->port = atoi(text);
			free(text);
			if (s->port > 0)
				return;
		}
		if (port_file == NULL && port_open(s->port))
			return;
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = -1;
			text = read_file(log);
			fail_msg("server exited at start-up: %s",
			    text != NULL ? text : "");
		}
		if (now_s() > deadline)
			fail_msg("server did not start in time");
		usleep(20000);
	}
}

/*
 * Starts the collector: mode, then "key=value" options among cert=NAME
 * (server certificate and key NAME.crt/NAME.key in the scratch dir),
 * client_ca=FILE, port=N, trickle=S.
 */
static struct server *
collector_start(struct ctx *x, const char *mode, ...)
{
	struct server *s = &x->srv[x->nsrv++];
	char port_file[320], log[320], cert[320], key[320];
	char client_ca[320], port[16], trickle[32];
	char *argv[32];
	const char *opt;
	int n = 0, idx = x->nsrv;
	va_list ap;

	assert_true(x->nsrv <= MAX_SERVERS);
	snprintf(
	    port_file, sizeof port_file, "%s/port.%d.%d", dir, getpid(), idx);
	unlink(port_file);
	snprintf(s->stats, sizeof s->stats, "%s/stats.%d", dir, idx);
	snprintf(s->store, sizeof s->store, "%s/store.%d", dir, idx);
	unlink(s->store);
	snprintf(log, sizeof log, "%s/collector.%d.log", dir, idx);
	argv[n++] = python;
	argv[n++] = collector_py;
	argv[n++] = "--mode";
	argv[n++] = (char *)mode;
	argv[n++] = "--port-file";
	argv[n++] = port_file;
	argv[n++] = "--stats";
	argv[n++] = s->stats;
	argv[n++] = "--store";
	argv[n++] = s->store;
	va_start(ap, mode);
	while ((opt = va_arg(ap, const char *)) != NULL) {
		if (strncmp(opt, "cert=", 5) == 0) {
			snprintf(cert, sizeof cert, "%s/%s.crt", dir, opt + 5);
			snprintf(key, sizeof key, "%s/%s.key", dir, opt + 5);
			argv[n++] = "--cert";
			argv[n++] = cert;
			argv[n++] = "--key";
			argv[n++] = key;
		} else if (strncmp(opt, "client_ca=", 10) == 0) {
			path_in_dir(client_ca, sizeof client_ca, opt + 10);
			argv[n++] = "--client-ca";
			argv[n++] = client_ca;
		} else if (strncmp(opt, "port=", 5) == 0) {
			snprintf(port, sizeof port, "%s", opt + 5);
			argv[n++] = "--port";
			argv[n++] = port;
		} else if (strncmp(opt, "trickle=", 8) == 0) {
			snprintf(trickle, sizeof trickle, "%s", opt + 8);
			argv[n++] = "--trickle-delay";
			argv[n++] = trickle;
		} else
			fail_msg("bad collector option %s", opt);
	}
	va_end(ap);
	argv[n] = NULL;
	s->pid = spawn(argv, log);
	server_wait(s, port_file, log);
	return s;
}

static struct server *
s_server_start(struct ctx *x, const char *cert)
{
	struct server *s = &x->srv[x->nsrv++];
	char accept[64], crt[320], key[320], log[320];
	char *argv[] = { "openssl", "s_server", "-accept", accept, "-cert", crt,
		"-key", key, "-www", "-quiet", NULL };

	s->port = free_port();
	snprintf(accept, sizeof accept, "127.0.0.1:%d", s->port);
	snprintf(crt, sizeof crt, "%s/%s.crt", dir, cert);
	snprintf(key, sizeof key, "%s/%s.key", dir, cert);
	snprintf(log, sizeof log, "%s/s_server.log", dir);
	s->pid = spawn(argv, log);
	server_wait(s, NULL, log);
	return s;
}

static long
stat_of(const struct server *s, const char *key)
{
	char *text = read_file(s->stats), pat[64], *p;
	long v = -1;

	assert_non_null(text);
	snprintf(pat, sizeof pat, "\"%s\": ", key);
	if ((p = strstr(text, pat)) != NULL)
		v = strtol(p + strlen(pat), NULL, 10);
	free(text);
	return v;
}

/* For counters the server bumps after it has answered. */
static long
stat_wait(const struct server *s, const char *key, long want)
{
	double deadline = now_s() + 5;
	long v;

	while ((v = stat_of(s, key)) != want && now_s() < deadline)
		usleep(10000);
	return v;
}

/* The NXDOMAIN responder: echoes the question with RCODE 3. */
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
	char ns[64], hosts[320];
	int i;

	for (i = 0; i < MAX_SERVERS; i++)
		x->srv[i].pid = -1;
	x->base = event_base_new();
	x->dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(
	    bind(x->dns_fd, (struct sockaddr *)&sin, sizeof sin), 0);
	getsockname(x->dns_fd, (struct sockaddr *)&sin, &len);
	x->dns_port = ntohs(sin.sin_port);
	x->dns_ev =
	    event_new(x->base, x->dns_fd, EV_READ | EV_PERSIST, dns_read_cb, x);
	event_add(x->dns_ev, NULL);

	x->dns = evdns_base_new(x->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	path_in_dir(hosts, sizeof hosts, "hosts");
	assert_int_equal(evdns_base_load_hosts(x->dns, hosts), 0);
	snprintf(ns, sizeof ns, "127.0.0.1:%d", x->dns_port);
	assert_int_equal(evdns_base_nameserver_ip_add(x->dns, ns), 0);

	x->opt.dns = x->dns;
	x->opt.connect_timeout_s = 5;
	x->opt.handshake_timeout_s = 5;
	x->opt.response_timeout_s = 5;
	*state = x;
	return 0;
}

static int
ctx_teardown(void **state)
{
	struct ctx *x = *state;
	int i;

	http_client_free(x->client);
	tlsio_config_free(x->tls);
	for (i = 0; i < MAX_SERVERS; i++)
		server_stop(&x->srv[i]);
	evdns_base_free(x->dns, 0);
	event_free(x->dns_ev);
	close(x->dns_fd);
	event_base_free(x->base);
	free(x->res.body);
	free(x);
	return 0;
}

static void
tls_config(struct ctx *x, const char *ca, const char *client, int insecure)
{
	struct tlsio_params p;
	char ca_path[320], crt[320], key[320], err[256];

	memset(&p, 0, sizeof p);
	if (ca != NULL) {
		path_in_dir(ca_path, sizeof ca_path, ca);
		p.ca_file = ca_path;
	}
	if (client != NULL) {
		snprintf(crt, sizeof crt, "%s/%s.crt", dir, client);
		snprintf(key, sizeof key, "%s/%s.key", dir, client);
		p.client_cert = crt;
		p.client_key = key;
	}
	p.insecure = insecure;
	tlsio_config_free(x->tls);
	x->tls = tlsio_config_new(&p, err, sizeof err);
	if (x->tls == NULL)
		fail_msg("tlsio_config_new: %s", err);
	x->opt.tls = x->tls;
}

static void
capture_cb(const struct http_result *r, void *arg)
{
	struct ctx *x = arg;
	struct result *o = &x->res;
	const char *v;

	o->done = 1;
	o->layer = r->layer;
	snprintf(o->error, sizeof o->error, "%s", r->error);
	o->status = r->status;
	free(o->body);
	o->body = calloc(1, r->body_len + 1);
	if (r->body_len > 0)
		memcpy(o->body, r->body, r->body_len);
	o->body_len = r->body_len;
	o->retry_after_s = r->retry_after_s;
	o->reused = r->reused;
	o->tls_resumed = r->tls_resumed;
	o->elapsed_s = r->elapsed_s;
	o->bytes_sent = r->bytes_sent;
	o->bytes_received = r->bytes_received;
	o->trailer[0] = o->content_type[0] = '\0';
	if (r->response != NULL) {
		o->keep_alive = http_response_keep_alive(r->response);
		o->version = http_response_version(r->response);
		if ((v = http_response_trailer(r->response, "X-Records")) !=
		    NULL)
			snprintf(o->trailer, sizeof o->trailer, "%s", v);
		if ((v = http_response_header(r->response, "Content-Type")) !=
		    NULL)
			snprintf(
			    o->content_type, sizeof o->content_type, "%s", v);
	}
	if (x->free_in_cb) {
		/* Allowed: the client frees itself after this returns. */
		http_client_free(x->client);
		x->client = NULL;
	}
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	int *fired = arg;

	*fired = 1;
}

/* Runs one request to completion on the loop. */
static struct result *
request(struct ctx *x, const char *method, const char *url,
    const char *const *headers, const void *body, size_t body_len)
{
	struct http_request req;
	struct timeval tv = { 30, 0 };
	struct event *guard;
	char err[256];
	int fired = 0;

	if (x->client == NULL)
		x->client = http_client_new(x->base, &x->opt);
	memset(&req, 0, sizeof req);
	req.method = method;
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = body_len;
	x->res.done = 0;
	if (http_client_request(
		x->client, &req, capture_cb, x, err, sizeof err) == -1)
		fail_msg("request refused: %s", err);
	/* The callback never runs inside http_client_request(). */
	assert_false(x->res.done);
	assert_true(http_client_busy(x->client));
	guard = evtimer_new(x->base, guard_cb, &fired);
	evtimer_add(guard, &tv);
	while (!x->res.done && !fired)
		event_base_loop(x->base, EVLOOP_ONCE);
	event_free(guard);
	assert_false(fired);
	return &x->res;
}

/* Lets the loop run for a while (idle connections notice closes). */
static void
spin(struct ctx *x, double seconds)
{
	struct timeval tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - tv.tv_sec) * 1e6);
	event_base_loopexit(x->base, &tv);
	event_base_dispatch(x->base);
}

static void
url_of(char *buf, size_t len, const char *scheme, const char *host, int port,
    const char *path)
{
	snprintf(buf, len, "%s://%s:%d%s", scheme, host, port, path);
}

static void
test_url_parse(void **state)
{
	struct http_url u;
	char err[256];

	assert_int_equal(http_url_parse("https://ingest.example.com/v1/b?x=1#f",
			     &u, err, sizeof err),
	    0);
	assert_true(u.tls);
	assert_string_equal(u.host, "ingest.example.com");
	assert_int_equal(u.port, 443);
	assert_string_equal(u.path, "/v1/b?x=1");
	http_url_clear(&u);

	assert_int_equal(
	    http_url_parse("HTTP://[::1]:8080", &u, err, sizeof err), 0);
	assert_false(u.tls);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 8080);
	assert_string_equal(u.path, "/");
	http_url_clear(&u);

	assert_int_equal(
	    http_url_parse("http://10.0.0.1:/?q", &u, err, sizeof err), 0);
	assert_int_equal(u.port, 80);
	assert_string_equal(u.path, "/?q");
	http_url_clear(&u);

	assert_int_equal(http_url_parse("ftp://x/", &u, err, sizeof err), -1);
	assert_string_equal(err, "ftp://x/: not an http:// or https:// URL");
	assert_int_equal(
	    http_url_parse("http://user:pw@x/", &u, err, sizeof err), -1);
	assert_string_equal(
	    err, "http://user:pw@x/: user info in URLs is not supported");
	assert_int_equal(
	    http_url_parse("http://x:99999/", &u, err, sizeof err), -1);
	assert_string_equal(err, "http://x:99999/: bad port");
	assert_int_equal(
	    http_url_parse("http://x:0/", &u, err, sizeof err), -1);
	assert_int_equal(
	    http_url_parse("http://x:8a/", &u, err, sizeof err), -1);
	assert_int_equal(
	    http_url_parse("http:///path", &u, err, sizeof err), -1);
	assert_string_equal(err, "http:///path: bad host");
	assert_int_equal(
	    http_url_parse("http://[::1/", &u, err, sizeof err), -1);
	assert_int_equal(
	    http_url_parse("http://[nothex]/", &u, err, sizeof err), -1);
	assert_int_equal(
	    http_url_parse("http://a b/", &u, err, sizeof err), -1);
	assert_int_equal(
	    http_url_parse("http://x/a b", &u, err, sizeof err), -1);
	assert_string_equal(err, "http://x/a b: bad character in the path");

	assert_string_equal(http_layer_name(HTTP_LAYER_DNS), "dns");
	assert_string_equal(http_layer_name(HTTP_LAYER_TCP), "tcp");
	assert_string_equal(http_layer_name(HTTP_LAYER_TLS), "tls");
	assert_string_equal(http_layer_name(HTTP_LAYER_HTTP), "http");
}

static void
test_request_refused(void **state)
{
	struct ctx *x = *state;
	struct http_request req;
	const char *bad_hdr[] = { "X-A: 1\r\nX-Injected: 2", NULL };
	const char *own_hdr[] = { "content-length: 5", NULL };
	char err[256];

	x->client = http_client_new(x->base, &x->opt);
	memset(&req, 0, sizeof req);
	req.method = "GET";
	req.url = "https://localhost/";
	assert_int_equal(http_client_request(
			     x->client, &req, capture_cb, x, err, sizeof err),
	    -1);
	assert_string_equal(
	    err, "https://localhost/: https needs a TLS configuration");
	req.url = "http://localhost/";
	req.headers = bad_hdr;
	assert_int_equal(http_client_request(
			     x->client, &req, capture_cb, x, err, sizeof err),
	    -1);
	assert_string_equal(err, "bad request header: X-A: 1\r\nX-Injected: 2");
	req.headers = own_hdr;
	assert_int_equal(http_client_request(
			     x->client, &req, capture_cb, x, err, sizeof err),
	    -1);
	assert_string_equal(err, "header Content-Length is set by the client");
	req.headers = NULL;
	req.method = "get";
	assert_int_equal(http_client_request(
			     x->client, &req, capture_cb, x, err, sizeof err),
	    -1);
	assert_string_equal(err, "bad method");
	assert_false(http_client_busy(x->client));
}

static void
test_plain_get_post(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "ok", NULL);
	const char body[] = "{\"agent\":\"t\",\"records\":["
			    "{\"id\":\"aa11\"},{\"id\":\"bb22\"}]}";
	const char *hdr[] = { "Content-Type: application/json",
		"Idempotency-Key: key-plain-1", NULL };
	struct result *r;
	char url[128], *stored;

	url_of(url, sizeof url, "http", "127.0.0.1", s->port, "/anything");
	r = request(x, "GET", url, NULL, NULL, 0);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_string_equal(r->error, "");
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"accepted\": 0}");
	assert_string_equal(r->content_type, "application/json");
	assert_int_equal(r->retry_after_s, -1);
	assert_false(r->reused);

	url_of(url, sizeof url, "http", "localhost", s->port, "/v1/batches");
	r = request(x, "POST", url, hdr, body, sizeof body - 1);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"accepted\": 2}");
	assert_true(r->bytes_sent > sizeof body - 1);
	assert_true(r->bytes_received > strlen(r->body));
	stored = read_file(s->store);
	assert_non_null(stored);
	assert_non_null(strstr(stored, "\"idempotency_key\": \"key-plain-1\""));
	assert_non_null(strstr(stored, "\"ids\": [\"aa11\", \"bb22\"]"));
	assert_non_null(strstr(stored, "\"path\": \"/v1/batches\""));
	free(stored);
	assert_int_equal(stat_of(s, "requests"), 2);
	assert_int_equal(stat_of(s, "stored"), 2);
	/* "localhost" came from the hosts file, not from the DNS server. */
	assert_int_equal(x->dns_queries, 0);
}

static void
test_https_verified_post(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "ok", "cert=server", NULL);
	const char body[] = "{\"records\":[{\"id\":\"cc33\"}]}";
	const char *hdr[] = { "Idempotency-Key: key-tls-1", NULL };
	struct result *r;
	char url[128], *stored;

	tls_config(x, "ca.crt", NULL, 0);
	url_of(url, sizeof url, "https", "localhost", s->port, "/v1/batches");
	r = request(x, "POST", url, hdr, body, sizeof body - 1);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 200);
	assert_false(r->tls_resumed);
	/* Handshake bytes count: far more than the request itself. */
	assert_true(r->bytes_sent > 200);
	assert_true(r->bytes_received > 500);
	stored = read_file(s->store);
	assert_non_null(strstr(stored, "\"idempotency_key\": \"key-tls-1\""));
	assert_non_null(strstr(stored, "\"cc33\""));
	free(stored);
	assert_int_equal(stat_of(s, "tls_handshakes"), 1);
	assert_int_equal(tlsio_config_handshakes(x->tls), 1);
}

static void
test_keep_alive_reuse(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "ok204", "cert=server", NULL);
	struct result *r;
	char url[128];
	int i;

	tls_config(x, "ca.crt", NULL, 0);
	url_of(url, sizeof url, "https", "localhost", s->port, "/v1");
	for (i = 0; i < 3; i++) {
		r = request(x, "POST", url, NULL, "{}", 2);
		assert_int_equal(r->layer, HTTP_LAYER_NONE);
		assert_int_equal(r->status, 204);
		assert_int_equal(r->body_len, 0);
		assert_int_equal(r->reused, i > 0);
		assert_true(http_client_connected(x->client));
	}
	assert_int_equal(stat_of(s, "connections"), 1);
	assert_int_equal(stat_of(s, "requests"), 3);
	assert_int_equal(http_client_connections(x->client), 1);
	assert_int_equal(http_client_requests(x->client), 3);
	assert_int_equal(tlsio_config_handshakes(x->tls), 1);

	/* Connection: close from the server ends the reuse. */
	x->opt.idle_timeout_s = -1;
	http_client_free(x->client);
	x->client = NULL;
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->status, 204);
	assert_false(r->reused);
	assert_false(http_client_connected(x->client));
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_false(r->reused);
	assert_int_equal(stat_of(s, "connections"), 3);
}

static void
test_session_resumption(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "ok", "cert=server", NULL);
	struct result *r;
	char url[128];

	tls_config(x, "ca.crt", NULL, 0);
	url_of(url, sizeof url, "https", "localhost", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->status, 200);
	assert_false(r->tls_resumed);
	http_client_close_idle(x->client);
	assert_false(http_client_connected(x->client));

	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->status, 200);
	assert_false(r->reused);
	assert_true(r->tls_resumed);
	assert_int_equal(tlsio_config_handshakes(x->tls), 2);
	assert_int_equal(tlsio_config_resumptions(x->tls), 1);
	/* The server saw it too. */
	assert_int_equal(stat_of(s, "connections"), 2);
	assert_int_equal(stat_of(s, "tls_resumed"), 1);

	/* Forgetting the session forces a full handshake. */
	http_client_close_idle(x->client);
	tlsio_config_forget_session(x->tls);
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_false(r->tls_resumed);
	assert_int_equal(tlsio_config_resumptions(x->tls), 1);
}

static void
expect_tls_refusal(
    struct ctx *x, const char *cert, const char *host, const char *text)
{
	struct server *s = collector_start(x, "ok", cert, NULL);
	struct result *r;
	char url[128];

	if (x->tls == NULL)
		tls_config(x, "ca.crt", NULL, 0);
	url_of(url, sizeof url, "https", host, s->port, "/v1");
	r = request(x, "POST", url, NULL, "{\"records\":[{\"id\":\"x\"}]}", 24);
	assert_int_equal(r->layer, HTTP_LAYER_TLS);
	assert_int_equal(r->status, 0);
	if (strstr(r->error, text) == NULL)
		fail_msg("\"%s\" not in \"%s\"", text, r->error);
	assert_false(http_client_connected(x->client));
	/* Nothing was sent. */
	assert_int_equal(stat_of(s, "requests"), 0);
	assert_int_equal(stat_of(s, "stored"), 0);
}

static void
test_unknown_ca(void **state)
{
	expect_tls_refusal(*state, "cert=unknown", "localhost",
	    "certificate verification failed for localhost: The certificate "
	    "is not correctly signed by the trusted CA");
}

static void
test_wrong_host(void **state)
{
	expect_tls_refusal(*state, "cert=wronghost", "localhost",
	    "The certificate Common Name (CN) does not match with the "
	    "expected CN");
}

static void
test_expired(void **state)
{
	expect_tls_refusal(*state, "cert=expired", "localhost",
	    "The certificate validity has expired");
}

static void
test_insecure_accepts_unknown_ca(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "ok", "cert=unknown", NULL);
	struct result *r;
	char url[128];

	tls_config(x, NULL, NULL, 1);
	url_of(url, sizeof url, "https", "localhost", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 200);
	/* Resumption still works and is still detected. */
	http_client_close_idle(x->client);
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->status, 200);
	assert_true(r->tls_resumed);
}

static void
test_mutual_tls(void **state)
{
	struct ctx *x = *state;
	struct server *s =
	    collector_start(x, "ok", "cert=server", "client_ca=ca.crt", NULL);
	struct result *r;
	char url[128];

	url_of(url, sizeof url, "https", "localhost", s->port, "/v1");
	tls_config(x, "ca.crt", "client", 0);
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 200);

	/*
	 * Without a client certificate the server refuses the handshake. In
	 * TLS 1.2 the client sees the alert; in TLS 1.3 (mbedtls 3.x) its
	 * handshake is over before the server decides, and the alert can
	 * lose the race with the reset of the request it sent meanwhile.
	 */
	http_client_free(x->client);
	x->client = NULL;
	tls_config(x, "ca.crt", NULL, 0);
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->status, 0);
#if MBEDTLS_VERSION_NUMBER < 0x03000000
	assert_int_equal(r->layer, HTTP_LAYER_TLS);
#else
	if (r->layer != HTTP_LAYER_TLS) {
		assert_int_equal(r->layer, HTTP_LAYER_TCP);
		assert_true(
		    strstr(r->error, "Connection reset by peer") != NULL ||
		    strstr(r->error, "Broken pipe") != NULL);
	}
#endif
	assert_int_equal(stat_of(s, "requests"), 1);
	/* The server counts its failure after sending the alert. */
	assert_int_equal(stat_wait(s, "tls_failures", 1), 1);
}

static void
copy_file(const char *from, const char *to)
{
	char *text = read_file(from), tmp[400];
	FILE *f;

	assert_non_null(text);
	snprintf(tmp, sizeof tmp, "%s.tmp", to);
	f = fopen(tmp, "w");
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, to), 0);
	free(text);
}

static void
test_certificate_rotation(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "ok", "cert=server", NULL);
	struct result *r;
	char url[128], ca[320], other[320], good[320];
	long long expiry;

	path_in_dir(ca, sizeof ca, "rotating-ca.crt");
	path_in_dir(other, sizeof other, "other-ca.crt");
	path_in_dir(good, sizeof good, "ca.crt");
	copy_file(other, ca);
	tls_config(x, "rotating-ca.crt", "client", 0);
	url_of(url, sizeof url, "https", "localhost", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_TLS);
	assert_int_equal(tlsio_config_reloads(x->tls), 0);

	/* The operator installs the right CA: no restart needed. */
	copy_file(good, ca);
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 200);
	assert_int_equal(tlsio_config_reloads(x->tls), 1);

	/* A broken file keeps the loaded CA in use. */
	http_client_close_idle(x->client);
	{
		FILE *f = fopen(ca, "w");

		fputs("-----BEGIN CERTIFICATE-----\nbroken\n", f);
		fclose(f);
	}
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->status, 200);
	assert_int_equal(tlsio_config_reloads(x->tls), 1);

	/* Expiry for metrics: the CA has 30 days, the client cert 10. */
	expiry = tlsio_config_ca_expiry(x->tls);
	assert_true(llabs(expiry - (time(NULL) + 30 * 86400LL)) < 3600);
	expiry = tlsio_config_cert_expiry(x->tls);
	assert_true(llabs(expiry - (time(NULL) + 10 * 86400LL)) < 3600);
}

static void
test_config_errors(void **state)
{
	struct tlsio_params p;
	char err[256], path[320], key[320];

	memset(&p, 0, sizeof p);
	assert_null(tlsio_config_new(&p, err, sizeof err));
	assert_string_equal(
	    err, "no CA file: verification needs one (or insecure)");
	path_in_dir(path, sizeof path, "missing.crt");
	p.ca_file = path;
	assert_null(tlsio_config_new(&p, err, sizeof err));
	assert_non_null(strstr(err, "missing.crt: No such file or directory"));
	path_in_dir(path, sizeof path, "hosts");
	assert_null(tlsio_config_new(&p, err, sizeof err));
	assert_non_null(strstr(err, "hosts: "));
	path_in_dir(path, sizeof path, "ca.crt");
	path_in_dir(key, sizeof key, "server.key");
	p.client_cert = path;
	assert_null(tlsio_config_new(&p, err, sizeof err));
	assert_string_equal(
	    err, "a client certificate needs a key and a key a certificate");
	/* A key that is not the certificate's. */
	p.client_key = key;
	assert_null(tlsio_config_new(&p, err, sizeof err));
	assert_non_null(strstr(err, "does not match the certificate"));
	p.client_cert = NULL;
	p.client_key = NULL;
	p.max_frag_len = 3000;
	assert_null(tlsio_config_new(&p, err, sizeof err));
	assert_string_equal(
	    err, "max_frag_len 3000: not 512, 1024, 2048 or 4096");
}

static void
test_connect_refused(void **state)
{
	struct ctx *x = *state;
	struct result *r;
	char url[128], want[128];
	int port = free_port();

	url_of(url, sizeof url, "http", "127.0.0.1", port, "/");
	r = request(x, "GET", url, NULL, NULL, 0);
	assert_int_equal(r->layer, HTTP_LAYER_TCP);
	assert_int_equal(r->status, 0);
	snprintf(want, sizeof want,
	    "connect to 127.0.0.1:%d: Connection refused", port);
	assert_string_equal(r->error, want);
	assert_int_equal(http_client_connections(x->client), 0);
}

static void
test_dns_failure(void **state)
{
	struct ctx *x = *state;
	struct result *r;

	tls_config(x, "ca.crt", NULL, 0);
	r = request(x, "POST", "https://nonexistent.invalid/v1", NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_DNS);
	assert_int_equal(r->status, 0);
	assert_non_null(strstr(r->error, "resolve nonexistent.invalid: "));
	assert_true(x->dns_queries >= 1);
	assert_true(r->elapsed_s < 4);
}

static void
test_dns_timeout(void **state)
{
	struct ctx *x = *state;
	struct result *r;

	/* The responder goes quiet: the connect timeout covers DNS. */
	event_del(x->dns_ev);
	x->opt.connect_timeout_s = 0.3;
	r = request(x, "GET", "http://quiet.invalid/", NULL, NULL, 0);
	assert_int_equal(r->layer, HTTP_LAYER_DNS);
	assert_string_equal(
	    r->error, "resolve quiet.invalid: timed out after 0.3 s");
	assert_true(r->elapsed_s >= 0.25 && r->elapsed_s < 2);
}

static void
test_own_dns_base(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "ok", NULL);
	struct result *r;
	char url[128];

	/* A client that makes its own evdns base; numeric hosts only. */
	x->opt.dns = NULL;
	url_of(url, sizeof url, "http", "127.0.0.1", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 200);
}

static void
test_hang_times_out(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "hang", "cert=server", NULL);
	struct result *r;
	char url[128];

	tls_config(x, "ca.crt", NULL, 0);
	/* 1.5 s: the collector must see the request even under qemu. */
	x->opt.response_timeout_s = 1.5;
	url_of(url, sizeof url, "https", "localhost", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_HTTP);
	assert_int_equal(r->status, 0);
	assert_non_null(
	    strstr(r->error, "no complete response from localhost:"));
	assert_non_null(strstr(r->error, "within 1.5 s (0 bytes received)"));
	assert_true(r->elapsed_s >= 1.45 && r->elapsed_s < 5);
	assert_int_equal(stat_of(s, "requests"), 1);
	assert_false(http_client_connected(x->client));
}

static void
test_reset_mid_response(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "reset", NULL);
	struct result *r;
	char url[128];

	url_of(url, sizeof url, "http", "127.0.0.1", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->status, 0);
	/* A reset is a TCP failure; a plain close mid-body an HTTP one. */
	if (r->layer == HTTP_LAYER_TCP)
		assert_non_null(strstr(r->error, "Connection reset by peer"));
	else {
		assert_int_equal(r->layer, HTTP_LAYER_HTTP);
		assert_non_null(
		    strstr(r->error, "connection closed in the body"));
	}
	assert_false(http_client_connected(x->client));

	/* Over TLS as well. */
	s = collector_start(x, "reset", "cert=server", NULL);
	http_client_free(x->client);
	x->client = NULL;
	tls_config(x, "ca.crt", NULL, 0);
	url_of(url, sizeof url, "https", "localhost", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->status, 0);
	assert_true(r->layer == HTTP_LAYER_TCP || r->layer == HTTP_LAYER_HTTP);
}

static void
test_chunked_response(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "chunked", "cert=server", NULL);
	const char body[] = "{\"records\":[{\"id\":\"d1\"},{\"id\":\"d2\"},"
			    "{\"id\":\"d3\"}]}";
	struct result *r;
	char url[128];

	tls_config(x, "ca.crt", NULL, 0);
	url_of(url, sizeof url, "https", "localhost", s->port, "/v1");
	r = request(x, "POST", url, NULL, body, sizeof body - 1);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"accepted\": 3}");
	assert_string_equal(r->trailer, "3");
	assert_true(r->keep_alive);
	/* And the connection is good for the next one. */
	r = request(x, "POST", url, NULL, body, sizeof body - 1);
	assert_int_equal(r->status, 200);
	assert_true(r->reused);
	assert_int_equal(stat_of(s, "unique_ids"), 3);
	assert_int_equal(stat_of(s, "ids"), 6);
}

static void
test_statuses_and_retry_after(void **state)
{
	struct ctx *x = *state;
	struct server *s;
	struct result *r;
	char url[128], mode[96];
	time_t t = time(NULL) + 60;
	struct tm tm;

	s = collector_start(x, "retry-after:7", NULL);
	url_of(url, sizeof url, "http", "127.0.0.1", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 429);
	assert_int_equal(r->retry_after_s, 7);
	assert_int_equal(stat_of(s, "stored"), 0);

	gmtime_r(&t, &tm);
	strftime(
	    mode, sizeof mode, "retry-after:%a, %d %b %Y %H:%M:%S GMT", &tm);
	s = collector_start(x, mode, NULL);
	url_of(url, sizeof url, "http", "127.0.0.1", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->status, 429);
	assert_true(r->retry_after_s >= 55 && r->retry_after_s <= 60);

	s = collector_start(x, "status:500", NULL);
	url_of(url, sizeof url, "http", "127.0.0.1", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 500);
	assert_string_equal(r->body, "{\"error\": 500}");
	assert_int_equal(r->retry_after_s, -1);

	s = collector_start(x, "status:400", NULL);
	url_of(url, sizeof url, "http", "127.0.0.1", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->status, 400);
}

static void
test_trickle(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "trickle", "trickle=0.005", NULL);
	struct result *r;
	char url[128];

	/* Slow but within the response timeout: fine. */
	url_of(url, sizeof url, "http", "127.0.0.1", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"accepted\": 0}");

	/* Too slow for the whole response: an HTTP-layer timeout. */
	s = collector_start(x, "trickle", "trickle=0.05", NULL);
	x->opt.response_timeout_s = 0.4;
	http_client_free(x->client);
	x->client = NULL;
	url_of(url, sizeof url, "http", "127.0.0.1", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_HTTP);
	assert_non_null(strstr(r->error, "within 0.4 s"));
	assert_null(strstr(r->error, "(0 bytes received)"));
}

static void
test_s_server_interop(void **state)
{
	struct ctx *x = *state;
	struct server *s = s_server_start(x, "server");
	struct result *r;
	char url[128];

	tls_config(x, "ca.crt", NULL, 0);
	url_of(url, sizeof url, "https", "localhost", s->port, "/");
	r = request(x, "GET", url, NULL, NULL, 0);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->version, 10);
	assert_false(r->keep_alive);
	assert_non_null(strstr(r->body, "<HTML>"));
	assert_non_null(strstr(r->body, "s_server"));
	assert_false(http_client_connected(x->client));

	/* Its certificate check applies to it like to anyone. */
	http_client_free(x->client);
	x->client = NULL;
	tls_config(x, "other-ca.crt", NULL, 0);
	r = request(x, "GET", url, NULL, NULL, 0);
	assert_int_equal(r->layer, HTTP_LAYER_TLS);
}

static void
test_server_restart_between_requests(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "ok", NULL);
	struct result *r;
	char url[128], port[16];

	url_of(url, sizeof url, "http", "127.0.0.1", s->port, "/v1");
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->status, 200);
	assert_true(http_client_connected(x->client));
	/* The kept-alive connection dies with the server. */
	snprintf(port, sizeof port, "port=%d", s->port);
	server_stop(s);
	s = collector_start(x, "ok", port, NULL);
	r = request(x, "POST", url, NULL, "{}", 2);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 200);
	assert_false(r->reused);
	assert_int_equal(stat_of(s, "requests"), 1);

	/* An idle connection notices the server's close by itself. */
	server_stop(s);
	spin(x, 0.2);
	assert_false(http_client_connected(x->client));
}

static void
test_stale_keep_alive_retried(void **state)
{
	struct ctx *x = *state;
	struct server *s;
	struct result *r;
	char url[128];
	int tls;

	tls_config(x, "ca.crt", NULL, 0);
	for (tls = 0; tls <= 1; tls++) {
		s = tls ? collector_start(x, "drop-reused", "cert=server", NULL)
			: collector_start(x, "drop-reused", NULL);
		url_of(url, sizeof url, tls ? "https" : "http", "localhost",
		    s->port, "/v1");
		r = request(x, "POST", url, NULL,
		    "{\"records\":[{\"id\":\"e1\"}]}", 25);
		assert_int_equal(r->status, 200);
		assert_true(http_client_connected(x->client));
		/*
		 * The server drops the kept-alive connection on the next
		 * request without a byte of answer: the client tries once
		 * more on a new connection instead of reporting a failure.
		 */
		r = request(x, "POST", url, NULL,
		    "{\"records\":[{\"id\":\"e2\"}]}", 25);
		assert_int_equal(r->layer, HTTP_LAYER_NONE);
		assert_int_equal(r->status, 200);
		assert_false(r->reused);
		assert_int_equal(r->tls_resumed, tls);
		assert_int_equal(stat_of(s, "requests"), 3);
		assert_int_equal(stat_of(s, "connections"), 2);
		assert_int_equal(stat_of(s, "unique_ids"), 2);
		assert_int_equal(
		    http_client_connections(x->client), 2 + 2 * tls);
	}
}

static void
test_free_in_callback_and_cancel(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "hang", NULL);
	struct http_request req;
	struct result *r;
	char url[128], err[256];

	url_of(url, sizeof url, "http", "127.0.0.1", s->port, "/v1");
	/* Cancel: no callback, connection closed. */
	x->client = http_client_new(x->base, &x->opt);
	memset(&req, 0, sizeof req);
	req.method = "GET";
	req.url = url;
	x->res.done = 0;
	assert_int_equal(http_client_request(
			     x->client, &req, capture_cb, x, err, sizeof err),
	    0);
	assert_int_equal(http_client_request(
			     x->client, &req, capture_cb, x, err, sizeof err),
	    -1);
	assert_string_equal(err, "a request is already in progress");
	spin(x, 0.2);
	assert_true(http_client_connected(x->client));
	http_client_cancel(x->client);
	assert_false(http_client_busy(x->client));
	assert_false(http_client_connected(x->client));
	spin(x, 0.1);
	assert_false(x->res.done);

	/* Free from inside the callback (the response timeout). */
	x->opt.response_timeout_s = 0.2;
	http_client_free(x->client);
	x->client = NULL;
	x->free_in_cb = 1;
	r = request(x, "GET", url, NULL, NULL, 0);
	assert_int_equal(r->layer, HTTP_LAYER_HTTP);
	assert_null(x->client);
	spin(x, 0.05);
}

static void
test_small_records_and_bandwidth_cap(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "ok", "cert=server", NULL);
	struct tlsio_params p;
	struct result *r;
	char url[128], ca[320], err[256], *body;
	size_t i, len;

	/* Ask the server for 512-byte records; send 20 KB through them. */
	memset(&p, 0, sizeof p);
	path_in_dir(ca, sizeof ca, "ca.crt");
	p.ca_file = ca;
	p.max_frag_len = 512;
	x->tls = tlsio_config_new(&p, err, sizeof err);
	assert_non_null(x->tls);
	x->opt.tls = x->tls;
	body = malloc(20000);
	len = (size_t)snprintf(body, 20000, "{\"records\":[");
	for (i = 0; len < 19900; i++)
		len += (size_t)snprintf(body + len, 20000 - len,
		    "%s{\"id\":\"%05zu\"}", i > 0 ? "," : "", i);
	len += (size_t)snprintf(body + len, 20000 - len, "]}");
	url_of(url, sizeof url, "https", "localhost", s->port, "/v1");
	r = request(x, "POST", url, NULL, body, len);
	assert_int_equal(r->layer, HTTP_LAYER_NONE);
	assert_int_equal(r->status, 200);
	assert_int_equal(stat_of(s, "ids"), (long)i);

	/* 40 KB/s for ~20 KB: about half a second, not instantly. */
	x->opt.max_bytes_per_s = 40000;
	http_client_free(x->client);
	x->client = NULL;
	r = request(x, "POST", url, NULL, body, len);
	assert_int_equal(r->status, 200);
	assert_true(r->elapsed_s > 0.35);
	assert_true(r->elapsed_s < 3);
	free(body);
}

/*
 * tlsio alone over a socket the test connects itself: the steps, the
 * byte counts, and the heap one connection holds.
 */
static void
test_tlsio_direct(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "ok", "cert=server", NULL);
	struct sockaddr_in sin;
	struct pollfd pfd;
	struct tlsio *t;
	enum tlsio_status st;
	const char req[] = "GET /_stats HTTP/1.1\r\n"
			   "Host: localhost\r\nConnection: close\r\n\r\n";
	char buf[4096], err[256];
	size_t n, got = 0, off = 0;
	uint64_t in, out;
#ifdef __GLIBC__
	struct mallinfo2 m0, m1;
	size_t peak = 0;
#endif
	int fd;

	tls_config(x, "ca.crt", NULL, 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(s->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

#ifdef __GLIBC__
	m0 = mallinfo2();
#endif
	t = tlsio_new(x->tls, fd, "localhost", err, sizeof err);
	assert_non_null(t);
	pfd.fd = fd;
	while ((st = tlsio_handshake(t, err, sizeof err)) != TLSIO_OK) {
		assert_true(st == TLSIO_WANT_READ || st == TLSIO_WANT_WRITE);
#ifdef __GLIBC__
		m1 = mallinfo2();
		if (m1.uordblks > m0.uordblks &&
		    m1.uordblks - m0.uordblks > peak)
			peak = m1.uordblks - m0.uordblks;
#endif
		pfd.events = st == TLSIO_WANT_READ ? POLLIN : POLLOUT;
		assert_int_equal(poll(&pfd, 1, 5000), 1);
	}
#ifdef __GLIBC__
	m1 = mallinfo2();
	/*
	 * The figure documented in tlsio.h; the sanitizers' allocator does
	 * not report through mallinfo2.
	 */
	print_message("tlsio: %zu bytes of heap per connection after the "
		      "handshake, at least %zu during it (%s, %s)\n",
	    m1.uordblks - m0.uordblks, peak, tlsio_version(t),
	    tlsio_ciphersuite(t));
	if (m1.uordblks > m0.uordblks)
		assert_true(m1.uordblks - m0.uordblks < 48 * 1024);
#endif
	assert_false(tlsio_resumed(t));

	while (off < sizeof req - 1) {
		st = tlsio_write(
		    t, req + off, sizeof req - 1 - off, &n, err, sizeof err);
		if (st == TLSIO_OK)
			off += n;
		else {
			assert_true(st == TLSIO_WANT_WRITE);
			pfd.events = POLLOUT;
			poll(&pfd, 1, 5000);
		}
	}
	for (;;) {
		st = tlsio_read(
		    t, buf + got, sizeof buf - 1 - got, &n, err, sizeof err);
		if (st == TLSIO_OK) {
			got += n;
			continue;
		}
		if (st == TLSIO_EOF)
			break;
		assert_true(st == TLSIO_WANT_READ);
		pfd.events = POLLIN;
		assert_int_equal(poll(&pfd, 1, 5000), 1);
	}
	buf[got] = '\0';
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(buf, "\"tls_handshakes\": 1"));
	assert_int_equal(tlsio_pending(t), 0);
	tlsio_bytes(t, &in, &out);
	assert_true(in > got);
	assert_true(out > sizeof req - 1);
	tlsio_free(t);
	close(fd);
}

/*
 * A CA bundle is held as DER and parsed only for a handshake: 100 other
 * CAs in front of the one that signed the server, which must still verify;
 * the parsed chain is there during the handshake and gone after it.
 */
static void
test_tlsio_ca_parsed_for_handshake(void **state)
{
	struct ctx *x = *state;
	struct server *s = collector_start(x, "ok", "cert=server", NULL);
	struct sockaddr_in sin;
	struct pollfd pfd;
	struct tlsio *t;
	enum tlsio_status st;
	char path[320], err[256], *other, *ca;
	FILE *f;
	int fd, i;
#ifdef __GLIBC__
	struct mallinfo2 m0, m1, m2;
#endif

	path_in_dir(path, sizeof path, "other-ca.crt");
	other = read_file(path);
	path_in_dir(path, sizeof path, "ca.crt");
	ca = read_file(path);
	assert_non_null(other);
	assert_non_null(ca);
	path_in_dir(path, sizeof path, "bundle.crt");
	assert_non_null(f = fopen(path, "w"));
	for (i = 0; i < 100; i++)
		fputs(other, f);
	fputs(ca, f);
	fclose(f);
	free(other);
	free(ca);
	tls_config(x, "bundle.crt", NULL, 0);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(s->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
#ifdef __GLIBC__
	m0 = mallinfo2();
#endif
	t = tlsio_new(x->tls, fd, "localhost", err, sizeof err);
	assert_non_null(t);
#ifdef __GLIBC__
	m1 = mallinfo2();
#endif
	pfd.fd = fd;
	while ((st = tlsio_handshake(t, err, sizeof err)) != TLSIO_OK) {
		if (st != TLSIO_WANT_READ && st != TLSIO_WANT_WRITE)
			fail_msg("handshake: %s", err);
		pfd.events = st == TLSIO_WANT_READ ? POLLIN : POLLOUT;
		assert_int_equal(poll(&pfd, 1, 5000), 1);
	}
	assert_false(tlsio_resumed(t));
#ifdef __GLIBC__
	m2 = mallinfo2();
	print_message("tlsio: 101 CAs parsed for the handshake: %zu bytes, "
		      "%zu held after it\n",
	    m1.uordblks - m0.uordblks, m2.uordblks - m0.uordblks);
	/* Zero under the sanitizers' allocator. */
	if (m1.uordblks > m0.uordblks) {
		/* The record buffers alone are about 33 KiB. */
		assert_true(m1.uordblks - m0.uordblks > 96 * 1024);
		assert_true(m2.uordblks - m0.uordblks < 48 * 1024);
	}
#endif
	tlsio_free(t);
	close(fd);
	tlsio_config_free(x->tls);
	x->tls = NULL;
	x->opt.tls = NULL;
}

static int
group_setup(void **state)
{
	const char *src = getenv("OUTPOST_TEST_SRCDIR");
	char script[4096], hosts[320], sh[320], log[320];
	char srcdir[512], *text;
	FILE *f;

	snprintf(dir, sizeof dir, "/tmp/outpost-http-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	if (src == NULL) {
		/* Run by hand: the source tree is two levels above this file. */
		snprintf(srcdir, sizeof srcdir, "%s", __FILE__);
		if ((text = strstr(srcdir, "/test/unit/")) != NULL)
			*text = '\0';
		src = srcdir;
	}
	snprintf(collector_py, sizeof collector_py,
	    "%s/test/tools/collector.py", src);
	snprintf(python, sizeof python, "%s",
	    getenv("OUTPOST_PYTHON") ? getenv("OUTPOST_PYTHON") : "python3");
	path_in_dir(hosts, sizeof hosts, "hosts");
	f = fopen(hosts, "w");
	fputs("127.0.0.1 localhost\n", f);
	fclose(f);

	/* EC P-256 keys: quick to make, and mbedtls 2.28 and 3.x take them. */
	snprintf(script, sizeof script,
	    "set -e\ncd '%s'\nnewca() { openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -keyout $1.key -out $1.crt "
	    "-days 30 -subj /CN=$2; }\n"
	    "sign() { openssl req -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -keyout $1.key -out $1.csr "
	    "-subj /CN=$2\n"
	    "  printf 'basicConstraints=CA:FALSE\\nkeyUsage=digitalSignature\\n"
	    "extendedKeyUsage=%%s\\n%%s\\n' $6 \"$3\" > $1.ext\n"
	    "  openssl x509 -req -in $1.csr -CA $5.crt -CAkey $5.key "
	    "-CAcreateserial -days $4 -out $1.crt -extfile $1.ext; }\n"
	    "newca ca outpost-test-ca\nnewca other-ca outpost-other-ca\n"
	    "sign server localhost subjectAltName=DNS:localhost,IP:127.0.0.1 "
	    "30 ca serverAuth\nsign wronghost wrong.example.net "
	    "subjectAltName=DNS:wrong.example.net 30 ca serverAuth\n"
	    "sign expired localhost subjectAltName=DNS:localhost -1 ca "
	    "serverAuth\n"
	    "sign unknown localhost subjectAltName=DNS:localhost 30 other-ca "
	    "serverAuth\nsign client outpost-client '' 10 ca clientAuth\n",
	    dir);
	path_in_dir(sh, sizeof sh, "mkcerts.sh");
	path_in_dir(log, sizeof log, "openssl.log");
	f = fopen(sh, "w");
	fputs(script, f);
	fclose(f);
	snprintf(script, sizeof script, "sh '%s' >'%s' 2>&1", sh, log);
	if (system(script) != 0) {
		text = read_file(log);
		fprintf(stderr, "making certificates failed: %s\n",
		    text != NULL ? text : "");
		free(text);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[400];

	if (getenv("OUTPOST_KEEP_TMP") != NULL)
		return 0;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_url_parse),
		T(test_request_refused),
		T(test_plain_get_post),
		T(test_https_verified_post),
		T(test_keep_alive_reuse),
		T(test_session_resumption),
		T(test_unknown_ca),
		T(test_wrong_host),
		T(test_expired),
		T(test_insecure_accepts_unknown_ca),
		T(test_mutual_tls),
		T(test_certificate_rotation),
		T(test_config_errors),
		T(test_connect_refused),
		T(test_dns_failure),
		T(test_dns_timeout),
		T(test_own_dns_base),
		T(test_hang_times_out),
		T(test_reset_mid_response),
		T(test_chunked_response),
		T(test_statuses_and_retry_after),
		T(test_trickle),
		T(test_s_server_interop),
		T(test_server_restart_between_requests),
		T(test_stale_keep_alive_retried),
		T(test_free_in_callback_and_cancel),
		T(test_small_records_and_bandwidth_cap),
		T(test_tlsio_direct),
		T(test_tlsio_ca_parsed_for_handshake),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
