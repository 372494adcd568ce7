/*
 * The control commands that talk to a running agent over its health port:
 * `outpost status` and `outpost flush`. They run outside the agent, so they
 * may block (with timeouts).
 */
#ifndef OUTPOST_CTL_H
#define OUTPOST_CTL_H

struct config;

/* Exit codes of `outpost status`. */
#define CTL_HEALTHY 0
#define CTL_DEGRADED 1
#define CTL_UNHEALTHY 2

struct ctl_status_opts {
	int json;	   /* the /health document instead of the summary */
	int watch;	   /* refresh every interval_s until SIGINT/SIGTERM */
	double interval_s; /* --interval, for --watch */
};

#define CTL_WATCH_INTERVAL_S 2.0
#define CTL_WATCH_MIN_INTERVAL_S 0.1
#define CTL_WATCH_MAX_INTERVAL_S 86400.0

/*
 * Prints the running agent's status; returns the CTL_* code of the last
 * look (under --watch, when a signal stops it).
 */
int ctl_status(const struct config *, const struct ctl_status_opts *);
int ctl_flush(const struct config *);

/*
 * One blocking HTTP/1.0 request to host:port with a timeout; returns the
 * status code and sets *body (allocated), or -1 with *cause.
 */
int ctl_request(const char *listen, const char *method, const char *path,
    const char *token, double timeout_s, char **body, char **cause);

#endif
