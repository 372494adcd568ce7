/*
 * sysinfo against a fake /proc and /sys tree in a scratch directory: the
 * exact figures parsed, sources missing or broken, and the real process.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sysinfo.h"

/* snprintf that fails the test instead of cutting. */
static void fmt(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		fail_msg("path too long");
}

struct tree {
	char root[PATH_MAX];
};

static void
tree_mkdirs(const char *root, const char *rel)
{
	char path[PATH_MAX], *p;

	fmt(path, sizeof path, "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

/* Writes rel (creating its directories) with the given contents. */
static void
tree_write(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX], dir[PATH_MAX], *slash;
	FILE *f;

	snprintf(dir, sizeof dir, "%s", rel);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		tree_mkdirs(root, dir);
	}
	fmt(path, sizeof path, "%s/%s", root, rel);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void
tree_rm(const char *path)
{
	char cmd[PATH_MAX + 32];

	/* Only ever our own mkdtemp directory. */
	assert_non_null(strstr(path, "/outpost-sysinfo."));
	fmt(cmd, sizeof cmd, "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static int
setup(void **state)
{
	struct tree *t = calloc(1, sizeof *t);
	const char *tmp = getenv("TMPDIR");

	if (t == NULL)
		return -1;
	snprintf(t->root, sizeof t->root, "%s/outpost-sysinfo.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(t->root) == NULL)
		return -1;
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tree *t = *state;

	tree_rm(t->root);
	free(t);
	return 0;
}

/* A /proc/stat with per-CPU lines and an intr line longer than any buffer. */
static void
write_stat(const char *root, const char *cpu_line)
{
	char text[8192];
	size_t len;
	int i;

	len = (size_t)snprintf(text, sizeof text,
	    "%s\ncpu0 1 2 3 4 5 6 7 8 0 0\ncpu1 1 2 3 4 5 6 7 8 0 0\nintr 99",
	    cpu_line);
	for (i = 0; i < 1500; i++)
		len += (size_t)snprintf(
		    text + len, sizeof text - len, " %d", i % 10);
	snprintf(text + len, sizeof text - len,
	    "\nctxt 123456\nbtime 1700000000\nprocesses 4242\n");
	tree_write(root, "proc/stat", text);
}

static void
test_cpu_share(void **state)
{
	struct tree *t = *state;
	struct sysinfo *si;
	struct sysinfo_snapshot s;

	/* total 1000, idle+iowait 800 */
	write_stat(t->root, "cpu  100 0 100 700 100 0 0 0 0 0");
	si = sysinfo_new(t->root, NULL);

	/*
	 * total 2000 (guest fields not added again), idle 1550: over the
	 * 1000 ticks, 750 idle, so 25 % busy.
	 */
	write_stat(t->root, "cpu  250 10 140 1400 150 20 30 0 50 7");
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_cpu, 1);
	assert_true(s.cpu_percent == 25.0);

	/* 5 more ticks, all busy: too few, the previous share stands. */
	write_stat(t->root, "cpu  255 10 140 1400 150 20 30 0 50 7");
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_cpu, 1);
	assert_true(s.cpu_percent == 25.0);

	/* From the base at 2000: 200 more ticks, 50 of them idle: 75 %. */
	write_stat(t->root, "cpu  400 10 140 1425 175 20 30 0 50 7");
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_cpu, 1);
	assert_true(s.cpu_percent == 75.0);

	/* Counters went back (a new boot in the fake): no share, new base. */
	write_stat(t->root, "cpu  10 0 10 80 0 0 0 0 0 0");
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_cpu, 0);
	write_stat(t->root, "cpu  60 0 10 130 0 0 0 0 0 0");
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_cpu, 1);
	assert_true(s.cpu_percent == 50.0);

	/* Garbage instead of numbers: absent, not zero. */
	write_stat(t->root, "cpu  x y z");
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_cpu, 0);
	sysinfo_free(si);
}

static void
test_cpu_no_baseline(void **state)
{
	struct tree *t = *state;
	struct sysinfo *si;
	struct sysinfo_snapshot s;

	/* /proc/stat appears only after sysinfo_new: the first is a base. */
	si = sysinfo_new(t->root, NULL);
	write_stat(t->root, "cpu  100 0 100 700 100 0 0 0 0 0");
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_cpu, 0);
	write_stat(t->root, "cpu  200 0 100 800 100 0 0 0 0 0");
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_cpu, 1);
	assert_true(s.cpu_percent == 50.0);
	sysinfo_free(si);
}

