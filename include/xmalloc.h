/*
 * Allocation wrappers for bookkeeping memory: a failed allocation is fatal
 * (the supervisor restarts us), so callers never check for NULL.
 */
#ifndef OUTPOST_XMALLOC_H
#define OUTPOST_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
/* Sets *ret to a newly allocated formatted string; returns its length. */
int xasprintf(char **ret, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int xvasprintf(char **ret, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Formats an error into a caller's buffer; err NULL or len 0: nothing. */
void xerrorf(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* strlcpy semantics: always terminates, returns strlen(src). */
size_t xstrlcpy(char *dst, const char *src, size_t size);

#endif
