/*
 * Machine and process figures from /proc, /sys and statvfs(). Every file is
 * read with a small stack buffer; a file that is missing or unparsable
 * leaves its has_* flag at 0. Paths are relative to a root so tests can
 * feed a fake tree; the process view always reads the real /proc/self.
 */
#include <sys/statvfs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysinfo.h"
#include "xmalloc.h"

#define SYSINFO_LINE_MAX 512 /* longer lines are cut (intr) */
#define SYSINFO_ZONES_MAX 64 /* thermal_zone entries considered */

/*
 * Fewer ticks than this since the baseline and the previous share is kept
 * (and the baseline too), so two scrapes a few milliseconds apart do not
 * report a share computed over one or two ticks.
 */
#define SYSINFO_CPU_MIN_TICKS 10

struct sysinfo {
	char *root;	 /* "" for "/" */
	char *disk_path; /* NULL: no disk figures */
	int have_base;
	unsigned long long base_total; /* /proc/stat ticks */
	unsigned long long base_idle;
	int have_last;
	double last_percent;
};

/* A line reader over one file; overlong lines are returned cut. */
struct sysinfo_file {
	int fd;
	size_t off;   /* next unread byte in buf */
	size_t len;   /* bytes in buf */
	int skipping; /* rest of a cut line follows */
	char buf[SYSINFO_LINE_MAX];
};

