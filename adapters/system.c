/*
 * The system adapter: the host's own figures (CPU, memory, disk, uptime,
 * load, thermal zones) as readings, one per quantity every interval. The
 * figures come from sysinfo; a source the host lacks is skipped, never
 * faked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "adapter.h"
#include "json_out.h"
#include "log.h"
#include "sysinfo.h"
#include "xmalloc.h"

/* The longest fixed sensor suffix, to check names at configure time. */
#define SYSTEM_LONGEST_SUFFIX ".mem_available_bytes"

struct system {
	int cpu;
	int memory;
	int disk;
	int thermal;
	int uptime;
	int load;
	char *disk_path;	  /* filesystem to report */
	const char *prefix;	  /* sensor prefix, the config's */
	unsigned long long ticks; /* samples taken */
	struct sysinfo *si;
	struct event *timer;
};

static int
system_configure(struct adapter *a, struct config *cfg,
    const struct cfg_device *dev, char **cause)
{
	struct system *s = xcalloc(1, sizeof *s);
	char *disk_path;
	int bad = 0;

	a->priv = s;
	bad |= cfg_get_bool(cfg, dev->table, "cpu", 1, &s->cpu);
	bad |= cfg_get_bool(cfg, dev->table, "memory", 1, &s->memory);
	bad |= cfg_get_bool(cfg, dev->table, "disk", 1, &s->disk);
	bad |= cfg_get_bool(cfg, dev->table, "thermal", 1, &s->thermal);
	bad |= cfg_get_bool(cfg, dev->table, "uptime", 1, &s->uptime);
	bad |= cfg_get_bool(cfg, dev->table, "load", 1, &s->load);
	bad |= cfg_get_string(cfg, dev->table, "disk_path", "/", &disk_path);
	s->disk_path = xstrdup(disk_path != NULL ? disk_path : "/");
	s->prefix = dev->sensor != NULL && *dev->sensor != '\0' ? dev->sensor
								: dev->name;
	if (bad != 0)
		return -1;
	if (!s->cpu && !s->memory && !s->disk && !s->thermal && !s->uptime &&
	    !s->load) {
		cfg_error(cfg, dev->line,
		    "[[device]] %s: every system figure "
		    "is off: nothing to report",
		    dev->name);
		return -1;
	}
	if (*s->disk_path != '/') {
		cfg_error(cfg, dev->line,
		    "[[device]] %s: disk_path must be an "
		    "absolute path: '%s'",
		    dev->name, s->disk_path);
		return -1;
	}
	if (strlen(s->prefix) + strlen(SYSTEM_LONGEST_SUFFIX) >=
	    READING_SENSOR_MAX) {
		cfg_error(cfg, dev->line,
		    "[[device]] %s: sensor '%s' is too "
		    "long for the system sensors (at most %zu characters)",
		    dev->name, s->prefix,
		    READING_SENSOR_MAX - 1 - strlen(SYSTEM_LONGEST_SUFFIX));
		return -1;
	}
	if (!(dev->interval_s > 0)) {
		cfg_error(cfg, dev->line,
		    "[[device]] %s: interval must be "
		    "above 0",
		    dev->name);
		return -1;
	}
	return 0;
}

/* One reading; the name is cut to fit (only thermal names can be long). */
static int
system_submit(struct adapter *a, const char *suffix, const char *unit,
    double value, double ts)
{
	struct system *s = a->priv;
	struct reading r;

	memset(&r, 0, sizeof r);
	/* The prefix length is checked at configure time. */
	if ((size_t)snprintf(r.sensor, sizeof r.sensor, "%s.%s", s->prefix,
		suffix) >= sizeof r.sensor)
		return 0;
	xstrlcpy(r.unit, unit, sizeof r.unit);
	r.value = value;
	r.ts = ts;
	r.ts_local = 1; /* our clock: corrected if it was not trusted */
	adapter_submit(a, &r, NULL, NULL);
	return 1;
}

static double
system_percent(long long part, long long whole)
{
	return 100.0 * (double)part / (double)whole;
}

