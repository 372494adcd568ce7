/*
 * /metrics: the Prometheus text exposition format 0.0.4 (HELP and TYPE for
 * every family, counters ending in _total, label values escaped) and the
 * JSON view of the system figures. Rendered from agent accessors on each
 * scrape; nothing is cached between scrapes.
 */
#include <sys/resource.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "adapter.h"
#include "agent.h"
#include "health.h"
#include "json_out.h"
#include "metrics.h"
#include "pipeline.h"
#include "pressure.h"
#include "privacy.h"
#include "rules.h"
#include "store.h"
#include "summary.h"
#include "sysinfo.h"
#include "uplink.h"
#include "version.h"
#include "wallclock.h"

static void metrics_double(struct evbuffer *, const char *, double, ...)
    __attribute__((sentinel));
static void metrics_int(struct evbuffer *, const char *, unsigned long long,
    ...) __attribute__((sentinel));

static double
metrics_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
metrics_family(
    struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(
	    b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline are escaped. */
static void
metrics_label_value(struct evbuffer *b, const char *v)
{
	const char *run = v;

	for (; *v != '\0'; v++) {
		if (*v != '\\' && *v != '"' && *v != '\n')
			continue;
		evbuffer_add(b, run, (size_t)(v - run));
		evbuffer_add(b,
		    *v == '\\'	    ? "\\\\"
			: *v == '"' ? "\\\""
				    : "\\n",
		    2);
		run = v + 1;
	}
	evbuffer_add(b, run, (size_t)(v - run));
}

/* name{k="v",...} value: the labels are name, value pairs ending in NULL. */
static void
metrics_vsample(
    struct evbuffer *b, const char *name, const char *value, va_list ap)
{
	const char *k, *v;
	int first = 1;

	evbuffer_add(b, name, strlen(name));
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		evbuffer_add_printf(b, "%s%s=\"", first ? "{" : ",", k);
		metrics_label_value(b, v != NULL ? v : "");
		evbuffer_add(b, "\"", 1);
		first = 0;
	}
	if (!first)
		evbuffer_add(b, "}", 1);
	evbuffer_add_printf(b, " %s\n", value);
}

static void
metrics_double(struct evbuffer *b, const char *name, double v, ...)
{
	va_list ap;
	char buf[32];

	if (isnan(v))
		snprintf(buf, sizeof buf, "NaN");
	else if (isinf(v))
		snprintf(buf, sizeof buf, "%s", v > 0 ? "+Inf" : "-Inf");
	else
		json_out_format_double(buf, v);
	va_start(ap, v);
	metrics_vsample(b, name, buf, ap);
	va_end(ap);
}

/* Integers print exactly, even above 2^53. */
static void
metrics_int(struct evbuffer *b, const char *name, unsigned long long v, ...)
{
	va_list ap;
	char buf[32];

	snprintf(buf, sizeof buf, "%llu", v);
	va_start(ap, v);
	metrics_vsample(b, name, buf, ap);
	va_end(ap);
}

/* One unlabelled gauge. */
static void
metrics_gauge(struct evbuffer *b, const char *name, const char *help, double v)
{
	metrics_family(b, name, "gauge", help);
	metrics_double(b, name, v, NULL);
}

/* One unlabelled counter. */
static void
metrics_counter(struct evbuffer *b, const char *name, const char *help,
    unsigned long long v)
{
	metrics_family(b, name, "counter", help);
	metrics_int(b, name, v, NULL);
}

static void
metrics_agent(
    struct agent *ag, struct evbuffer *b, const struct pipeline_stats *ps)
{
	const struct config *cfg = agent_config(ag);

	metrics_family(b, "outpost_info", "gauge",
	    "Version and id of this agent (always 1).");
	metrics_int(b, "outpost_info", 1, "version", OUTPOST_VERSION,
	    "agent_id", cfg->agent.id, NULL);
	metrics_family(b, "outpost_uptime_seconds", "gauge",
	    "Seconds since the agent started.");
	metrics_double(b, "outpost_uptime_seconds", agent_uptime_s(ag), NULL);
	metrics_family(b, "outpost_config_reloads_total", "counter",
	    "Configuration reloads applied (SIGHUP).");
	metrics_int(b, "outpost_config_reloads_total", agent_reloads(ag), NULL);

	metrics_family(b, "outpost_readings_total", "counter",
	    "Readings by outcome: committed to the store, filtered by "
	    "privacy, dropped.");
	metrics_int(b, "outpost_readings_total", ps->committed, "result",
	    "committed", NULL);
	metrics_int(b, "outpost_readings_total", ps->filtered, "result",
	    "filtered", NULL);
	metrics_int(b, "outpost_readings_total", ps->dropped, "result",
	    "dropped", NULL);
	metrics_family(b, "outpost_readings_buffered", "gauge",
	    "Readings waiting for the next group commit.");
	metrics_int(b, "outpost_readings_buffered", ps->buffered, NULL);
	metrics_family(b, "outpost_store_commits_total", "counter",
	    "Group-commit transactions.");
	metrics_int(b, "outpost_store_commits_total", ps->commits, NULL);
	metrics_family(b, "outpost_store_commit_failures_total", "counter",
	    "Group-commit transactions that failed.");
	metrics_int(b, "outpost_store_commit_failures_total",
	    ps->commit_failures, NULL);
}

static void
metrics_adapters(struct agent *ag, struct evbuffer *b)
{
	struct adapter *a;
	size_t i, n = agent_adapter_count(ag);
	int any_last = 0;

	if (n == 0)
		return;
	metrics_family(b, "outpost_adapter_readings_total", "counter",
	    "Readings an adapter handed to the pipeline.");
	for (i = 0; i < n; i++) {
		if ((a = agent_adapter_at(ag, i)) != NULL)
			metrics_int(b, "outpost_adapter_readings_total",
			    a->readings, "adapter", a->name, "type",
			    a->ops->type, NULL);
	}
	metrics_family(b, "outpost_adapter_errors_total", "counter",
	    "Errors an adapter met (connection, parse, read).");
	for (i = 0; i < n; i++) {
		if ((a = agent_adapter_at(ag, i)) != NULL)
			metrics_int(b, "outpost_adapter_errors_total",
			    a->errors, "adapter", a->name, "type", a->ops->type,
			    NULL);
	}
	metrics_family(b, "outpost_adapter_up", "gauge",
	    "1 when the adapter is connected (or sampling), else 0.");
	for (i = 0; i < n; i++) {
		if ((a = agent_adapter_at(ag, i)) != NULL)
			metrics_int(b, "outpost_adapter_up",
			    a->state == ADAPTER_CONNECTED, "adapter", a->name,
			    "type", a->ops->type, NULL);
	}
	for (i = 0; i < n; i++) {
		if ((a = agent_adapter_at(ag, i)) == NULL ||
		    a->last_reading_ts <= 0)
			continue;
		if (!any_last)
			metrics_family(b,
			    "outpost_adapter_last_reading_timestamp_seconds",
			    "gauge",
			    "Unix time of the adapter's last reading.");
		any_last = 1;
		metrics_double(b,
		    "outpost_adapter_last_reading_timestamp_seconds",
		    a->last_reading_ts, "adapter", a->name, "type",
		    a->ops->type, NULL);
	}
}

static void
metrics_queue(struct evbuffer *b, const struct store_queue_stats *qs)
{
	int i;

	metrics_family(b, "outpost_queue_pending", "gauge",
	    "Records waiting for upload, by priority.");
	for (i = 0; i < PRIORITY_COUNT; i++)
		metrics_int(b, "outpost_queue_pending",
		    (unsigned long long)qs->by_priority[i], "priority",
		    priority_name((enum priority)i), NULL);
	metrics_family(b, "outpost_queue_in_flight", "gauge",
	    "Records claimed by an upload not yet acknowledged.");
	metrics_int(b, "outpost_queue_in_flight",
	    (unsigned long long)qs->in_flight, NULL);
	metrics_family(b, "outpost_queue_dead_letter", "gauge",
	    "Records the collector rejected, kept for inspection.");
	metrics_int(b, "outpost_queue_dead_letter",
	    (unsigned long long)qs->dead_letter, NULL);
	metrics_family(b, "outpost_queue_oldest_pending_age_seconds", "gauge",
	    "Age of the oldest pending record; 0 when none is pending.");
	metrics_double(b, "outpost_queue_oldest_pending_age_seconds",
	    qs->oldest_pending_ts > 0
		? fmax(0, metrics_now() - qs->oldest_pending_ts)
		: 0,
	    NULL);
	metrics_family(b, "outpost_shed_total", "counter",
	    "Records shed to keep the store under max_db_mb.");
	metrics_int(
	    b, "outpost_shed_total", (unsigned long long)qs->shed_total, NULL);
}

/* Storage pressure, summaries and the wall clock's trust. */
static void
metrics_storage(struct agent *ag, struct evbuffer *b)
{
	struct pressure *pr = agent_pressure(ag);
	struct summary *sm = agent_summary(ag);
	struct wallclock *c = agent_wallclock(ag);
	struct pressure_stats prs;
	struct summary_stats ss;
	struct wallclock_stats cs;

	if (pr != NULL) {
		pressure_stats(pr, &prs);
		metrics_family(b, "outpost_store_mode", "gauge",
		    "Storage mode: 0 normal, 1 degraded (80% of max_db_mb or "
		    "disk full), 2 critical_only (95%).");
		metrics_int(b, "outpost_store_mode",
		    (unsigned long long)prs.mode, NULL);
		metrics_family(b, "outpost_store_fill_ratio", "gauge",
		    "Live database pages over max_db_mb.");
		metrics_double(b, "outpost_store_fill_ratio", prs.fill, NULL);
		metrics_family(b, "outpost_store_full", "gauge",
		    "1 while writes fail with SQLITE_FULL.");
		metrics_int(b, "outpost_store_full",
		    (unsigned long long)prs.full, NULL);
		metrics_family(b, "outpost_store_purged_summarized_total",
		    "counter",
		    "Raw readings purged under pressure after being summarized.");
		metrics_int(b, "outpost_store_purged_summarized_total",
		    prs.purged_summarized, NULL);
	}
	if (sm != NULL) {
		summary_stats(sm, &ss);
		metrics_family(b, "outpost_summaries_written_total", "counter",
		    "Summary rows written by folding closed periods.");
		metrics_int(
		    b, "outpost_summaries_written_total", ss.rows, NULL);
	}
	if (c != NULL) {
		wallclock_stats(c, &cs);
		metrics_family(b, "outpost_clock_trusted", "gauge",
		    "1 when the wall clock is trusted (trusted_after, sync).");
		metrics_int(b, "outpost_clock_trusted",
		    (unsigned long long)cs.trusted, NULL);
		metrics_family(b, "outpost_clock_corrected_total", "counter",
		    "Stored readings whose timestamp was corrected once the "
		    "clock was trusted.");
		metrics_int(
		    b, "outpost_clock_corrected_total", cs.corrected, NULL);
	}
}

static void
metrics_store(struct agent *ag, struct evbuffer *b)
{
	struct store *st = agent_store(ag);
	long long v;

	if (st == NULL)
		return;
	if ((v = store_db_bytes(st)) >= 0) {
		metrics_family(b, "outpost_store_db_bytes", "gauge",
		    "Size of the SQLite database file.");
		metrics_int(
		    b, "outpost_store_db_bytes", (unsigned long long)v, NULL);
	}
	if ((v = store_wal_bytes(st)) >= 0) {
		metrics_family(b, "outpost_store_wal_bytes", "gauge",
		    "Size of the SQLite write-ahead log.");
		metrics_int(
		    b, "outpost_store_wal_bytes", (unsigned long long)v, NULL);
	}
	if ((v = store_count_events(st)) >= 0) {
		metrics_family(b, "outpost_events_total", "counter",
		    "Rule events stored.");
		metrics_int(
		    b, "outpost_events_total", (unsigned long long)v, NULL);
	}
	metrics_storage(ag, b);
}

static void
metrics_uplink_histogram(struct evbuffer *b, const struct uplink_stats *us)
{
	static const char *name = "outpost_upload_duration_seconds";
	char le[32];
	int i;

	metrics_family(b, name, "histogram",
	    "Duration of upload requests, connect to answer.");
	for (i = 0; i < UPLINK_DURATION_BUCKETS; i++) {
		json_out_format_double(le, us->duration_bounds[i]);
		metrics_int(b, "outpost_upload_duration_seconds_bucket",
		    us->duration_counts[i], "le", le, NULL);
	}
	metrics_int(b, "outpost_upload_duration_seconds_bucket",
	    us->duration_counts[UPLINK_DURATION_BUCKETS], "le", "+Inf", NULL);
	metrics_double(
	    b, "outpost_upload_duration_seconds_sum", us->duration_sum, NULL);
	metrics_int(b, "outpost_upload_duration_seconds_count",
	    us->duration_counts[UPLINK_DURATION_BUCKETS], NULL);
}

static void
metrics_uplink(struct agent *ag, struct evbuffer *b)
{
	static const char *const results[UPLINK_NRESULTS] = { "ok", "retry",
		"rejected", "error" };
	struct uplink *u = agent_uplink(ag);
	struct uplink_stats us;
	int i;

	if (u == NULL)
		return;
	uplink_stats(u, &us);
	/* Enum gauges: one series per state, 1 for the current one. */
	metrics_family(b, "outpost_uplink_state", "gauge",
	    "Uplink connection state (1 for the current state).");
	for (i = UPLINK_DISABLED; i <= UPLINK_ERROR; i++)
		metrics_int(b, "outpost_uplink_state", (int)us.state == i,
		    "state", uplink_state_name((enum uplink_state)i), NULL);
	metrics_family(b, "outpost_uplink_breaker_state", "gauge",
	    "Circuit breaker state (1 for the current state).");
	for (i = UPLINK_BREAKER_CLOSED; i <= UPLINK_BREAKER_HALF_OPEN; i++)
		metrics_int(b, "outpost_uplink_breaker_state",
		    (int)us.breaker == i, "state",
		    uplink_breaker_name((enum uplink_breaker)i), NULL);
	metrics_gauge(b, "outpost_uplink_consecutive_failures",
	    "Upload failures since the last success.",
	    (double)us.consecutive_failures);
	if (us.last_success > 0)
		metrics_gauge(b,
		    "outpost_uplink_last_success_timestamp_seconds",
		    "Unix time of the last accepted upload.", us.last_success);
	metrics_family(b, "outpost_uploads_total", "counter",
	    "Upload requests by result: ok, retry (408, 429, 5xx), rejected "
	    "(other 4xx), error (no usable answer).");
	for (i = 0; i < UPLINK_NRESULTS; i++)
		metrics_int(b, "outpost_uploads_total", us.uploads[i], "result",
		    results[i], NULL);
	metrics_counter(b, "outpost_uplink_records_sent_total",
	    "Records the collector accepted.", us.records_sent);
	metrics_counter(b, "outpost_uplink_records_dead_total",
	    "Records moved to the dead-letter state.", us.records_dead);
	metrics_counter(b, "outpost_uplink_body_bytes_total",
	    "Request body bytes sent (after compression).", us.bytes_sent);
	metrics_counter(b, "outpost_uplink_wire_bytes_total",
	    "Socket bytes both ways, TLS included.", us.wire_bytes);
	metrics_uplink_histogram(b, &us);
	if (us.budget_bytes > 0) {
		metrics_gauge(b, "outpost_uplink_budget_bytes",
		    "Daily upload byte budget.", (double)us.budget_bytes);
		metrics_gauge(b, "outpost_uplink_budget_used_bytes",
		    "Bytes used of today's budget (UTC).",
		    (double)us.budget_used);
	}
	if (us.ca_expiry < 0 && us.cert_expiry < 0)
		return;
	/* Seconds left, so an alert is a plain threshold (negative:
	 * expired). */
	metrics_family(b, "outpost_tls_cert_expiry_seconds", "gauge",
	    "Seconds until a cloud TLS certificate expires (cert=ca: the "
	    "earliest in ca_file; cert=client: the mTLS certificate).");
	if (us.ca_expiry >= 0)
		metrics_double(b, "outpost_tls_cert_expiry_seconds",
		    (double)us.ca_expiry - metrics_now(), "cert", "ca", NULL);
	if (us.cert_expiry >= 0)
		metrics_double(b, "outpost_tls_cert_expiry_seconds",
		    (double)us.cert_expiry - metrics_now(), "cert", "client",
		    NULL);
}

static void
metrics_system(struct evbuffer *b, const struct sysinfo_snapshot *s)
{
	size_t i;

	if (s->has_cpu)
		metrics_gauge(b, "outpost_system_cpu_percent",
		    "Host CPU busy share since the previous sample.",
		    s->cpu_percent);
	if (s->has_memory) {
		metrics_gauge(b, "outpost_system_memory_total_bytes",
		    "Host memory (MemTotal).", (double)s->mem_total_bytes);
		metrics_gauge(b, "outpost_system_memory_available_bytes",
		    "Host memory available (MemAvailable).",
		    (double)s->mem_available_bytes);
	}
	if (s->has_disk) {
		metrics_gauge(b, "outpost_system_disk_total_bytes",
		    "Size of the filesystem holding the data dir.",
		    (double)s->disk_total_bytes);
		metrics_gauge(b, "outpost_system_disk_free_bytes",
		    "Space on that filesystem available to the agent.",
		    (double)s->disk_free_bytes);
	}
	if (s->has_uptime)
		metrics_gauge(b, "outpost_system_uptime_seconds",
		    "Seconds since the host booted.", s->uptime_s);
	if (s->has_load) {
		metrics_gauge(b, "outpost_system_load1",
		    "Host load average over 1 minute.", s->load1);
		metrics_gauge(b, "outpost_system_load5",
		    "Host load average over 5 minutes.", s->load5);
		metrics_gauge(b, "outpost_system_load15",
		    "Host load average over 15 minutes.", s->load15);
	}
	if (s->nthermal > 0) {
		metrics_family(b, "outpost_system_thermal_celsius", "gauge",
		    "Temperature of each thermal zone.");
		for (i = 0; i < s->nthermal; i++)
			metrics_double(b, "outpost_system_thermal_celsius",
			    s->thermal[i].celsius, "zone", s->thermal[i].name,
			    NULL);
	}
}

/* The standard process_* families client libraries export. */
static void
metrics_process(struct evbuffer *b)
{
	struct sysinfo_process p;
	struct rlimit rl;

	if (sysinfo_process(&p) == 0) {
		metrics_gauge(b, "process_resident_memory_bytes",
		    "Resident memory size in bytes.", (double)p.rss_bytes);
		metrics_gauge(b, "process_virtual_memory_bytes",
		    "Virtual memory size in bytes.", (double)p.vm_bytes);
		metrics_family(b, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.");
		metrics_double(
		    b, "process_cpu_seconds_total", p.cpu_seconds, NULL);
		metrics_gauge(b, "process_open_fds",
		    "Number of open file descriptors.", (double)p.open_fds);
		metrics_gauge(b, "process_start_time_seconds",
		    "Start time of the process since unix epoch in seconds.",
		    p.start_time);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		metrics_gauge(b, "process_max_fds",
		    "Maximum number of open file descriptors.",
		    (double)rl.rlim_cur);
}

/* Every family, rendered from the agent's state now. */
/* The privacy firewall's and the rules' counters, per rule. */
static void
metrics_edge(struct agent *ag, struct evbuffer *b)
{
	struct privacy *pv = agent_privacy(ag);
	struct rules *rs = agent_rules(ag);
	struct privacy_rule_stat ps;
	struct privacy_stats pst;
	struct rules_stat st;
	size_t i, ndrop = 0;
	int drop;

	if (pv != NULL) {
		privacy_stats(pv, &pst);
		for (i = 0; privacy_rule_stat(pv, i, &ps) == 0; i++)
			ndrop +=
			    ps.kind == PRIVACY_DENY || ps.kind == PRIVACY_ALLOW;
		/* A family is written only when it has samples. */
		if (ndrop > 0)
			metrics_family(b, "outpost_privacy_dropped_total",
			    "counter",
			    "Readings the privacy firewall dropped, by rule "
			    "(deny:GLOB, or allow when no allow glob "
			    "matched).");
		for (i = 0; privacy_rule_stat(pv, i, &ps) == 0; i++) {
			drop =
			    ps.kind == PRIVACY_DENY || ps.kind == PRIVACY_ALLOW;
			if (drop)
				metrics_int(b, "outpost_privacy_dropped_total",
				    ps.count, "rule", ps.label, NULL);
		}
		if (ndrop < privacy_rule_count(pv))
			metrics_family(b, "outpost_privacy_applied_total",
			    "counter",
			    "Readings a redact, hash or quantize rule "
			    "changed.");
		for (i = 0; privacy_rule_stat(pv, i, &ps) == 0; i++) {
			drop =
			    ps.kind == PRIVACY_DENY || ps.kind == PRIVACY_ALLOW;
			if (!drop)
				metrics_int(b, "outpost_privacy_applied_total",
				    ps.count, "rule", ps.label, NULL);
		}
		metrics_counter(b, "outpost_privacy_meta_removed_total",
		    "Readings whose metadata was removed whole (not a JSON "
		    "object).",
		    pst.meta_invalid);
	}
	if (rules_count(rs) == 0)
		return;
	metrics_family(b, "outpost_rule_events_total", "counter",
	    "Rule transitions, by rule and kind (fire, clear).");
	for (i = 0; rules_stat(rs, i, &st) == 0; i++) {
		metrics_int(b, "outpost_rule_events_total", st.fired, "rule",
		    st.name, "kind", "fire", NULL);
		metrics_int(b, "outpost_rule_events_total", st.cleared, "rule",
		    st.name, "kind", "clear", NULL);
	}
	metrics_family(b, "outpost_rule_firing", "gauge",
	    "Sensors for which the rule is firing now.");
	for (i = 0; rules_stat(rs, i, &st) == 0; i++)
		metrics_int(
		    b, "outpost_rule_firing", st.firing, "rule", st.name, NULL);
	metrics_family(b, "outpost_rule_actions_total", "counter",
	    "Exec actions a rule started or queued.");
	for (i = 0; rules_stat(rs, i, &st) == 0; i++)
		metrics_int(b, "outpost_rule_actions_total", st.actions, "rule",
		    st.name, NULL);
	metrics_family(b, "outpost_rule_action_errors_total", "counter",
	    "Exec actions that failed: spawn error, non-zero exit, "
	    "signal, timeout, queue full.");
	for (i = 0; rules_stat(rs, i, &st) == 0; i++)
		metrics_int(b, "outpost_rule_action_errors_total",
		    st.action_errors, "rule", st.name, NULL);
}

void
metrics_render_prometheus(struct agent *ag, struct evbuffer *b)
{
	struct pipeline *p = agent_pipeline(ag);
	struct store *st = agent_store(ag);
	struct sysinfo *si = agent_sysinfo(ag);
	struct pipeline_stats ps;
	struct store_queue_stats qs;
	struct sysinfo_snapshot snap;
	int have_queue = 0;

	memset(&ps, 0, sizeof ps);
	if (p != NULL)
		pipeline_stats(p, &ps);
	memset(&qs, 0, sizeof qs);
	if (st != NULL && store_queue_stats(st, &qs) == 0)
		have_queue = 1;

	metrics_agent(ag, b, &ps);
	metrics_family(b, "outpost_health_status", "gauge",
	    "0 healthy, 1 degraded, 2 unhealthy (as GET /health).");
	metrics_int(b, "outpost_health_status",
	    (unsigned long long)health_evaluate(
		ag, &ps, have_queue ? &qs : NULL),
	    NULL);
	metrics_adapters(ag, b);
	metrics_edge(ag, b);
	/* Without queue figures the families are left out, not zeroed. */
	if (have_queue)
		metrics_queue(b, &qs);
	metrics_store(ag, b);
	metrics_uplink(ag, b);
	if (si != NULL) {
		sysinfo_sample(si, &snap);
		metrics_system(b, &snap);
	}
	metrics_process(b);
}

static void
metrics_json_bytes(struct json_out *j, const char *key, int has, long long v)
{
	if (has)
		json_out_int(j, key, v);
	else
		json_out_null(j, key);
}

/* The members of a "system" object; absent sources are null. */
void
metrics_system_fields(struct json_out *j, const struct sysinfo_snapshot *s)
{
	size_t i;

	if (s->has_cpu)
		json_out_double(j, "cpu_percent", s->cpu_percent);
	else
		json_out_null(j, "cpu_percent");
	metrics_json_bytes(
	    j, "mem_total_bytes", s->has_memory, s->mem_total_bytes);
	metrics_json_bytes(
	    j, "mem_available_bytes", s->has_memory, s->mem_available_bytes);
	if (s->has_memory && s->mem_total_bytes > 0)
		json_out_double(j, "mem_used_percent",
		    100.0 *
			(double)(s->mem_total_bytes - s->mem_available_bytes) /
			(double)s->mem_total_bytes);
	else
		json_out_null(j, "mem_used_percent");
	metrics_json_bytes(
	    j, "disk_total_bytes", s->has_disk, s->disk_total_bytes);
	metrics_json_bytes(
	    j, "disk_free_bytes", s->has_disk, s->disk_free_bytes);
	if (s->has_disk && s->disk_total_bytes > 0)
		json_out_double(j, "disk_used_percent",
		    100.0 * (double)(s->disk_total_bytes - s->disk_free_bytes) /
			(double)s->disk_total_bytes);
	else
		json_out_null(j, "disk_used_percent");
	if (s->has_uptime)
		json_out_double(j, "uptime_s", s->uptime_s);
	else
		json_out_null(j, "uptime_s");
	if (s->has_load) {
		json_out_array_begin(j, "load");
		json_out_double(j, NULL, s->load1);
		json_out_double(j, NULL, s->load5);
		json_out_double(j, NULL, s->load15);
		json_out_array_end(j);
	} else
		json_out_null(j, "load");
	json_out_array_begin(j, "thermal");
	for (i = 0; i < s->nthermal; i++) {
		json_out_object_begin(j, NULL);
		json_out_string(j, "name", s->thermal[i].name);
		json_out_double(j, "celsius", s->thermal[i].celsius);
		json_out_object_end(j);
	}
	json_out_array_end(j);
}

/* GET /metrics?format=json: system figures and this process. */
void
metrics_render_system_json(struct agent *ag, struct json_out *j)
{
	const struct config *cfg = agent_config(ag);
	struct sysinfo *si = agent_sysinfo(ag);
	struct sysinfo_snapshot snap;
	struct sysinfo_process p;

	json_out_object_begin(j, NULL);
	json_out_string(j, "agent_id", cfg->agent.id);
	json_out_double(j, "ts", metrics_now());
	if (si != NULL) {
		sysinfo_sample(si, &snap);
		metrics_system_fields(j, &snap);
	}
	if (sysinfo_process(&p) == 0) {
		json_out_object_begin(j, "process");
		json_out_int(j, "rss_bytes", p.rss_bytes);
		json_out_int(j, "vm_bytes", p.vm_bytes);
		json_out_double(j, "cpu_seconds", p.cpu_seconds);
		json_out_int(j, "open_fds", p.open_fds);
		json_out_double(j, "start_time", p.start_time);
		json_out_object_end(j);
	} else
		json_out_null(j, "process");
	json_out_object_end(j);
}
