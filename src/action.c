/*
 * Exec actions. A child runs in its own process group so a timeout kills
 * whatever it started too; its exit is collected by waitpid(WNOHANG) on
 * each of our own children when SIGCHLD arrives (never waitpid(-1), which
 * would reap children that are not ours). Queued commands start as
 * running ones finish.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "action.h"
#include "log.h"
#include "mqtt_pub.h"
#include "xmalloc.h"

#define ACTION_MAX_RUNNING 4
#define ACTION_MAX_QUEUED 16
#define ACTION_ERROR_MAX 160

/* What a child may inherit from the agent's environment. */
static const char *const action_pass_env[] = { "PATH", "HOME", "LANG", "LC_ALL",
	"TZ", "TMPDIR", NULL };

struct action_runner;

struct action_job {
	struct action_runner *runner;
	char *tag;
	char **argv; /* owned, NULL-terminated */
	char **envp; /* owned, NULL-terminated */
	double timeout_s;
	pid_t pid;
	int timed_out;
	struct event *timer;
};

struct action_runner {
	struct event_base *base;
	struct action_opts opts;
	struct event *sigchld;
	struct action_job **running;
	size_t nrunning;
	struct action_job **queue; /* FIFO */
	size_t nqueued;
};

static void action_reap(struct action_runner *);

static void
action_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	action_reap(arg);
}

struct action_runner *
action_runner_new(struct event_base *base, const struct action_opts *opts)
{
	struct action_runner *ar = xcalloc(1, sizeof *ar);

	ar->base = base;
	ar->opts = *opts;
	if (ar->opts.max_running == 0)
		ar->opts.max_running = ACTION_MAX_RUNNING;
	if (ar->opts.max_queued == 0)
		ar->opts.max_queued = ACTION_MAX_QUEUED;
	ar->running = xcalloc(ar->opts.max_running, sizeof *ar->running);
	ar->queue = xcalloc(ar->opts.max_queued, sizeof *ar->queue);
	ar->sigchld = evsignal_new(base, SIGCHLD, action_sigchld_cb, ar);
	evsignal_add(ar->sigchld, NULL);
	return ar;
}

