/*
 * The agent: owns the event base and every component, starts and stops
 * them in order, reloads the config on SIGHUP. The only module that knows
 * all others; health and metrics read its state through these accessors.
 */
#ifndef OUTPOST_AGENT_H
#define OUTPOST_AGENT_H

#include <stddef.h>

#include "config.h"

struct adapter;
struct agent;
struct event_base;
struct history;
struct pipeline;
struct privacy;
struct rules;
struct spool;
struct store;
struct uplink;
struct sysinfo;
struct pressure;
struct summary;
struct wallclock;

/*
 * Validates cfg fully (adapters included) as --check and reload do; the
 * problems are in cfg->errors. Returns the number of errors.
 */
size_t agent_check_config(struct config *);

/* Takes ownership of cfg. NULL with *cause on a start-up failure. */
struct agent *agent_new(struct config *cfg, char **cause);
/* Runs the loop until SIGTERM/SIGINT; returns the exit code. */
int agent_run(struct agent *);
void agent_free(struct agent *);

/* Stops the loop after the current callbacks (tests, signals). */
void agent_stop(struct agent *);

struct event_base *agent_base(struct agent *);
const struct config *agent_config(struct agent *);
struct store *agent_store(struct agent *);
struct pipeline *agent_pipeline(struct agent *);
struct spool *agent_spool(struct agent *);
struct uplink *agent_uplink(struct agent *);
struct sysinfo *agent_sysinfo(struct agent *);
size_t agent_adapter_count(struct agent *);
struct adapter *agent_adapter_at(struct agent *, size_t);
double agent_start_time(struct agent *); /* Unix seconds */
double agent_uptime_s(struct agent *);
unsigned long long agent_reloads(struct agent *);
/* The status page's last hour; NULL before the agent is running. */
struct history *agent_history(struct agent *);
/* Clock trust, summaries, storage pressure (NULL before they exist). */
struct wallclock *agent_wallclock(struct agent *);
struct summary *agent_summary(struct agent *);
struct pressure *agent_pressure(struct agent *);
/* The privacy firewall and the rules (rebuilt on reload; NULL early). */
struct privacy *agent_privacy(struct agent *);
struct rules *agent_rules(struct agent *);

/* Admin entry points (the only way health changes anything). */
int agent_admin_flush(struct agent *, char **cause);
int agent_admin_purge(
    struct agent *, double older_than_s, long long *purged, char **cause);

#endif