static void
system_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct adapter *a = arg;
	struct system *s = a->priv;
	struct sysinfo_snapshot snap;
	char name[READING_SENSOR_MAX];
	double ts = adapter_now();
	size_t i;
	int n = 0;

	sysinfo_sample(s->si, &snap);
	/* Readings of one tick share their timestamp. */
	if (s->cpu && snap.has_cpu)
		n += system_submit(
		    a, "cpu_percent", "percent", snap.cpu_percent, ts);
	if (s->memory && snap.has_memory && snap.mem_total_bytes > 0) {
		n += system_submit(a, "mem_used_percent", "percent",
		    system_percent(
			snap.mem_total_bytes - snap.mem_available_bytes,
			snap.mem_total_bytes),
		    ts);
		n += system_submit(a, "mem_available_bytes", "bytes",
		    (double)snap.mem_available_bytes, ts);
	}
	if (s->disk && snap.has_disk && snap.disk_total_bytes > 0) {
		/* Blocks reserved for root count as used: not ours to use. */
		n += system_submit(a, "disk_used_percent", "percent",
		    system_percent(snap.disk_total_bytes - snap.disk_free_bytes,
			snap.disk_total_bytes),
		    ts);
		n += system_submit(a, "disk_free_bytes", "bytes",
		    (double)snap.disk_free_bytes, ts);
	}
	if (s->uptime && snap.has_uptime)
		n += system_submit(a, "uptime_s", "seconds", snap.uptime_s, ts);
	if (s->load && snap.has_load)
		n += system_submit(a, "load1", "", snap.load1, ts);
	if (s->thermal) {
		for (i = 0; i < snap.nthermal; i++) {
			snprintf(name, sizeof name, "thermal.%s",
			    snap.thermal[i].name);
			n += system_submit(
			    a, name, "celsius", snap.thermal[i].celsius, ts);
		}
	}

	s->ticks++;
	if (n == 0) {
		/*
		 * A CPU share needs two samples: a first tick of a CPU-only
		 * device may have nothing yet, and that is no failure.
		 */
		if (s->ticks == 1 && s->cpu && !s->memory && !s->disk &&
		    !s->uptime && !s->load && !s->thermal)
			return;
		adapter_error(a, "no system figure could be read");
		adapter_set_state(a, ADAPTER_ERROR);
		return;
	}
	adapter_set_state(a, ADAPTER_CONNECTED);
}

static int
system_start(struct adapter *a)
{
	struct system *s = a->priv;
	struct timeval tv;
	double interval = a->dev->interval_s;

	if (s->si == NULL)
		s->si = sysinfo_new("/", s->disk_path);
	if (s->timer == NULL)
		s->timer =
		    event_new(a->base, -1, EV_PERSIST, system_timer_cb, a);
	if (s->timer == NULL)
		return -1;
	tv.tv_sec = (time_t)interval;
	tv.tv_usec = (suseconds_t)((interval - (double)tv.tv_sec) * 1e6);
	if (evtimer_add(s->timer, &tv) == -1)
		return -1;
	log_debug(
	    a->name, "sampling every %.3f s, disk %s", interval, s->disk_path);
	return 0;
}

static void
system_stop(struct adapter *a)
{
	struct system *s = a->priv;

	if (s != NULL && s->timer != NULL) {
		event_free(s->timer);
		s->timer = NULL;
	}
}

static void
system_free(struct adapter *a)
{
	struct system *s = a->priv;

	if (s == NULL)
		return;
	system_stop(a);
	sysinfo_free(s->si);
	free(s->disk_path);
	free(s);
	a->priv = NULL;
}

static void
system_status(const struct adapter *a, struct json_out *j)
{
	const struct system *s = a->priv;

	json_out_bool(j, "cpu", s->cpu);
	json_out_bool(j, "memory", s->memory);
	json_out_bool(j, "disk", s->disk);
	json_out_bool(j, "thermal", s->thermal);
	json_out_bool(j, "uptime", s->uptime);
	json_out_bool(j, "load", s->load);
	json_out_string(j, "disk_path", s->disk_path);
	json_out_double(j, "interval_s", a->dev->interval_s);
}

const struct adapter_ops adapter_system_ops = {
	.type = "system",
	.configure = system_configure,
	.start = system_start,
	.stop = system_stop,
	.free = system_free,
	.status = system_status,
};