static void
test_memory_uptime_load(void **state)
{
	struct tree *t = *state;
	struct sysinfo *si;
	struct sysinfo_snapshot s;

	tree_write(t->root, "proc/meminfo",
	    "MemTotal:        2048000 kB\n"
	    "MemFree:          100000 kB\n"
	    "MemAvailable:    1024000 kB\n"
	    "Buffers:           2000 kB\n");
	tree_write(t->root, "proc/uptime", "12345.67 23456.78\n");
	tree_write(t->root, "proc/loadavg", "0.52 0.58 1.59 1/234 5678\n");
	si = sysinfo_new(t->root, NULL);
	sysinfo_sample(si, &s);

	assert_int_equal(s.has_memory, 1);
	assert_int_equal(s.mem_total_bytes, 2048000LL * 1024);
	assert_int_equal(s.mem_available_bytes, 1024000LL * 1024);
	assert_int_equal(s.has_uptime, 1);
	assert_true(s.uptime_s == 12345.67);
	assert_int_equal(s.has_load, 1);
	assert_true(s.load1 == 0.52);
	assert_true(s.load5 == 0.58);
	assert_true(s.load15 == 1.59);
	/* Not in the tree: absent. */
	assert_int_equal(s.has_cpu, 0);
	assert_int_equal(s.has_disk, 0);
	assert_int_equal(s.nthermal, 0);

	/* An old kernel without MemAvailable: no estimate is made up. */
	tree_write(t->root, "proc/meminfo",
	    "MemTotal:        2048000 kB\nMemFree:          100000 kB\n");
	/* Broken files. */
	tree_write(t->root, "proc/uptime", "soon\n");
	tree_write(t->root, "proc/loadavg", "0.52 0.58\n");
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_memory, 0);
	assert_int_equal(s.mem_total_bytes, 0);
	assert_int_equal(s.has_uptime, 0);
	assert_int_equal(s.has_load, 0);
	sysinfo_free(si);
}

/*
 * A line longer than the reader's buffer is cut and its tail skipped: a
 * key that happens to start the tail is not taken for a line of its own.
 */
static void
test_long_lines(void **state)
{
	struct tree *t = *state;
	struct sysinfo *si;
	struct sysinfo_snapshot s;
	char text[4096];
	size_t len, i;

	len = (size_t)snprintf(text, sizeof text, "Junk:");
	for (i = len; i < 511; i++)
		text[len++] = 'x';
	snprintf(text + len, sizeof text - len,
	    "MemAvailable: 1 kB\n"
	    "MemTotal:        2048000 kB\n"
	    "MemAvailable:    1024000 kB");
	tree_write(t->root, "proc/meminfo", text);
	si = sysinfo_new(t->root, NULL);
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_memory, 1);
	assert_int_equal(s.mem_total_bytes, 2048000LL * 1024);
	/* The last line has no newline and still counts. */
	assert_int_equal(s.mem_available_bytes, 1024000LL * 1024);
	sysinfo_free(si);
}

static void
test_thermal(void **state)
{
	struct tree *t = *state;
	struct sysinfo *si;
	struct sysinfo_snapshot s;

	tree_write(
	    t->root, "sys/class/thermal/thermal_zone0/type", "x86_pkg_temp\n");
	tree_write(t->root, "sys/class/thermal/thermal_zone0/temp", "45000\n");
	tree_write(t->root, "sys/class/thermal/thermal_zone1/type", "acpitz\n");
	tree_write(t->root, "sys/class/thermal/thermal_zone1/temp", "27800\n");
	/* No type file: named after its number. */
	tree_write(t->root, "sys/class/thermal/thermal_zone2/temp", "30500\n");
	/* A zone that cannot report a temperature is skipped. */
	tree_write(
	    t->root, "sys/class/thermal/thermal_zone3/type", "iwlwifi\n");
	tree_write(t->root, "sys/class/thermal/thermal_zone3/temp", "\n");
	/* Numeric order (10 after 2), a duplicate type, below zero. */
	tree_write(
	    t->root, "sys/class/thermal/thermal_zone10/type", "acpitz\n");
	tree_write(t->root, "sys/class/thermal/thermal_zone10/temp", "-5250\n");
	/* Characters a sensor name cannot carry. */
	tree_write(
	    t->root, "sys/class/thermal/thermal_zone4/type", "soc thermal,1\n");
	tree_write(t->root, "sys/class/thermal/thermal_zone4/temp", "61000");
	/* Not zones. */
	tree_write(t->root, "sys/class/thermal/cooling_device0/type", "fan\n");
	tree_write(t->root, "sys/class/thermal/thermal_zoneX/temp", "1\n");

	si = sysinfo_new(t->root, NULL);
	sysinfo_sample(si, &s);
	assert_int_equal(s.nthermal, 5);
	assert_string_equal(s.thermal[0].name, "x86_pkg_temp");
	assert_true(s.thermal[0].celsius == 45.0);
	assert_string_equal(s.thermal[1].name, "acpitz");
	assert_true(s.thermal[1].celsius == 27.8);
	assert_string_equal(s.thermal[2].name, "zone2");
	assert_true(s.thermal[2].celsius == 30.5);
	assert_string_equal(s.thermal[3].name, "soc_thermal_1");
	assert_true(s.thermal[3].celsius == 61.0);
	assert_string_equal(s.thermal[4].name, "acpitz_10");
	assert_true(s.thermal[4].celsius == -5.25);
	sysinfo_free(si);
}

