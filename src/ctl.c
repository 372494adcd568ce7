/*
 * `outpost status` and `outpost flush`: a tiny blocking HTTP client for the
 * local health port, and the terminal summary (coloured only on a TTY,
 * redrawn in place under --watch). The JSON answer is read with SQLite's
 * json_extract, the project's one JSON parser.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* How the terminal is painted: ANSI colours only on a TTY, not with NO_COLOR. */
struct ctl_term {
	int colour;
};

#define CTL_RESET "\033[0m"
#define CTL_BOLD "\033[1m"
#define CTL_DIM "\033[2m"
#define CTL_RED "\033[31m"
#define CTL_GREEN "\033[32m"
#define CTL_YELLOW "\033[33m"

/* https://no-color.org: present and not empty turns colour off. */
static int
ctl_want_colour(FILE *f)
{
	const char *no = getenv("NO_COLOR");

	if (no != NULL && *no != '\0')
		return 0;
	return isatty(fileno(f));
}

/* The colour of a state word, as the status page's classes. */
static const char *
ctl_state_colour(const char *state)
{
	static const char *const ok[] = { "healthy", "connected", "closed",
		NULL };
	static const char *const warn[] = { "degraded", "connecting",
		"half_open", "idle", NULL };
	static const char *const bad[] = { "unhealthy", "error", "disconnected",
		"open", "critical_only", NULL };
	size_t i;

	if (state == NULL)
		return NULL;
	for (i = 0; ok[i] != NULL; i++)
		if (strcmp(state, ok[i]) == 0)
			return CTL_GREEN;
	for (i = 0; warn[i] != NULL; i++)
		if (strcmp(state, warn[i]) == 0)
			return CTL_YELLOW;
	for (i = 0; bad[i] != NULL; i++)
		if (strcmp(state, bad[i]) == 0)
			return CTL_RED;
	return NULL;
}

/* text in colour (when the terminal wants it); "-" for NULL. */
static void
ctl_paint(const struct ctl_term *t, const char *colour, const char *text)
{
	if (text == NULL)
		text = "-";
	if (t->colour && colour != NULL)
		printf("%s%s%s", colour, text, CTL_RESET);
	else
		printf("%s", text);
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

/* One line per device: name, state (coloured), errors, last error. */
static void
ctl_print_adapters(const struct ctl_term *t, sqlite3 *db, const char *json)
{
	sqlite3_stmt *st = NULL;
	const char *state, *err;
	int n = 0, w;

	if (sqlite3_prepare_v2(db,
		"SELECT json_extract(value, '$.name'), "
		"json_extract(value, '$.state'), "
		"json_extract(value, '$.errors'), "
		"json_extract(value, '$.last_error') "
		"FROM json_each(?1, '$.adapters')",
		-1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n++ == 0)
			printf("  adapters:\n");
		state = (const char *)sqlite3_column_text(st, 1);
		err = (const char *)sqlite3_column_text(st, 3);
		printf("    %-16s ", (const char *)sqlite3_column_text(st, 0));
		/* Padding outside the colour codes keeps the columns. */
		ctl_paint(t, ctl_state_colour(state), state);
		w = (int)strlen(state != NULL ? state : "-");
		printf("%*s %6lld errors", w < 10 ? 10 - w : 0, "",
		    (long long)sqlite3_column_int64(st, 2));
		if (err != NULL) {
			printf("  ");
			ctl_paint(t, CTL_RED, err);
		}
		printf("\n");
	}
	sqlite3_finalize(st);
}

static void
ctl_print_summary(const struct ctl_term *t, sqlite3 *db, const char *json)
{
	static const char *const fields[] = { "$.agent_id", "$.status",
		"$.version", "$.uptime_s", "$.connection.state",
		"$.connection.last_error.layer",
		"$.connection.last_error.message", "$.breaker.state",
		"$.queue.pending", "$.queue.by_priority.critical",
		"$.queue.by_priority.high", "$.queue.by_priority.normal",
		"$.queue.by_priority.low", "$.queue.oldest_pending_age_s",
		"$.queue.dead_letter", "$.queue.shed_total", "$.store.db_bytes",
		"$.store.wal_bytes", "$.readings_processed", "$.store.mode",
		"$.store.mode_reason" };
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
		MODE,
		MODE_REASON,
		NFIELDS
	};
	char *v[NFIELDS], *reasons;
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		v[i] = ctl_json_get(db, json, fields[i]);
#define S(x) (v[x] != NULL ? v[x] : "-")
	printf("outpost ");
	ctl_paint(t, CTL_BOLD, S(ID));
	printf(": ");
	ctl_paint(t, ctl_state_colour(v[STATUS]), S(STATUS));
	printf(" (version %s, ", S(VERSION));
	ctl_print_age("up", v[UPTIME]);
	printf(")\n");
	reasons = ctl_json_query(db, json,
	    "SELECT group_concat('    ' || value, char(10)) "
	    "FROM json_each(?1, '$.reasons')");
	if (reasons != NULL) {
		ctl_paint(t, ctl_state_colour(v[STATUS]), reasons);
		printf("\n");
	}
	free(reasons);
	printf("  uplink:   ");
	ctl_paint(t, ctl_state_colour(v[CONN]), S(CONN));
	printf(", breaker ");
	ctl_paint(t, ctl_state_colour(v[BREAKER]), S(BREAKER));
	if (v[LAYER] != NULL) {
		printf(", last error at %s: ", v[LAYER]);
		ctl_paint(t, CTL_RED, S(ERRMSG));
	}
	printf("\n  queue:    %s pending (critical %s, high %s, normal %s, "
	       "low %s), ",
	    S(PENDING), S(CRIT), S(HIGH), S(NORMAL), S(LOW));
	ctl_print_age("oldest", v[OLDEST]);
	printf(", %s dead-lettered, %s shed\n", S(DEAD), S(SHED));
	printf("  store:    %.1f MB + %.1f MB WAL, %s readings processed",
	    v[DB] != NULL ? strtod(v[DB], NULL) / 1048576 : 0.0,
	    v[WAL] != NULL ? strtod(v[WAL], NULL) / 1048576 : 0.0,
	    S(PROCESSED));
	if (v[MODE] != NULL) {
		printf(", mode ");
		ctl_paint(t, ctl_state_colour(v[MODE]), v[MODE]);
		if (v[MODE_REASON] != NULL)
			printf(" (%s)", v[MODE_REASON]);
	}
	printf("\n");
#undef S
	ctl_print_adapters(t, db, json);
	for (i = 0; i < NFIELDS; i++)
		free(v[i]);
}

