/*
 * The adapter registry and what every adapter shares: lifecycle, state
 * changes with their log line, error accounting, and filling a reading's
 * device fields before it goes to the pipeline.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "log.h"
#include "xmalloc.h"

static const struct adapter_ops *const adapter_registry[] = {
	&adapter_sim_ops,
	&adapter_system_ops,
	&adapter_mqtt_ops,
	&adapter_http_ops,
	&adapter_file_ops,
};

#define ADAPTER_NTYPES (sizeof adapter_registry / sizeof *adapter_registry)

const struct adapter_ops *
adapter_lookup(const char *type)
{
	size_t i;

	for (i = 0; i < ADAPTER_NTYPES; i++) {
		if (strcmp(adapter_registry[i]->type, type) == 0)
			return adapter_registry[i];
	}
	return NULL;
}

const char *
adapter_types(void)
{
	static char list[128];
	size_t i;

	if (list[0] != '\0')
		return list;
	for (i = 0; i < ADAPTER_NTYPES; i++) {
		if (i > 0)
			strncat(list, ", ", sizeof list - strlen(list) - 1);
		strncat(list, adapter_registry[i]->type,
		    sizeof list - strlen(list) - 1);
	}
	return list;
}

struct adapter *
adapter_new(struct config *cfg, const struct cfg_device *dev, char **cause)
{
	const struct adapter_ops *ops;
	struct adapter *a;

	if ((ops = adapter_lookup(dev->type)) == NULL) {
		cfg_error(cfg, dev->line,
		    "[[device]] %s: unknown type '%s' "
		    "(known: %s)",
		    dev->name, dev->type, adapter_types());
		return NULL;
	}
	a = xcalloc(1, sizeof *a);
	a->ops = ops;
	a->name = xstrdup(dev->name);
	a->dev = dev;
	a->state = ADAPTER_IDLE;
	if (ops->configure(a, cfg, dev, cause) == -1) {
		adapter_free(a);
		return NULL;
	}
	return a;
}

int
adapter_start(
    struct adapter *a, struct event_base *base, struct pipeline_src *src)
{
	a->base = base;
	a->src = src;
	return a->ops->start(a);
}

void
adapter_stop(struct adapter *a)
{
	if (a == NULL || a->state == ADAPTER_STOPPED)
		return;
	a->ops->stop(a);
	adapter_set_state(a, ADAPTER_STOPPED);
}

void
adapter_free(struct adapter *a)
{
	if (a == NULL)
		return;
	if (a->base != NULL)
		adapter_stop(a);
	if (a->ops->free != NULL)
		a->ops->free(a);
	free(a->name);
	free(a);
}

static const char *const adapter_state_names[] = { "idle", "connecting",
	"connected", "error", "stopped" };

const char *
adapter_state_name(enum adapter_state s)
{
	if ((unsigned)s >=
	    sizeof adapter_state_names / sizeof *adapter_state_names)
		return "unknown";
	return adapter_state_names[s];
}

void
adapter_set_state(struct adapter *a, enum adapter_state s)
{
	if (a->state == s)
		return;
	log_info(a->name, "%s -> %s", adapter_state_name(a->state),
	    adapter_state_name(s));
	a->state = s;
}

void
adapter_error(struct adapter *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->last_error, sizeof a->last_error, fmt, ap);
	va_end(ap);
	a->errors++;
	log_warn(a->name, "%s", a->last_error);
}

double
adapter_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
adapter_submit(
    struct adapter *a, struct reading *r, pipeline_done_cb *done, void *arg)
{
	const struct cfg_device *dev = a->dev;
	struct timespec mono;

	xstrlcpy(r->device, dev->name, sizeof r->device);
	if (r->sensor[0] == '\0')
		xstrlcpy(r->sensor, dev->sensor, sizeof r->sensor);
	if (r->unit[0] == '\0')
		xstrlcpy(r->unit, dev->unit, sizeof r->unit);
	r->priority = dev->priority;
	/* Only our own stamps can be corrected once the clock is trusted. */
	if (r->ts == 0) {
		r->ts = adapter_now();
		r->ts_local = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &mono);
	r->mono_ns =
	    (uint64_t)mono.tv_sec * 1000000000ULL + (uint64_t)mono.tv_nsec;
	a->readings++;
	a->last_reading_ts = r->ts;
	return pipeline_submit(a->src, r, done, arg);
}