static void
test_thermal_max(void **state)
{
	struct tree *t = *state;
	struct sysinfo *si;
	struct sysinfo_snapshot s;
	char rel[128], val[32];
	int i;

	for (i = 0; i < SYSINFO_THERMAL_MAX + 4; i++) {
		snprintf(rel, sizeof rel,
		    "sys/class/thermal/thermal_zone%d/temp", i);
		snprintf(val, sizeof val, "%d\n", 1000 * (i + 1));
		tree_write(t->root, rel, val);
	}
	si = sysinfo_new(t->root, NULL);
	sysinfo_sample(si, &s);
	assert_int_equal(s.nthermal, SYSINFO_THERMAL_MAX);
	assert_string_equal(s.thermal[SYSINFO_THERMAL_MAX - 1].name, "zone7");
	assert_true(s.thermal[SYSINFO_THERMAL_MAX - 1].celsius ==
	    (double)SYSINFO_THERMAL_MAX);
	sysinfo_free(si);
}

static void
test_disk(void **state)
{
	struct tree *t = *state;
	struct sysinfo *si;
	struct sysinfo_snapshot s;
	char missing[PATH_MAX];

	si = sysinfo_new(t->root, t->root);
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_disk, 1);
	assert_true(s.disk_total_bytes > 0);
	assert_true(s.disk_free_bytes >= 0);
	assert_true(s.disk_free_bytes <= s.disk_total_bytes);
	sysinfo_free(si);

	fmt(missing, sizeof missing, "%s/no/such/dir", t->root);
	si = sysinfo_new(t->root, missing);
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_disk, 0);
	assert_int_equal(s.disk_total_bytes, 0);
	sysinfo_free(si);
}

static void
test_empty_root(void **state)
{
	struct tree *t = *state;
	struct sysinfo *si;
	struct sysinfo_snapshot s;

	si = sysinfo_new(t->root, "");
	sysinfo_sample(si, &s);
	sysinfo_sample(si, &s);
	assert_int_equal(s.has_cpu, 0);
	assert_int_equal(s.has_memory, 0);
	assert_int_equal(s.has_disk, 0);
	assert_int_equal(s.has_uptime, 0);
	assert_int_equal(s.has_load, 0);
	assert_int_equal(s.nthermal, 0);
	sysinfo_free(si);
	sysinfo_free(NULL);
}

static void
test_process(void **state)
{
	struct sysinfo_process p, q;
	double now = (double)time(NULL);
	int fds[3], i;

	assert_int_equal(sysinfo_process(&p), 0);
	assert_true(p.rss_bytes > 0);
	assert_true(p.vm_bytes >= p.rss_bytes);
	assert_true(p.cpu_seconds >= 0);
	assert_true(p.open_fds >= 3);
	/* btime is whole seconds: the start time is exact to about one. */
	assert_true(p.start_time <= now + 2);
	assert_true(p.start_time > now - 600);

	for (i = 0; i < 3; i++)
		assert_true((fds[i] = open("/dev/null", O_RDONLY)) != -1);
	assert_int_equal(sysinfo_process(&q), 0);
	assert_int_equal(q.open_fds, p.open_fds + 3);
	assert_true(q.start_time == p.start_time);
	for (i = 0; i < 3; i++)
		close(fds[i]);
	assert_int_equal(sysinfo_process(&q), 0);
	assert_int_equal(q.open_fds, p.open_fds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_cpu_share, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cpu_no_baseline, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_memory_uptime_load, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_long_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thermal, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_thermal_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_empty_root, setup, teardown),
		cmocka_unit_test(test_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
