/*
 * One line per event on stderr (or a test's stream), JSON or text. A line
 * that repeats within LOG_REPEAT_WINDOW_S is counted instead of printed; the
 * count goes out with the next occurrence after the window, or when the
 * slot is reused, or at log_flush().
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json_out.h"
#include "log.h"
#include "xmalloc.h"

#define LOG_LINE_MAX 1024
#define LOG_REPEAT_SLOTS 16
#define LOG_REPEAT_WINDOW_S 60.0

struct log_repeat {
	uint64_t hash;	     /* 0 = free */
	double window_start; /* monotonic seconds */
	unsigned long suppressed;
	enum log_level level;
	char component[32];
	char text[96]; /* start of the message, for the count line */
};

static enum log_level log_min_level = LOG_INFO;
static enum log_format log_format = LOG_FORMAT_JSON;
static FILE *log_stream;
static struct log_repeat log_repeats[LOG_REPEAT_SLOTS];

static const char *const log_level_names[] = { "debug", "info", "warn",
	"error" };

void
log_configure(enum log_level level, enum log_format format)
{
	log_min_level = level;
	log_format = format;
}

void
log_set_stream(FILE *f)
{
	log_stream = f;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof log_level_names / sizeof *log_level_names; i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof log_level_names / sizeof *log_level_names)
		return "unknown";
	return log_level_names[level];
}

int
log_enabled(enum log_level level)
{
	return level >= log_min_level;
}

static double
log_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t
log_hash(enum log_level level, const char *component, const char *text)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)level;
	const char *p;

	for (p = component; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (p = text; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h == 0 ? 1 : h;
}

static void
log_emit(enum log_level level, const char *component, const char *text,
    unsigned long repeated)
{
	FILE *f = log_stream != NULL ? log_stream : stderr;
	struct timespec now;
	struct tm tm;
	char stamp[48];
	size_t n;
	struct json_out j;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof stamp - n, ".%03dZ",
	    (int)(now.tv_nsec / 1000000) % 1000);

	if (log_format == LOG_FORMAT_TEXT) {
		if (repeated > 0)
			fprintf(f, "%s %s %s: %s (repeated %lu times)\n", stamp,
			    log_level_name(level), component, text, repeated);
		else
			fprintf(f, "%s %s %s: %s\n", stamp,
			    log_level_name(level), component, text);
		fflush(f);
		return;
	}
	json_out_init(&j);
	json_out_object_begin(&j, NULL);
	json_out_string(&j, "ts", stamp);
	json_out_string(&j, "level", log_level_name(level));
	json_out_string(&j, "component", component);
	json_out_string(&j, "msg", text);
	if (repeated > 0)
		json_out_int(&j, "repeated", (long long)repeated);
	json_out_object_end(&j);
	fprintf(f, "%.*s\n", (int)j.len, j.buf);
	fflush(f);
	json_out_free(&j);
}

static void
log_repeat_report(struct log_repeat *slot)
{
	char text[LOG_LINE_MAX];

	if (slot->hash == 0 || slot->suppressed == 0)
		return;
	snprintf(text, sizeof text, "last message repeated: %s", slot->text);
	log_emit(slot->level, slot->component, text, slot->suppressed);
	slot->suppressed = 0;
}

void
log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
	char text[LOG_LINE_MAX];
	va_list ap;
	uint64_t h;
	double now;
	struct log_repeat *slot, *oldest = &log_repeats[0];
	size_t i;

	if (level < log_min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);

	h = log_hash(level, component, text);
	now = log_monotonic();
	for (i = 0; i < LOG_REPEAT_SLOTS; i++) {
		slot = &log_repeats[i];
		if (slot->hash == h)
			break;
		if (slot->window_start < oldest->window_start)
			oldest = slot;
	}
	if (i < LOG_REPEAT_SLOTS) {
		if (now - slot->window_start < LOG_REPEAT_WINDOW_S) {
			slot->suppressed++;
			return;
		}
		log_emit(level, component, text, slot->suppressed);
		slot->suppressed = 0;
		slot->window_start = now;
		return;
	}
	log_repeat_report(oldest);
	oldest->hash = h;
	oldest->window_start = now;
	oldest->suppressed = 0;
	oldest->level = level;
	xstrlcpy(oldest->component, component, sizeof oldest->component);
	xstrlcpy(oldest->text, text, sizeof oldest->text);
	log_emit(level, component, text, 0);
}

void
log_flush(void)
{
	size_t i;

	for (i = 0; i < LOG_REPEAT_SLOTS; i++)
		log_repeat_report(&log_repeats[i]);
}
