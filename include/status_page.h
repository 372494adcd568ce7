/*
 * GET / on the health port: one self-contained HTML page (no external
 * scripts, fonts or styles) for an operator's browser on a slow link. The
 * server renders every current value, so it reads without JavaScript; a
 * small inline script refreshes it from /health and /health/history.
 */
#ifndef OUTPOST_STATUS_PAGE_H
#define OUTPOST_STATUS_PAGE_H

struct agent;
struct evbuffer;
struct json_out;

#define STATUS_PAGE_TYPE "text/html; charset=utf-8"
/* Inline script and styles only; fetches go back to this port. */
#define STATUS_PAGE_CSP                                                  \
	"default-src 'none'; script-src 'unsafe-inline'; "               \
	"style-src 'unsafe-inline'; connect-src 'self'; img-src data:; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* The page, with the agent's current values, appended to out. */
void status_page_render(struct agent *, struct evbuffer *out);
/*
 * The document of GET /health/history: the history's columns and the most
 * recent rows of the events table.
 */
void status_page_render_history(struct agent *, struct json_out *);

#endif
