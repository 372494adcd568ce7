/*
 * Fuzzes the file adapter's line splitting end to end: the input is
 * appended to a tailed file in three pieces (the loop runs between them,
 * so lines and over-long lines split across reads), through a real store
 * and pipeline. Whatever the bytes, every complete line is counted exactly
 * once as good, bad or blank (an unterminated one when already too long),
 * and the committed position is just after the last newline.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "adapter.h"
#include "config.h"
#include "json_out.h"
#include "log.h"
#include "pipeline.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_STORE_ROUNDS 20000 /* inputs before the store starts afresh */

static const char *const fuzz_formats[] = { "number", "json", "influx", "csv" };
static const int fuzz_max_lines[] = { 16, 40, 4096, 100 };

static struct {
	char dir[64];
	char data[96];
	char path[96];
	struct event_base *base;
	struct store *store;
	struct pipeline *pipeline;
	unsigned long rounds;
} fz;

static void
fuzz_store_open(void)
{
	struct store_opts so;
	struct pipeline_opts po;
	char cmd[160], *cause = NULL;

	if (fz.pipeline != NULL) {
		pipeline_free(fz.pipeline);
		store_free(fz.store);
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz.data);
		if (system(cmd) != 0)
			abort();
	}
	memset(&so, 0, sizeof so);
	so.checkpoint_pages = 1000;
	if ((fz.store = store_open(fz.data, &so, &cause)) == NULL) {
		fprintf(stderr, "store: %s\n", cause);
		abort();
	}
	memset(&po, 0, sizeof po);
	po.agent_id = "fuzz";
	po.commit_interval_s = 60;
	po.commit_max = 100000;
	fz.pipeline = pipeline_new(fz.base, fz.store, &po);
}

static void
fuzz_cleanup(void)
{
	char cmd[96];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fz.dir);
}

static void
fuzz_init(void)
{
	strcpy(fz.dir, "/tmp/outpost-fuzz-file.XXXXXX");
	if (mkdtemp(fz.dir) == NULL)
		abort();
	atexit(fuzz_cleanup);
	snprintf(fz.data, sizeof fz.data, "%s/data", fz.dir);
	snprintf(fz.path, sizeof fz.path, "%s/in.log", fz.dir);
	log_configure(LOG_ERROR, LOG_FORMAT_TEXT);
	log_set_stream(fopen("/dev/null", "w"));
	fz.base = event_base_new();
	fuzz_store_open();
}

static void
fuzz_append(const uint8_t *p, size_t len)
{
	int fd = open(fz.path, O_WRONLY | O_APPEND | O_CREAT, 0600);

	if (fd == -1 || (len > 0 && write(fd, p, len) != (ssize_t)len))
		abort();
	close(fd);
}

static void
fuzz_turns(void)
{
	int i;

	for (i = 0; i < 8; i++)
		event_base_loop(fz.base, EVLOOP_NONBLOCK);
}

/* A counter from the adapter's status detail. */
static long long
fuzz_detail(struct adapter *a, const char *key)
{
	struct json_out j;
	char want[64];
	const char *p;
	long long v;

	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	a->ops->status(a, &j);
	json_out_object_end(&j);
	snprintf(want, sizeof want, "\"%s\":", key);
	if ((p = strstr(j.buf, want)) == NULL)
		abort();
	v = strtoll(p + strlen(want), NULL, 10);
	json_out_free(&j);
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg;
	struct adapter *a;
	struct pipeline_src *src;
	char text[512], *cause = NULL, value[PIPELINE_OFFSET_VALUE_MAX];
	size_t i, cut1, cut2, newlines = 0, last_nl = 0;
	long long counted, off;
	const char *colon;
	int fz_max;

	if (size < 1)
		return 0;
	fz_max = data[0] >> 6;
	if (fz.base == NULL)
		fuzz_init();
	if (++fz.rounds % FUZZ_STORE_ROUNDS == 0)
		fuzz_store_open();
	unlink(fz.path);
	fuzz_append(NULL, 0);
	snprintf(text, sizeof text,
	    "[[device]]\nname = \"fz\"\ntype = \"file\"\npath = \"%s\"\n"
	    "from = \"start\"\nformat = \"%s\"\nmax_line_bytes = %d\n%s",
	    fz.path, fuzz_formats[data[0] & 3], fuzz_max_lines[fz_max],
	    (data[0] & 3) == 3 ? "column = 2\n" : "");
	if ((cfg = config_load_text(text, strlen(text), "fuzz", &cause)) ==
	    NULL)
		abort();
	if ((a = adapter_new(cfg, &cfg->devices[0], &cause)) == NULL) {
		fprintf(stderr, "%s\n", cfg->nerrors > 0 ? cfg->errors[0] : "");
		abort();
	}
	src = pipeline_src_new(fz.pipeline, "fz", 16);
	if (adapter_start(a, fz.base, src) == -1)
		abort();

	data++;
	size--;
	for (i = 0; i < size; i++) {
		if (data[i] == '\n') {
			newlines++;
			last_nl = i + 1;
		}
	}
	cut1 = size / 3;
	cut2 = 2 * size / 3;
	fuzz_turns();
	fuzz_append(data, cut1);
	fuzz_turns();
	fuzz_append(data + cut1, cut2 - cut1);
	fuzz_turns();
	fuzz_append(data + cut2, size - cut2);
	fuzz_turns();
	if (pipeline_commit(fz.pipeline) == -1)
		abort();

	counted = fuzz_detail(a, "lines") + fuzz_detail(a, "bad_lines") +
	    fuzz_detail(a, "blank_lines");
	/* An unterminated line already too long is known bad before its end. */
	if (size - last_nl > (size_t)fuzz_max_lines[fz_max])
		newlines++;
	if (counted != (long long)newlines) {
		fprintf(stderr, "%zu lines, %lld counted\n", newlines, counted);
		abort();
	}
	if (pipeline_src_get_offset(src, "file:fz", value, sizeof value) != 0 ||
	    (colon = strchr(value, ':')) == NULL)
		abort();
	off = strtoll(colon + 1, NULL, 10);
	if (off != (long long)last_nl) {
		fprintf(stderr, "position %lld, last newline ends at %zu\n",
		    off, last_nl);
		abort();
	}

	adapter_free(a);
	pipeline_src_set_offset(src, "file:fz", NULL);
	pipeline_src_free(src);
	config_free(cfg);
	return 0;
}
