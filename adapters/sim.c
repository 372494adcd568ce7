/*
 * The simulator: one sensor following a waveform (sine, random walk, step,
 * noise) between min and max, sampled every interval. A fixed seed makes a
 * run reproducible for tests.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "adapter.h"
#include "json_out.h"
#include "log.h"
#include "xmalloc.h"

enum sim_waveform {
	SIM_SINE,
	SIM_RANDOM_WALK,
	SIM_STEP,
	SIM_NOISE,
};

static const char *const sim_waveform_names[] = { "sine", "random_walk", "step",
	"noise", NULL };

struct sim {
	enum sim_waveform waveform;
	double min;
	double max;
	double period_s;
	long long seed; /* 0 = from time and pid */
	uint64_t rng;
	double walk;	/* random walk position */
	double started; /* monotonic seconds */
	struct event *timer;
};

static double
sim_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: small, fast, good enough for test signals. */
static double
sim_random(struct sim *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (double)((s->rng * 2685821657736338717ULL) >> 11) /
	    (double)(1ULL << 53);
}

static int
sim_configure(struct adapter *a, struct config *cfg,
    const struct cfg_device *dev, char **cause)
{
	struct sim *s = xcalloc(1, sizeof *s);
	int waveform, bad = 0;

	a->priv = s;
	bad |= cfg_get_enum(cfg, dev->table, "waveform", sim_waveform_names,
	    SIM_SINE, &waveform);
	bad |=
	    cfg_get_double(cfg, dev->table, "min", 0.0, -1e300, 1e300, &s->min);
	bad |= cfg_get_double(
	    cfg, dev->table, "max", 100.0, -1e300, 1e300, &s->max);
	bad |= cfg_get_double(
	    cfg, dev->table, "period", 60.0, 0.001, 1e9, &s->period_s);
	bad |= cfg_get_int(cfg, dev->table, "seed", 0, 0, INT64_MAX, &s->seed);
	s->waveform = (enum sim_waveform)waveform;
	if (bad == 0 && s->min > s->max) {
		cfg_error(cfg, dev->line,
		    "[[device]] %s: min (%g) is above "
		    "max (%g)",
		    dev->name, s->min, s->max);
		bad = -1;
	}
	return bad ? -1 : 0;
}

static double
sim_value(struct sim *s)
{
	double span = s->max - s->min;
	double t = sim_monotonic() - s->started;
	double phase = fmod(t, s->period_s) / s->period_s;

	switch (s->waveform) {
	case SIM_SINE:
		return s->min + span * (0.5 + 0.5 * sin(2 * M_PI * phase));
	case SIM_RANDOM_WALK:
		s->walk += (sim_random(s) - 0.5) * span * 0.04;
		if (s->walk < s->min)
			s->walk = s->min;
		if (s->walk > s->max)
			s->walk = s->max;
		return s->walk;
	case SIM_STEP:
		return phase < 0.5 ? s->min : s->max;
	case SIM_NOISE:
		return s->min + span * sim_random(s);
	}
	return s->min;
}

static void
sim_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct adapter *a = arg;
	struct reading r;

	memset(&r, 0, sizeof r);
	r.value = sim_value(a->priv);
	adapter_submit(a, &r, NULL, NULL);
}

static int
sim_start(struct adapter *a)
{
	struct sim *s = a->priv;
	struct timeval tv;
	double interval = a->dev->interval_s;

	s->rng = s->seed != 0
	    ? (uint64_t)s->seed
	    : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (s->rng == 0)
		s->rng = 0x9e3779b97f4a7c15ULL;
	s->walk = s->min + (s->max - s->min) / 2;
	s->started = sim_monotonic();
	s->timer = event_new(a->base, -1, EV_PERSIST, sim_timer_cb, a);
	tv.tv_sec = (time_t)interval;
	tv.tv_usec = (suseconds_t)((interval - (double)tv.tv_sec) * 1e6);
	if (evtimer_add(s->timer, &tv) == -1)
		return -1;
	adapter_set_state(a, ADAPTER_CONNECTED);
	return 0;
}

static void
sim_stop(struct adapter *a)
{
	struct sim *s = a->priv;

	if (s != NULL && s->timer != NULL) {
		event_free(s->timer);
		s->timer = NULL;
	}
}

static void
sim_free(struct adapter *a)
{
	sim_stop(a);
	free(a->priv);
	a->priv = NULL;
}

static void
sim_status(const struct adapter *a, struct json_out *j)
{
	const struct sim *s = a->priv;

	json_out_string(j, "waveform", sim_waveform_names[s->waveform]);
	json_out_double(j, "min", s->min);
	json_out_double(j, "max", s->max);
	json_out_double(j, "period", s->period_s);
}

const struct adapter_ops adapter_sim_ops = {
	.type = "sim",
	.configure = sim_configure,
	.start = sim_start,
	.stop = sim_stop,
	.free = sim_free,
	.status = sim_status,
};
