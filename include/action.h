/*
 * Exec actions: a command started with posix_spawn (never through a
 * shell, no PATH search), its exit collected by a libevent SIGCHLD handler,
 * its process group killed after a timeout; at most max_running at a time,
 * a bounded queue behind them; or an MQTT message handed to a publisher.
 * Nothing here waits on the loop. The rules
 * module decides what to run; this one only runs it.
 */
#ifndef OUTPOST_ACTION_H
#define OUTPOST_ACTION_H

#include <stddef.h>

struct action_runner;
struct event_base;

/*
 * Called once per action_run, on the loop: ok = 1 when the command exited
 * with status 0; else error says why (spawn failure, exit status, signal,
 * timeout, queue full). tag is the caller's (a rule name).
 */
typedef void
action_done_cb(void *arg, const char *tag, int ok, const char *error);

struct action_opts {
	size_t max_running; /* children at once (default 4) */
	size_t max_queued;  /* waiting behind them (default 16) */
	action_done_cb *done;
	void *arg;
};

/* Installs the SIGCHLD handler on base. */
struct action_runner *
action_runner_new(struct event_base *, const struct action_opts *);
/* Kills (SIGKILL, whole process group) and reaps what still runs. */
void action_runner_free(struct action_runner *);

/*
 * Starts argv (argv[0] an absolute path; NULL-terminated) now, or queues
 * it. The child's environment is PATH, HOME, LANG, LC_ALL, TZ and TMPDIR
 * from ours plus env ("NAME=value" strings, NULL-terminated): nothing else
 * of the agent's environment (tokens, keys) reaches it. stdin and stdout
 * are /dev/null, stderr is the agent's. Returns 0 when started or queued;
 * -1 when refused, done having been called with the reason.
 */
int action_run(struct action_runner *, const char *tag, const char *const *argv,
    const char *const *env, double timeout_s);

/*
 * mqtt actions: publishes payload to topic through pub (include/mqtt_pub.h,
 * owned by the caller, freed before the runner). The outcome goes to the
 * runner's done callback with tag, like a command's. Returns 0 when
 * queued; -1 when refused, done having been called with the reason.
 */
struct mqtt_pub;
int action_publish(struct action_runner *, struct mqtt_pub *, const char *tag,
    const char *topic, const void *payload, size_t len, int qos);

size_t action_running(const struct action_runner *);
size_t action_queued(const struct action_runner *);

#endif
