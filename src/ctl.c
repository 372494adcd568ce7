/*
 * `outpost status` and `outpost flush`: a tiny blocking HTTP client for the
 * local health port, and the terminal summary. The JSON answer is read with
 * SQLite's json_extract, the project's one JSON parser.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "ctl.h"
#include "xmalloc.h"

#define CTL_TIMEOUT_S 3.0
#define CTL_MAX_RESPONSE (4 * 1024 * 1024)

/* Splits "host:port" / "[v6]:port"; a wildcard host means this machine. */
static int
ctl_split_listen(
    const char *listen, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon;
	size_t n;

	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		n = (size_t)(end - listen - 1);
		colon = end + 1;
		listen++;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL)
			return -1;
		n = (size_t)(colon - listen);
	}
	if (n == 0 || n >= hostlen || strlen(colon + 1) >= portlen)
		return -1;
	memcpy(host, listen, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
		strcpy(host, "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		strcpy(host, "::1");
	return 0;
}

int
ctl_request(const char *listen, const char *method, const char *path,
    const char *token, double timeout_s, char **body, char **cause)
{
	struct addrinfo hints, *res = NULL;
	struct timeval tv;
	char host[256], port[16], *req = NULL, *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd = -1, status = -1, gai;
	char *sep;

	*body = NULL;
	if (ctl_split_listen(listen, host, sizeof host, port, sizeof port)) {
		xasprintf(cause, "bad listen address '%s'", listen);
		goto out;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(host, port, &hints, &res)) != 0) {
		xasprintf(cause, "%s: %s", host, gai_strerror(gai));
		goto out;
	}
	if ((fd = socket(res->ai_family, SOCK_STREAM, 0)) == -1)
		goto sysfail;
	tv.tv_sec = (time_t)timeout_s;
	tv.tv_usec = (suseconds_t)((timeout_s - (double)tv.tv_sec) * 1e6);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, res->ai_addr, res->ai_addrlen) == -1)
		goto sysfail;
	n = xasprintf(&req,
	    "%s %s HTTP/1.0\r\nHost: %s\r\n%s%s%s"
	    "Content-Length: 0\r\n\r\n",
	    method, path, host,
	    token != NULL && *token != '\0' ? "Authorization: Bearer " : "",
	    token != NULL && *token != '\0' ? token : "",
	    token != NULL && *token != '\0' ? "\r\n" : "");
	if (write(fd, req, (size_t)n) != n)
		goto sysfail;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap == 0 ? 8192 : cap * 2;
			buf = xreallocarray(buf, cap, 1);
		}
		if ((n = read(fd, buf + len, cap - len - 1)) == -1)
			goto sysfail;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CTL_MAX_RESPONSE) {
			xasprintf(cause, "response too large");
			goto out;
		}
	}
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1 ||
	    (sep = strstr(buf, "\r\n\r\n")) == NULL) {
		xasprintf(cause, "malformed response");
		status = -1;
		goto out;
	}
	*body = xstrdup(sep + 4);
	goto out;
sysfail:
	xasprintf(cause, "%s:%s: %s", host, port, strerror(errno));
out:
	if (fd != -1)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	free(req);
	free(buf);
	return status;
}

/* Runs one SELECT over the JSON document; the first column as text. */
static char *
ctl_json_query(sqlite3 *db, const char *json, const char *sql)
{
	sqlite3_stmt *st = NULL;
	char *out = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_text(st, 0) != NULL)
		out = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

static char *
ctl_json_get(sqlite3 *db, const char *json, const char *path)
{
	char *sql, *v;

	xasprintf(&sql, "SELECT json_extract(?1, '%s')", path);
	v = ctl_json_query(db, json, sql);
	free(sql);
	return v;
}

static void
ctl_print_age(const char *label, const char *seconds)
{
	double s;

	if (seconds == NULL) {
		printf("%s -", label);
		return;
	}
	s = strtod(seconds, NULL);
	if (s < 120)
		printf("%s %.0fs", label, s);
	else if (s < 7200)
		printf("%s %.0fm", label, s / 60);
	else if (s < 172800)
		printf("%s %.1fh", label, s / 3600);
	else
		printf("%s %.1fd", label, s / 86400);
}

