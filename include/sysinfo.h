/*
 * What the machine and this process look like, read from /proc and /sys.
 * A source that is missing (no thermal zone in a container) is reported as
 * absent, never invented.
 */
#ifndef OUTPOST_SYSINFO_H
#define OUTPOST_SYSINFO_H

#include <stddef.h>

#define SYSINFO_THERMAL_MAX 8

struct sysinfo_thermal {
	char name[32]; /* thermal_zoneN type, e.g. "cpu-thermal" */
	double celsius;
};

struct sysinfo_snapshot {
	int has_cpu;
	double cpu_percent; /* busy share since the previous sample */
	int has_memory;
	long long mem_total_bytes;
	long long mem_available_bytes;
	int has_disk;
	long long disk_total_bytes; /* filesystem of the data dir */
	long long disk_free_bytes;  /* available to us */
	int has_uptime;
	double uptime_s;
	int has_load;
	double load1, load5, load15;
	size_t nthermal;
	struct sysinfo_thermal thermal[SYSINFO_THERMAL_MAX];
};

struct sysinfo_process {
	long long rss_bytes;
	long long vm_bytes;
	double cpu_seconds; /* user + system */
	int open_fds;
	double start_time; /* Unix seconds */
};

struct sysinfo;

/* root: "/" normally; tests point it at a fake tree. */
struct sysinfo *sysinfo_new(const char *root, const char *disk_path);
void sysinfo_free(struct sysinfo *);
/* Samples everything; CPU share is relative to the previous call. */
void sysinfo_sample(struct sysinfo *, struct sysinfo_snapshot *);
/* The calling process; 0 on success. */
int sysinfo_process(struct sysinfo_process *);

#endif
