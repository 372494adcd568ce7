/*
 * Exec actions on a real event loop: environment (ours filtered, the
 * event's added), arguments passed without a shell, exit statuses, spawn
 * failures, timeouts that kill the whole process group, bounded
 * concurrency, and a loop that keeps running while children do.
 */
#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "action.h"

struct result {
	char tag[32];
	int ok;
	char error[160];
};

struct fixture {
	struct event_base *base;
	struct action_runner *ar;
	struct result res[16];
	size_t n;
	char dir[64];
};

static void
done_cb(void *arg, const char *tag, int ok, const char *error)
{
	struct fixture *f = arg;
	struct result *r;

	assert_true(f->n < 16);
	r = &f->res[f->n++];
	snprintf(r->tag, sizeof r->tag, "%s", tag);
	r->ok = ok;
	snprintf(r->error, sizeof r->error, "%s", error != NULL ? error : "");
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the loop until n results are in (or fails after limit_s). */
static void
wait_results(struct fixture *f, size_t n, double limit_s)
{
	double end = now_s() + limit_s;

	while (f->n < n) {
		if (now_s() > end)
			fail_msg(
			    "%zu of %zu results after %gs", f->n, n, limit_s);
		event_base_loop(f->base, EVLOOP_ONCE);
	}
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct action_opts o;

	f->base = event_base_new();
	memset(&o, 0, sizeof o);
	o.max_running = 2;
	o.max_queued = 1;
	o.done = done_cb;
	o.arg = f;
	f->ar = action_runner_new(f->base, &o);
	snprintf(f->dir, sizeof f->dir, "/tmp/outpost-action.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	action_runner_free(f->ar);
	event_base_free(f->base);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

static char *
slurp(const char *path)
{
	static char buf[4096];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof buf - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void
test_env_and_arguments(void **state)
{
	struct fixture *f = *state;
	char out[128], script[256];
	const char *argv[] = { "/bin/sh", "-c", script, "sh",
		"two words; echo INJECTED", NULL };
	const char *env[] = { "OUTPOST_RULE=overheat", "OUTPOST_VALUE=31.5",
		NULL };
	char *text;

	snprintf(out, sizeof out, "%s/env", f->dir);
	/* $1 arrives as one argument; the agent's secrets do not. */
	snprintf(script, sizeof script,
	    "{ printf 'arg=[%%s]\\n' \"$1\"; env | sort; } > %s", out);
	setenv("OUTPOST_TOKEN", "secret-token", 1);
	setenv("PATH", "/usr/bin:/bin", 1);
	assert_int_equal(action_run(f->ar, "overheat", argv, env, 5), 0);
	unsetenv("OUTPOST_TOKEN");
	wait_results(f, 1, 10);
	assert_int_equal(f->res[0].ok, 1);
	assert_string_equal(f->res[0].tag, "overheat");
	text = slurp(out);
	assert_non_null(strstr(text, "arg=[two words; echo INJECTED]\n"));
	assert_null(strstr(text, "\nINJECTED"));
	assert_non_null(strstr(text, "OUTPOST_RULE=overheat\n"));
	assert_non_null(strstr(text, "OUTPOST_VALUE=31.5\n"));
	assert_non_null(strstr(text, "PATH=/usr/bin:/bin\n"));
	assert_null(strstr(text, "secret-token"));
	assert_null(strstr(text, "OUTPOST_TOKEN"));
}

static void
test_failures_are_reported(void **state)
{
	struct fixture *f = *state;
	const char *exit3[] = { "/bin/sh", "-c", "exit 3", NULL };
	const char *missing[] = { "/nonexistent/outpost-action", NULL };
	const char *relative[] = { "true", NULL };
	const char *signalled[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };

	/*
	 * A spawn failure is an error, not a crash: reported at once where
	 * posix_spawn sees the exec fail (glibc, musl), else as the child's
	 * exit status 127 (fork-and-exec emulations such as valgrind's).
	 */
	if (action_run(f->ar, "m", missing, NULL, 5) == -1) {
		assert_int_equal(f->n, 1);
		assert_string_equal(
		    f->res[0].error, "cannot start: No such file or directory");
	} else {
		wait_results(f, 1, 10);
		assert_string_equal(f->res[0].error, "exit status 127");
	}
	assert_int_equal(f->res[0].ok, 0);
	assert_int_equal(action_run(f->ar, "r", relative, NULL, 5), -1);
	assert_string_equal(
	    f->res[1].error, "the command must be an absolute path");

	assert_int_equal(action_run(f->ar, "e", exit3, NULL, 5), 0);
	wait_results(f, 3, 10);
	assert_int_equal(f->res[2].ok, 0);
	assert_string_equal(f->res[2].error, "exit status 3");
	assert_int_equal(action_run(f->ar, "s", signalled, NULL, 5), 0);
	wait_results(f, 4, 10);
	assert_string_equal(f->res[3].error, "killed by signal 15");
	assert_int_equal(action_running(f->ar), 0);
}

static void
test_timeout_kills_the_group(void **state)
{
	struct fixture *f = *state;
	char script[512], pidfile[128], stat[64], *text;
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	double t0;
	long pid;
	FILE *fp;
	char st = 'R';

	snprintf(pidfile, sizeof pidfile, "%s/pid", f->dir);
	/* A grandchild in the background must die with the script. */
	snprintf(script, sizeof script,
	    "sleep 30 & echo $! > %s.tmp; mv %s.tmp %s; wait", pidfile, pidfile,
	    pidfile);
	t0 = now_s();
	assert_int_equal(action_run(f->ar, "slow", argv, NULL, 0.3), 0);
	wait_results(f, 1, 10);
	assert_true(now_s() - t0 < 5);
	assert_int_equal(f->res[0].ok, 0);
	assert_string_equal(f->res[0].error, "timed out after 0.3s, killed");
	text = slurp(pidfile);
	pid = strtol(text, NULL, 10);
	assert_true(pid > 1);
	/* Gone, or a zombie waiting for whoever adopted it. */
	snprintf(stat, sizeof stat, "/proc/%ld/stat", pid);
	t0 = now_s();
	while ((fp = fopen(stat, "r")) != NULL && now_s() - t0 < 5) {
		if (fscanf(fp, "%*d %*s %c", &st) == 1 && st == 'Z') {
			fclose(fp);
			break;
		}
		fclose(fp);
		usleep(20000);
	}
	if (fp != NULL && st != 'Z')
		fail_msg(
		    "the background sleep %ld survived (state %c)", pid, st);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(*(int *)arg)++;
}

static void
test_bounded_and_never_blocking(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = { "/bin/sleep", "0.3", NULL };
	struct timeval tv = { 0, 20000 };
	struct event *tick;
	int ticks = 0;
	size_t i;

	tick = event_new(f->base, -1, EV_PERSIST, timer_cb, &ticks);
	evtimer_add(tick, &tv);
	/* Two run, one waits, the fourth is refused. */
	for (i = 0; i < 3; i++)
		assert_int_equal(action_run(f->ar, "q", argv, NULL, 5), 0);
	assert_int_equal(action_running(f->ar), 2);
	assert_int_equal(action_queued(f->ar), 1);
	assert_int_equal(action_run(f->ar, "q", argv, NULL, 5), -1);
	assert_int_equal(f->n, 1);
	assert_string_equal(
	    f->res[0].error, "not run: 2 actions running and 1 queued");
	wait_results(f, 3, 10);
	assert_int_equal(action_queued(f->ar), 0);
	wait_results(f, 4, 10);
	for (i = 1; i < 4; i++)
		assert_int_equal(f->res[i].ok, 1);
	/* The loop kept turning while the children slept (0.6 s). */
	assert_true(ticks >= 10);
	event_free(tick);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_env_and_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_failures_are_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_timeout_kills_the_group, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bounded_and_never_blocking, setup, teardown),
	};

	/* As in the agent: a broken pipe is an error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