/* One look at /health: prints it and returns the exit code it means. */
static int
ctl_status_once(const struct config *cfg, const struct ctl_status_opts *o,
    const struct ctl_term *t)
{
	sqlite3 *db = NULL;
	char *body = NULL, *cause = NULL, *status = NULL;
	size_t len;
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
	if (o->json) {
		/* One document per line, also under --watch. */
		len = strlen(body);
		while (
		    len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r'))
			body[--len] = '\0';
		printf("%s\n", body);
	} else
		ctl_print_summary(t, db, body);
	if (strcmp(status, "healthy") == 0)
		rc = CTL_HEALTHY;
	else if (strcmp(status, "degraded") == 0)
		rc = CTL_DEGRADED;
out:
	fflush(stdout);
	free(status);
	free(body);
	free(cause);
	sqlite3_close(db);
	return rc;
}

int
ctl_status(const struct config *cfg, const struct ctl_status_opts *o)
{
	struct ctl_term t;
	struct timespec wait;
	sigset_t stop, saved;
	char stamp[64];
	time_t now;
	int rc, tty = isatty(STDOUT_FILENO);

	t.colour = !o->json && ctl_want_colour(stdout);
	if (!o->watch)
		return ctl_status_once(cfg, o, &t);

	/*
	 * SIGINT and SIGTERM stay blocked and are taken by sigtimedwait as
	 * the interval's sleep: a request is never cut short, and the exit
	 * code is that of the last complete look.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, &saved);
	for (;;) {
		now = time(NULL);
		strftime(
		    stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime(&now));
		if (tty && !o->json)
			/* Home and clear: the summary redraws in place. */
			printf("\033[H\033[J");
		if (!o->json) {
			printf("every %gs, %s", o->interval_s, stamp);
			printf(tty ? " (Ctrl-C to stop)\n" : "\n");
		}
		rc = ctl_status_once(cfg, o, &t);
		wait.tv_sec = (time_t)o->interval_s;
		wait.tv_nsec =
		    (long)((o->interval_s - (double)wait.tv_sec) * 1e9);
		if (sigtimedwait(&stop, NULL, &wait) != -1)
			break;
		if (!tty && !o->json)
			printf("\n");
	}
	/*
	 * A second signal may be pending already (timeout(1) signals the
	 * child and then its process group; a user may press Ctrl-C twice):
	 * we are on the way out, so let it go instead of dying of it.
	 */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	sigprocmask(SIG_SETMASK, &saved, NULL);
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