static char **
action_strv(const char *const *v, size_t extra)
{
	char **out;
	size_t n = 0, i;

	while (v != NULL && v[n] != NULL)
		n++;
	out = xcalloc(n + extra + 1, sizeof *out);
	for (i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void
action_strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* The few inherited variables, then the caller's. */
static char **
action_env(const char *const *env)
{
	char **out;
	const char *val;
	size_t n = 0, i;

	out = action_strv(NULL, 0);
	for (i = 0; action_pass_env[i] != NULL; i++) {
		if ((val = getenv(action_pass_env[i])) == NULL) {
			if (strcmp(action_pass_env[i], "PATH") != 0)
				continue;
			val = "/usr/sbin:/usr/bin:/sbin:/bin";
		}
		out = xreallocarray(out, n + 2, sizeof *out);
		xasprintf(&out[n++], "%s=%s", action_pass_env[i], val);
		out[n] = NULL;
	}
	for (i = 0; env != NULL && env[i] != NULL; i++) {
		out = xreallocarray(out, n + 2, sizeof *out);
		out[n++] = xstrdup(env[i]);
		out[n] = NULL;
	}
	return out;
}

static void
action_job_free(struct action_job *job)
{
	if (job == NULL)
		return;
	if (job->timer != NULL)
		event_free(job->timer);
	free(job->tag);
	action_strv_free(job->argv);
	action_strv_free(job->envp);
	free(job);
}

/* Reports the outcome and frees the job. */
static void
action_done(struct action_job *job, int ok, const char *error)
{
	struct action_runner *ar = job->runner;

	if (ok)
		log_debug("action", "%s: %s exited 0", job->tag, job->argv[0]);
	else
		log_warn("action", "%s: %s: %s", job->tag, job->argv[0], error);
	if (ar->opts.done != NULL)
		ar->opts.done(ar->opts.arg, job->tag, ok, error);
	action_job_free(job);
}

static void
action_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct action_job *job = arg;

	job->timed_out = 1;
	/* The group first: a script's own children go with it. */
	if (kill(-job->pid, SIGKILL) == -1)
		kill(job->pid, SIGKILL);
}

static int
action_spawn(struct action_job *job)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
#if defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	/* Belt and braces: our descriptors are close-on-exec already. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	/* Ignored here (SIGPIPE) or caught by libevent: default there. */
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGQUIT);
	sigaddset(&dfl, SIGUSR1);
	sigaddset(&dfl, SIGUSR2);
	sigaddset(&dfl, SIGALRM);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr,
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
		POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(
	    &job->pid, job->argv[0], &fa, &attr, job->argv, job->envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Starts job (which is not in any list yet); 0, or -1 once reported. */
static int
action_start(struct action_runner *ar, struct action_job *job)
{
	char error[ACTION_ERROR_MAX];
	struct timeval tv;
	int rc;

	if ((rc = action_spawn(job)) != 0) {
		snprintf(error, sizeof error, "cannot start: %s", strerror(rc));
		action_done(job, 0, error);
		return -1;
	}
	job->timer = evtimer_new(ar->base, action_timeout_cb, job);
	tv.tv_sec = (time_t)job->timeout_s;
	tv.tv_usec = (suseconds_t)((job->timeout_s - (double)tv.tv_sec) * 1e6);
	evtimer_add(job->timer, &tv);
	ar->running[ar->nrunning++] = job;
	log_debug("action", "%s: started %s (pid %ld)", job->tag, job->argv[0],
	    (long)job->pid);
	return 0;
}

static void
action_start_queued(struct action_runner *ar)
{
	struct action_job *job;

	while (ar->nqueued > 0 && ar->nrunning < ar->opts.max_running) {
		job = ar->queue[0];
		memmove(&ar->queue[0], &ar->queue[1],
		    (ar->nqueued - 1) * sizeof *ar->queue);
		ar->nqueued--;
		action_start(ar, job);
	}
}

static void
action_finish(struct action_job *job, int status)
{
	char error[ACTION_ERROR_MAX];

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !job->timed_out) {
		action_done(job, 1, NULL);
		return;
	}
	if (job->timed_out)
		snprintf(error, sizeof error, "timed out after %gs, killed",
		    job->timeout_s);
	else if (WIFEXITED(status))
		snprintf(
		    error, sizeof error, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(error, sizeof error, "killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(error, sizeof error, "ended with status 0x%x", status);
	action_done(job, 0, error);
}

/* Collects every child of ours that has ended, then starts queued ones. */
static void
action_reap(struct action_runner *ar)
{
	struct action_job *job;
	char error[ACTION_ERROR_MAX];
	size_t i = 0;
	pid_t pid;
	int status;

	while (i < ar->nrunning) {
		job = ar->running[i];
		pid = waitpid(job->pid, &status, WNOHANG);
		if (pid == 0 || (pid == -1 && errno == EINTR)) {
			i++;
			continue;
		}
		/* Ended (or, pid -1, no longer ours to wait for). */
		memmove(&ar->running[i], &ar->running[i + 1],
		    (ar->nrunning - i - 1) * sizeof *ar->running);
		ar->nrunning--;
		if (pid == -1) {
			snprintf(error, sizeof error, "waitpid: %s",
			    strerror(errno));
			action_done(job, 0, error);
		} else
			action_finish(job, status);
	}
	action_start_queued(ar);
}

int
action_run(struct action_runner *ar, const char *tag, const char *const *argv,
    const char *const *env, double timeout_s)
{
	struct action_job *job = xcalloc(1, sizeof *job);
	char error[ACTION_ERROR_MAX];

	job->runner = ar;
	job->tag = xstrdup(tag);
	job->argv = action_strv(argv, 0);
	job->envp = action_env(env);
	job->timeout_s = timeout_s > 0 ? timeout_s : 10;
	job->pid = -1;
	if (job->argv[0] == NULL || job->argv[0][0] != '/') {
		action_done(job, 0, "the command must be an absolute path");
		return -1;
	}
	if (ar->nrunning < ar->opts.max_running)
		return action_start(ar, job);
	if (ar->nqueued >= ar->opts.max_queued) {
		snprintf(error, sizeof error,
		    "not run: %zu actions running and %zu queued", ar->nrunning,
		    ar->nqueued);
		action_done(job, 0, error);
		return -1;
	}
	ar->queue[ar->nqueued++] = job;
	return 0;
}

/* One published message on its way: where its outcome goes. */
struct action_pub {
	struct action_runner *runner;
	char *tag;
	char *topic;
};

static void
action_publish_done(void *arg, int ok, const char *error)
{
	struct action_pub *ap = arg;
	struct action_runner *ar = ap->runner;

	if (ok)
		log_debug("action", "%s: published to %s", ap->tag, ap->topic);
	else
		log_warn("action", "%s: publish to %s: %s", ap->tag, ap->topic,
		    error);
	if (ar->opts.done != NULL)
		ar->opts.done(ar->opts.arg, ap->tag, ok, error);
	free(ap->tag);
	free(ap->topic);
	free(ap);
}

int
action_publish(struct action_runner *ar, struct mqtt_pub *pub, const char *tag,
    const char *topic, const void *payload, size_t len, int qos)
{
	struct action_pub *ap = xcalloc(1, sizeof *ap);

	ap->runner = ar;
	ap->tag = xstrdup(tag);
	ap->topic = xstrdup(topic);
	return mqtt_pub_publish(
	    pub, topic, payload, len, qos, action_publish_done, ap);
}

size_t
action_running(const struct action_runner *ar)
{
	return ar != NULL ? ar->nrunning : 0;
}

size_t
action_queued(const struct action_runner *ar)
{
	return ar != NULL ? ar->nqueued : 0;
}

void
action_runner_free(struct action_runner *ar)
{
	struct action_job *job;
	size_t i;

	if (ar == NULL)
		return;
	for (i = 0; i < ar->nrunning; i++) {
		job = ar->running[i];
		if (kill(-job->pid, SIGKILL) == -1)
			kill(job->pid, SIGKILL);
		while (waitpid(job->pid, NULL, 0) == -1 && errno == EINTR)
			;
		log_warn("action", "%s: %s killed: the agent is stopping",
		    job->tag, job->argv[0]);
		action_job_free(job);
	}
	for (i = 0; i < ar->nqueued; i++)
		action_job_free(ar->queue[i]);
	if (ar->sigchld != NULL)
		event_free(ar->sigchld);
	free(ar->running);
	free(ar->queue);
	free(ar);
}