static int
sysinfo_path(char *out, size_t size, const char *root, const char *rel)
{
	int n = snprintf(out, size, "%s%s", root, rel);

	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

static int
sysinfo_file_open(struct sysinfo_file *f, const char *path)
{
	f->off = f->len = 0;
	f->skipping = 0;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	return f->fd == -1 ? -1 : 0;
}

static void
sysinfo_file_close(struct sysinfo_file *f)
{
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
}

/* The next line without its newline, or NULL at the end of the file. */
static char *
sysinfo_file_line(struct sysinfo_file *f)
{
	char *nl, *line;
	ssize_t n;

	for (;;) {
		nl = memchr(f->buf + f->off, '\n', f->len - f->off);
		if (nl != NULL) {
			*nl = '\0';
			line = f->buf + f->off;
			f->off = (size_t)(nl - f->buf) + 1;
			if (f->skipping) {
				f->skipping = 0;
				continue;
			}
			return line;
		}
		if (f->off > 0) {
			memmove(f->buf, f->buf + f->off, f->len - f->off);
			f->len -= f->off;
			f->off = 0;
		}
		if (f->len == sizeof f->buf - 1) {
			/* A full buffer without a newline: the cut line. */
			f->buf[f->len] = '\0';
			f->len = 0;
			if (f->skipping)
				continue;
			f->skipping = 1;
			return f->buf;
		}
		do
			n = read(
			    f->fd, f->buf + f->len, sizeof f->buf - 1 - f->len);
		while (n == -1 && errno == EINTR);
		if (n <= 0) {
			if (f->len == 0 || f->skipping)
				return NULL;
			/* A last line without a newline. */
			f->buf[f->len] = '\0';
			f->len = 0;
			return f->buf;
		}
		f->len += (size_t)n;
	}
}

/* Reads a small file whole into buf (NUL-terminated); -1 if unreadable. */
static ssize_t
sysinfo_read(const char *path, char *buf, size_t size)
{
	ssize_t n;
	size_t len = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Strictly parses a decimal number that must be followed by space/end. */
static int
sysinfo_parse_ull(const char **sp, unsigned long long *out)
{
	const char *s = *sp;
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	*sp = end;
	return 0;
}

/* "cpu  user nice system idle iowait irq softirq steal guest guest_nice" */
static int
sysinfo_parse_cpu(
    const char *line, unsigned long long *total, unsigned long long *idle)
{
	unsigned long long v[8];
	size_t i, n = 0;

	line += 3;
	for (n = 0; n < 8; n++) {
		if (sysinfo_parse_ull(&line, &v[n]) == -1)
			break;
	}
	if (n < 4)
		return -1;
	/* guest and guest_nice are already part of user and nice. */
	*total = 0;
	for (i = 0; i < n; i++)
		*total += v[i];
	*idle = v[3] + (n > 4 ? v[4] : 0);
	return 0;
}

/* Aggregate CPU ticks and, if btime is not NULL, the boot time. */
static int
sysinfo_read_stat(const char *root, unsigned long long *total,
    unsigned long long *idle, unsigned long long *btime)
{
	struct sysinfo_file f;
	char path[PATH_MAX], *line;
	const char *p;
	int have_cpu = 0, have_btime = 0;

	if (sysinfo_path(path, sizeof path, root, "/proc/stat") == -1 ||
	    sysinfo_file_open(&f, path) == -1)
		return -1;
	while ((line = sysinfo_file_line(&f)) != NULL) {
		if (!have_cpu && strncmp(line, "cpu ", 4) == 0)
			have_cpu = sysinfo_parse_cpu(line, total, idle) == 0;
		else if (btime != NULL && strncmp(line, "btime ", 6) == 0) {
			p = line + 6;
			have_btime = sysinfo_parse_ull(&p, btime) == 0;
		}
		if (have_cpu && (btime == NULL || have_btime))
			break;
	}
	sysinfo_file_close(&f);
	if (!have_cpu || (btime != NULL && !have_btime))
		return -1;
	return 0;
}

/* root: "/" normally; tests point it at a fake tree. */
struct sysinfo *
sysinfo_new(const char *root, const char *disk_path)
{
	struct sysinfo *si = xcalloc(1, sizeof *si);
	size_t len;

	if (root == NULL)
		root = "/";
	si->root = xstrdup(root);
	len = strlen(si->root);
	while (len > 0 && si->root[len - 1] == '/')
		si->root[--len] = '\0';
	if (disk_path != NULL && *disk_path != '\0')
		si->disk_path = xstrdup(disk_path);
	/* The baseline, so the first sample already has a CPU share. */
	if (sysinfo_read_stat(
		si->root, &si->base_total, &si->base_idle, NULL) == 0)
		si->have_base = 1;
	return si;
}

/* Accepts NULL. */
void
sysinfo_free(struct sysinfo *si)
{
	if (si == NULL)
		return;
	free(si->root);
	free(si->disk_path);
	free(si);
}

static void
sysinfo_sample_cpu(struct sysinfo *si, struct sysinfo_snapshot *s)
{
	unsigned long long total, idle, dtotal, didle;

	if (sysinfo_read_stat(si->root, &total, &idle, NULL) == -1)
		return;
	if (!si->have_base || total < si->base_total || idle < si->base_idle) {
		/* First reading, or the counters went back: a new base. */
		si->base_total = total;
		si->base_idle = idle;
		si->have_base = 1;
		si->have_last = 0;
		return;
	}
	dtotal = total - si->base_total;
	didle = idle - si->base_idle;
	if (dtotal < SYSINFO_CPU_MIN_TICKS) {
		if (si->have_last) {
			s->has_cpu = 1;
			s->cpu_percent = si->last_percent;
			return;
		}
		if (dtotal == 0)
			return;
	}
	if (didle > dtotal)
		didle = dtotal;
	si->last_percent = 100.0 * (double)(dtotal - didle) / (double)dtotal;
	si->have_last = 1;
	si->base_total = total;
	si->base_idle = idle;
	s->has_cpu = 1;
	s->cpu_percent = si->last_percent;
}

/* "Key:   123 kB" → bytes. */
static int
sysinfo_parse_kb(const char *line, size_t keylen, long long *out)
{
	unsigned long long v;
	const char *p = line + keylen;

	if (sysinfo_parse_ull(&p, &v) == -1 || v > LLONG_MAX / 1024)
		return -1;
	*out = (long long)v * 1024;
	return 0;
}

static void
sysinfo_sample_memory(struct sysinfo *si, struct sysinfo_snapshot *s)
{
	struct sysinfo_file f;
	char path[PATH_MAX], *line;
	int have_total = 0, have_avail = 0;

	if (sysinfo_path(path, sizeof path, si->root, "/proc/meminfo") == -1 ||
	    sysinfo_file_open(&f, path) == -1)
		return;
	while ((line = sysinfo_file_line(&f)) != NULL) {
		if (strncmp(line, "MemTotal:", 9) == 0)
			have_total =
			    sysinfo_parse_kb(line, 9, &s->mem_total_bytes) == 0;
		else if (strncmp(line, "MemAvailable:", 13) == 0)
			have_avail = sysinfo_parse_kb(line, 13,
					 &s->mem_available_bytes) == 0;
		if (have_total && have_avail)
			break;
	}
	sysinfo_file_close(&f);
	/* Kernels before 3.14 lack MemAvailable: no estimate is invented. */
	s->has_memory = have_total && have_avail;
	if (!s->has_memory)
		s->mem_total_bytes = s->mem_available_bytes = 0;
}

static void
sysinfo_sample_disk(struct sysinfo *si, struct sysinfo_snapshot *s)
{
	struct statvfs sv;

	if (si->disk_path == NULL || statvfs(si->disk_path, &sv) == -1)
		return;
	s->disk_total_bytes = (long long)sv.f_blocks * (long long)sv.f_frsize;
	s->disk_free_bytes = (long long)sv.f_bavail * (long long)sv.f_frsize;
	s->has_disk = 1;
}

/* Parses up to n leading decimals of a one-line file. */
static int
sysinfo_read_doubles(const char *root, const char *rel, double *v, int n)
{
	char path[PATH_MAX], buf[256], *p, *end;
	int i;

	if (sysinfo_path(path, sizeof path, root, rel) == -1 ||
	    sysinfo_read(path, buf, sizeof buf) <= 0)
		return -1;
	p = buf;
	for (i = 0; i < n; i++) {
		errno = 0;
		v[i] = strtod(p, &end);
		if (end == p || errno != 0 || v[i] < 0)
			return -1;
		if (*end != ' ' && *end != '\n' && *end != '\0')
			return -1;
		p = end;
	}
	return 0;
}

static void
sysinfo_sample_uptime(struct sysinfo *si, struct sysinfo_snapshot *s)
{
	double v[1];

	if (sysinfo_read_doubles(si->root, "/proc/uptime", v, 1) == 0) {
		s->uptime_s = v[0];
		s->has_uptime = 1;
	}
}

static void
sysinfo_sample_load(struct sysinfo *si, struct sysinfo_snapshot *s)
{
	double v[3];

	if (sysinfo_read_doubles(si->root, "/proc/loadavg", v, 3) == 0) {
		s->load1 = v[0];
		s->load5 = v[1];
		s->load15 = v[2];
		s->has_load = 1;
	}
}

static int
sysinfo_cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Keeps names usable as sensor names and label values. */
static void
sysinfo_clean_name(char *s)
{
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-')
			continue;
		*s = '_';
	}
}

/* Appends "_<zone>", cutting the name so the suffix fits. */
static void
sysinfo_suffix_name(char *name, size_t size, int zone)
{
	char suffix[16];
	size_t len, slen;

	slen = (size_t)snprintf(suffix, sizeof suffix, "_%d", zone);
	len = strlen(name);
	if (len + slen >= size)
		len = size - 1 - slen;
	memcpy(name + len, suffix, slen + 1);
}

/* One zone: "temp" in millidegrees, "type" its name. */
static int
sysinfo_read_zone(const char *root, int zone, struct sysinfo_thermal *t)
{
	char path[PATH_MAX], buf[64], *end;
	long milli;
	size_t len;

	snprintf(path, sizeof path, "%s/sys/class/thermal/thermal_zone%d/temp",
	    root, zone);
	if (sysinfo_read(path, buf, sizeof buf) <= 0)
		return -1;
	errno = 0;
	milli = strtol(buf, &end, 10);
	if (end == buf || errno != 0 || (*end != '\n' && *end != '\0'))
		return -1;
	t->celsius = (double)milli / 1000.0;

	snprintf(path, sizeof path, "%s/sys/class/thermal/thermal_zone%d/type",
	    root, zone);
	if (sysinfo_read(path, buf, sizeof buf) > 0) {
		len = strcspn(buf, "\n");
		buf[len] = '\0';
	} else
		buf[0] = '\0';
	if (buf[0] == '\0')
		snprintf(t->name, sizeof t->name, "zone%d", zone);
	else
		xstrlcpy(t->name, buf, sizeof t->name);
	sysinfo_clean_name(t->name);
	return 0;
}

static void
sysinfo_sample_thermal(struct sysinfo *si, struct sysinfo_snapshot *s)
{
	struct sysinfo_thermal *t;
	struct dirent *de;
	DIR *d;
	char path[PATH_MAX], *end;
	int zones[SYSINFO_ZONES_MAX];
	size_t nzones = 0, i, j;
	long n;

	if (sysinfo_path(path, sizeof path, si->root, "/sys/class/thermal") ==
		-1 ||
	    (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && nzones < SYSINFO_ZONES_MAX) {
		if (strncmp(de->d_name, "thermal_zone", 12) != 0)
			continue;
		errno = 0;
		n = strtol(de->d_name + 12, &end, 10);
		if (end == de->d_name + 12 || *end != '\0' || errno != 0 ||
		    n < 0 || n > INT_MAX)
			continue;
		zones[nzones++] = (int)n;
	}
	closedir(d);
	qsort(zones, nzones, sizeof zones[0], sysinfo_cmp_int);

	for (i = 0; i < nzones && s->nthermal < SYSINFO_THERMAL_MAX; i++) {
		t = &s->thermal[s->nthermal];
		/* Zones that cannot report (EINVAL, ENODATA) are skipped. */
		if (sysinfo_read_zone(si->root, zones[i], t) == -1)
			continue;
		/* Two zones of one type: the later one gets its number. */
		for (j = 0; j < s->nthermal; j++) {
			if (strcmp(s->thermal[j].name, t->name) == 0)
				break;
		}
		if (j < s->nthermal)
			sysinfo_suffix_name(t->name, sizeof t->name, zones[i]);
		s->nthermal++;
	}
}

/* Samples everything; CPU share is relative to the previous call. */
void
sysinfo_sample(struct sysinfo *si, struct sysinfo_snapshot *s)
{
	memset(s, 0, sizeof *s);
	sysinfo_sample_cpu(si, s);
	sysinfo_sample_memory(si, s);
	sysinfo_sample_disk(si, s);
	sysinfo_sample_uptime(si, s);
	sysinfo_sample_load(si, s);
	sysinfo_sample_thermal(si, s);
}

static int
sysinfo_process_status(struct sysinfo_process *p)
{
	struct sysinfo_file f;
	char *line;
	int have_rss = 0, have_vm = 0;

	if (sysinfo_file_open(&f, "/proc/self/status") == -1)
		return -1;
	while ((line = sysinfo_file_line(&f)) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			have_rss =
			    sysinfo_parse_kb(line, 6, &p->rss_bytes) == 0;
		else if (strncmp(line, "VmSize:", 7) == 0)
			have_vm = sysinfo_parse_kb(line, 7, &p->vm_bytes) == 0;
		if (have_rss && have_vm)
			break;
	}
	sysinfo_file_close(&f);
	return have_rss && have_vm ? 0 : -1;
}

/*
 * /proc/self/stat: the command name may hold spaces and parentheses, so
 * fields are counted from the last ')'. After it come state (field 3),
 * ..., utime (14), stime (15), ..., starttime (22).
 */
static int
sysinfo_process_stat(struct sysinfo_process *p)
{
	unsigned long long v, utime = 0, stime = 0, start = 0, btime = 0;
	unsigned long long total, idle;
	char buf[1024];
	const char *s;
	long hz;
	int field;

	if (sysinfo_read("/proc/self/stat", buf, sizeof buf) <= 0 ||
	    (s = strrchr(buf, ')')) == NULL)
		return -1;
	s++;
	while (*s == ' ')
		s++;
	/* Skip the state letter: the numeric fields start at 4. */
	if (*s == '\0')
		return -1;
	s++;
	for (field = 4; field <= 22; field++) {
		/* ppid and a few others may be negative: skip the sign. */
		while (*s == ' ')
			s++;
		if (*s == '-')
			s++;
		if (sysinfo_parse_ull(&s, &v) == -1)
			return -1;
		if (field == 14)
			utime = v;
		else if (field == 15)
			stime = v;
		else if (field == 22)
			start = v;
	}
	if ((hz = sysconf(_SC_CLK_TCK)) <= 0)
		return -1;
	p->cpu_seconds = (double)(utime + stime) / (double)hz;
	if (sysinfo_read_stat("", &total, &idle, &btime) == -1)
		return -1;
	p->start_time = (double)btime + (double)start / (double)hz;
	return 0;
}

static int
sysinfo_process_fds(struct sysinfo_process *p)
{
	struct dirent *de;
	DIR *d;
	char self[16];
	int n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	/* The directory's own descriptor is listed too: not ours to count. */
	snprintf(self, sizeof self, "%d", dirfd(d));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, self) == 0)
			continue;
		n++;
	}
	closedir(d);
	p->open_fds = n;
	return 0;
}

/* The calling process; 0 on success. */
int
sysinfo_process(struct sysinfo_process *p)
{
	int rc = 0;

	memset(p, 0, sizeof *p);
	if (sysinfo_process_status(p) == -1)
		rc = -1;
	if (sysinfo_process_stat(p) == -1)
		rc = -1;
	if (sysinfo_process_fds(p) == -1)
		rc = -1;
	return rc;
}
