/*
 * Logging: one line per event on stderr, JSON or text. A message that
 * repeats is printed once, then counted, and the count is printed when the
 * message changes or LOG_REPEAT_WINDOW_S has passed (flash and syslog rings
 * are small).
 */
#ifndef OUTPOST_LOG_H
#define OUTPOST_LOG_H

#include <stdio.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
};

enum log_format {
	LOG_FORMAT_JSON,
	LOG_FORMAT_TEXT,
};

/* Settings are the only mutable globals: set at start-up and on reload. */
void log_configure(enum log_level, enum log_format);
void log_set_stream(FILE *); /* tests: capture output */
int log_level_parse(const char *, enum log_level *);
const char *log_level_name(enum log_level);
int log_enabled(enum log_level);

/* component: short module name ("store", "mqtt:hold"); fmt: the message. */
void log_msg(enum log_level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Flushes pending repeat counts (at exit). */
void log_flush(void);

#define log_debug(c, ...) log_msg(LOG_DEBUG, c, __VA_ARGS__)
#define log_info(c, ...) log_msg(LOG_INFO, c, __VA_ARGS__)
#define log_warn(c, ...) log_msg(LOG_WARN, c, __VA_ARGS__)
#define log_error(c, ...) log_msg(LOG_ERROR, c, __VA_ARGS__)

#endif