static void
ctl_print_summary(sqlite3 *db, const char *json)
{
	static const char *const fields[] = { "$.agent_id", "$.status",
		"$.version", "$.uptime_s", "$.connection.state",
		"$.connection.last_error.layer",
		"$.connection.last_error.message", "$.breaker.state",
		"$.queue.pending", "$.queue.by_priority.critical",
		"$.queue.by_priority.high", "$.queue.by_priority.normal",
		"$.queue.by_priority.low", "$.queue.oldest_pending_age_s",
		"$.queue.dead_letter", "$.queue.shed_total", "$.store.db_bytes",
		"$.store.wal_bytes", "$.readings_processed" };
	enum {
		ID,
		STATUS,
		VERSION,
		UPTIME,
		CONN,
		LAYER,
		ERRMSG,
		BREAKER,
		PENDING,
		CRIT,
		HIGH,
		NORMAL,
		LOW,
		OLDEST,
		DEAD,
		SHED,
		DB,
		WAL,
		PROCESSED,
		NFIELDS
	};
	char *v[NFIELDS], *adapters;
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		v[i] = ctl_json_get(db, json, fields[i]);
#define S(x) (v[x] != NULL ? v[x] : "-")
	printf("outpost %s: %s (version %s, ", S(ID), S(STATUS), S(VERSION));
	ctl_print_age("up", v[UPTIME]);
	printf(")\n");
	printf("  uplink:   %s, breaker %s", S(CONN), S(BREAKER));
	if (v[LAYER] != NULL)
		printf(", last error at %s: %s", v[LAYER], S(ERRMSG));
	printf("\n  queue:    %s pending (critical %s, high %s, normal %s, "
	       "low %s), ",
	    S(PENDING), S(CRIT), S(HIGH), S(NORMAL), S(LOW));
	ctl_print_age("oldest", v[OLDEST]);
	printf(", %s dead-lettered, %s shed\n", S(DEAD), S(SHED));
	printf("  store:    %.1f MB + %.1f MB WAL, %s readings processed\n",
	    v[DB] != NULL ? strtod(v[DB], NULL) / 1048576 : 0.0,
	    v[WAL] != NULL ? strtod(v[WAL], NULL) / 1048576 : 0.0,
	    S(PROCESSED));
#undef S
	adapters = ctl_json_query(db, json,
	    "SELECT group_concat(printf('    %-16s %-10s %6d errors%s',"
	    " json_extract(value, '$.name'), json_extract(value, '$.state'),"
	    " json_extract(value, '$.errors'),"
	    " ifnull('  ' || json_extract(value, '$.last_error'), '')),"
	    " char(10)) FROM json_each(?1, '$.adapters')");
	if (adapters != NULL)
		printf("  adapters:\n%s\n", adapters);
	free(adapters);
	for (i = 0; i < NFIELDS; i++)
		free(v[i]);
}

int
ctl_status(const struct config *cfg, int json_output)
{
	sqlite3 *db = NULL;
	char *body = NULL, *cause = NULL, *status = NULL;
	int code, rc = CTL_UNHEALTHY;

	code = ctl_request(cfg->health.listen, "GET", "/health", NULL,
	    CTL_TIMEOUT_S, &body, &cause);
	if (code == -1) {
		fprintf(stderr, "outpost status: agent unreachable at %s: %s\n",
		    cfg->health.listen, cause);
		goto out;
	}
	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    (status = ctl_json_get(db, body, "$.status")) == NULL) {
		fprintf(stderr,
		    "outpost status: HTTP %d without a health "
		    "document\n",
		    code);
		goto out;
	}
	if (json_output)
		printf("%s\n", body);
	else
		ctl_print_summary(db, body);
	if (strcmp(status, "healthy") == 0)
		rc = CTL_HEALTHY;
	else if (strcmp(status, "degraded") == 0)
		rc = CTL_DEGRADED;
out:
	free(status);
	free(body);
	free(cause);
	sqlite3_close(db);
	return rc;
}

int
ctl_flush(const struct config *cfg)
{
	char *body = NULL, *cause = NULL;
	const char *token = cfg->health.admin_token;
	int code;

	if ((token == NULL || *token == '\0') &&
	    getenv("OUTPOST_ADMIN_TOKEN") != NULL)
		token = getenv("OUTPOST_ADMIN_TOKEN");
	code = ctl_request(cfg->health.listen, "POST", "/admin/flush", token,
	    CTL_TIMEOUT_S * 10, &body, &cause);
	if (code == -1) {
		fprintf(stderr, "outpost flush: agent unreachable at %s: %s\n",
		    cfg->health.listen, cause);
		free(cause);
		return 1;
	}
	if (code / 100 != 2) {
		fprintf(stderr, "outpost flush: HTTP %d: %s\n", code,
		    body != NULL ? body : "");
		free(body);
		return 1;
	}
	printf("flush requested: %s\n", body);
	free(body);
	return 0;
}
