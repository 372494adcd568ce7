/*
 * A strict TOML subset parser. The text (not necessarily NUL-terminated) is
 * first checked for UTF-8 and stray control characters, so the scanner only
 * meets printable text, tabs and newlines and can treat '\0' as the end.
 * Redefinitions (duplicate keys, tables defined twice, dotted keys reaching
 * into tables defined elsewhere) are refused as the tree grows. Nesting is
 * bounded by TOML_MAX_DEPTH, which also bounds every recursion over a tree.
 * What the keys mean is left to config.c.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml.h"
#include "xmalloc.h"

#define TOML_MAX_DEPTH 32
#define TOML_MAX_KEYS 4096 /* per table or array: lookups are linear */
#define TOML_BARE                                              \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789_-"

struct toml_parser {
	const char *pos;
	const char *end;
	const char *name; /* file name for messages */
	int line;
	char *cause;
	struct toml_table *root;
	struct toml_table *cur; /* where key = value lines go */
	int cur_depth;
	char what[16]; /* toml_what()'s answer */
};

struct toml_key {
	char *parts[TOML_MAX_DEPTH];
	size_t n;
};

struct toml_buf {
	char *p;
	size_t n;
	size_t cap;
};

static int toml_error(struct toml_parser *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static int
toml_parse_value(struct toml_parser *, struct toml_value *, int, const char *);

static int
toml_error(struct toml_parser *p, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (p->cause != NULL)
		return -1;
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	xasprintf(&p->cause, "%s:%d: %s", p->name, p->line, msg);
	free(msg);
	return -1;
}

static int
toml_peek(const struct toml_parser *p, size_t off)
{
	if ((size_t)(p->end - p->pos) <= off)
		return '\0';
	return (unsigned char)p->pos[off];
}

static int
toml_cur(const struct toml_parser *p)
{
	return toml_peek(p, 0);
}

/* Describes the next character for "expected X, found Y" messages. */
static const char *
toml_what(struct toml_parser *p)
{
	int c = toml_cur(p), len = 1;

	if (c == '\0')
		return "end of file";
	if (c == '\n' || c == '\r')
		return "end of line";
	if (c >= 0xf0)
		len = 4;
	else if (c >= 0xe0)
		len = 3;
	else if (c >= 0xc0)
		len = 2;
	if (len > p->end - p->pos)
		len = p->end - p->pos;
	snprintf(p->what, sizeof p->what, "'%.*s'", len, p->pos);
	return p->what;
}

static void
toml_buf_add(struct toml_buf *b, const char *s, size_t n)
{
	while (b->n + n + 1 > b->cap) {
		b->cap = b->cap == 0 ? 32 : b->cap * 2;
		b->p = xreallocarray(b->p, 1, b->cap);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static char *
toml_buf_take(struct toml_buf *b)
{
	char *s = b->p != NULL ? b->p : xstrdup("");

	memset(b, 0, sizeof *b);
	return s;
}

/*
 * Rejects invalid UTF-8 (overlong forms, surrogates, beyond U+10FFFF) and
 * control characters other than tab and newline anywhere in the text:
 * TOML allows them nowhere, not even in comments.
 */
static int
toml_check_text(struct toml_parser *p)
{
	const unsigned char *s = (const unsigned char *)p->pos;
	const unsigned char *e = (const unsigned char *)p->end;
	unsigned lo, hi;
	size_t len, i;

	for (p->line = 1; s < e; s += len) {
		len = 1;
		if (*s == '\n')
			p->line++;
		else if (*s == '\r') {
			if (s + 1 == e || s[1] != '\n')
				return toml_error(
				    p, "carriage return without line feed");
		} else if (*s < 0x20 && *s != '\t')
			return toml_error(
			    p, "control character U+%04X is not allowed", *s);
		else if (*s == 0x7f)
			return toml_error(
			    p, "control character U+007F is not allowed");
		else if (*s >= 0x80) {
			lo = 0x80;
			hi = 0xbf;
			if (*s >= 0xc2 && *s <= 0xdf)
				len = 2;
			else if (*s >= 0xe0 && *s <= 0xef) {
				len = 3;
				lo = *s == 0xe0 ? 0xa0 : lo;
				hi = *s == 0xed ? 0x9f : hi;
			} else if (*s >= 0xf0 && *s <= 0xf4) {
				len = 4;
				lo = *s == 0xf0 ? 0x90 : lo;
				hi = *s == 0xf4 ? 0x8f : hi;
			} else
				return toml_error(p, "invalid UTF-8");
			if ((size_t)(e - s) < len)
				return toml_error(p, "invalid UTF-8");
			for (i = 1; i < len; i++) {
				if (s[i] < (i == 1 ? lo : 0x80) ||
				    s[i] > (i == 1 ? hi : 0xbf))
					return toml_error(p, "invalid UTF-8");
			}
		}
	}
	p->line = 1;
	return 0;
}

static void
toml_value_clear(struct toml_value *v)
{
	size_t i;

	switch (v->type) {
	case TOML_STRING:
		free(v->u.s);
		break;
	case TOML_ARRAY:
		if (v->u.arr == NULL)
			break;
		for (i = 0; i < v->u.arr->n; i++)
			toml_value_clear(&v->u.arr->items[i]);
		free(v->u.arr->items);
		free(v->u.arr);
		break;
	case TOML_TABLE:
		toml_free(v->u.tab);
		break;
	default:
		break;
	}
	memset(v, 0, sizeof *v);
}

/* Frees a tree; accepts NULL. */
void
toml_free(struct toml_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->items[i].key);
		toml_value_clear(&t->items[i].v);
	}
	free(t->items);
	free(t->name);
	free(t);
}

/* An empty table a reader adds to the tree. */
struct toml_table *
toml_table_new(const char *name)
{
	struct toml_table *t = xcalloc(1, sizeof *t);

	t->name = xstrdup(name);
	t->origin = TOML_CREATED;
	t->explicit = 1;
	return t;
}

/* One key of one table, no dots. */
struct toml_value *
toml_get(const struct toml_table *t, const char *key)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (strcmp(t->items[i].key, key) == 0)
			return &t->items[i].v;
	}
	return NULL;
}

/* Adds or replaces key, taking over v's allocations. */
struct toml_value *
toml_set(struct toml_table *t, const char *key, const struct toml_value *v)
{
	struct toml_value *old;

	if ((old = toml_get(t, key)) != NULL) {
		toml_value_clear(old);
		*old = *v;
		return old;
	}
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 8 : t->cap * 2;
		t->items = xreallocarray(t->items, t->cap, sizeof *t->items);
	}
	t->items[t->n].key = xstrdup(key);
	t->items[t->n].v = *v;
	return &t->items[t->n++].v;
}

static void
toml_array_add(struct toml_array *a, const struct toml_value *v)
{
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 4 : a->cap * 2;
		a->items = xreallocarray(a->items, a->cap, sizeof *a->items);
	}
	a->items[a->n++] = *v;
}

/* The name messages use for a type. */
const char *
toml_type_name(enum toml_type type)
{
	switch (type) {
	case TOML_STRING:
		return "string";
	case TOML_INTEGER:
		return "integer";
	case TOML_FLOAT:
		return "float";
	case TOML_BOOL:
		return "boolean";
	case TOML_ARRAY:
		return "array";
	case TOML_TABLE:
		return "table";
	}
	return "unknown";
}

static const char *
toml_article(enum toml_type type)
{
	return type == TOML_INTEGER || type == TOML_ARRAY ? "an" : "a";
}

/* Quotes s for printing; keys stay bare when they can. */
char *
toml_quote(const char *s, int key)
{
	struct toml_buf b = { NULL, 0, 0 };
	const unsigned char *u;
	char esc[8];

	if (key && *s != '\0' && strspn(s, TOML_BARE) == strlen(s))
		return xstrdup(s);
	toml_buf_add(&b, "\"", 1);
	for (u = (const unsigned char *)s; *u != '\0'; u++) {
		switch (*u) {
		case '"':
			toml_buf_add(&b, "\\\"", 2);
			break;
		case '\\':
			toml_buf_add(&b, "\\\\", 2);
			break;
		case '\b':
			toml_buf_add(&b, "\\b", 2);
			break;
		case '\t':
			toml_buf_add(&b, "\\t", 2);
			break;
		case '\n':
			toml_buf_add(&b, "\\n", 2);
			break;
		case '\f':
			toml_buf_add(&b, "\\f", 2);
			break;
		case '\r':
			toml_buf_add(&b, "\\r", 2);
			break;
		default:
			if (*u < 0x20 || *u == 0x7f) {
				snprintf(esc, sizeof esc, "\\u%04X", *u);
				toml_buf_add(&b, esc, 6);
			} else
				toml_buf_add(&b, (const char *)u, 1);
		}
	}
	toml_buf_add(&b, "\"", 1);
	return toml_buf_take(&b);
}

/* "[a.b]" (or "[[a.b]]") for key under a table labelled parent. */
static char *
toml_label(const char *parent, const char *key, int aot)
{
	size_t skip = 0, len = strlen(parent);
	char *q = toml_quote(key, 1), *s;

	if (strncmp(parent, "[[", 2) == 0)
		skip = 2;
	else if (parent[0] == '[')
		skip = 1;
	len = len >= 2 * skip ? len - 2 * skip : 0;
	xasprintf(&s, "%s%.*s%s%s%s", aot ? "[[" : "[", (int)len, parent + skip,
	    len > 0 ? "." : "", q, aot ? "]]" : "]");
	free(q);
	return s;
}

/* "key a.b.c" or "table [a.b]" for redefinition messages. */
static char *
toml_key_label(const struct toml_key *k, const char *pre, const char *post)
{
	struct toml_buf b = { NULL, 0, 0 };
	char *q, *s;
	size_t i;

	for (i = 0; i < k->n; i++) {
		q = toml_quote(k->parts[i], 1);
		if (i > 0)
			toml_buf_add(&b, ".", 1);
		toml_buf_add(&b, q, strlen(q));
		free(q);
	}
	q = toml_buf_take(&b);
	xasprintf(&s, "%s%s%s", pre, q, post);
	free(q);
	return s;
}

static struct toml_table *
toml_add_table(struct toml_table *parent, const char *key, int origin, int line)
{
	struct toml_value v;

	memset(&v, 0, sizeof v);
	v.type = TOML_TABLE;
	v.line = line;
	v.u.tab = xcalloc(1, sizeof *v.u.tab);
	v.u.tab->name = toml_label(parent->name, key, 0);
	v.u.tab->origin = origin;
	v.u.tab->explicit = origin != TOML_IMPLICIT;
	v.u.tab->line = line;
	toml_set(parent, key, &v);
	return v.u.tab;
}

/* Why what (a key or a header) cannot reach into the existing value v. */
static int
toml_conflict(struct toml_parser *p, const char *what, const char *key,
    const struct toml_value *v)
{
	if (v->flags & TOML_AOT)
		return toml_error(p, "%s: '%s' is an array of tables (line %d)",
		    what, key, v->line);
	if (v->type != TOML_TABLE)
		return toml_error(p, "%s: '%s' is already %s %s (line %d)",
		    what, key, toml_article(v->type), toml_type_name(v->type),
		    v->line);
	if (v->u.tab->origin == TOML_INLINE)
		return toml_error(p,
		    "%s: '%s' is an inline table (line %d) and cannot be "
		    "extended",
		    what, key, v->line);
	if (v->u.tab->origin == TOML_DOTTED)
		return toml_error(p,
		    "%s: '%s' was defined by dotted keys (line %d)", what, key,
		    v->line);
	return toml_error(p, "%s: '%s' was defined by a table header (line %d)",
	    what, key, v->u.tab->line);
}

/* Refuses a key beyond TOML_MAX_KEYS in t. */
static int
toml_full(struct toml_parser *p, const struct toml_table *t)
{
	if (t->n < TOML_MAX_KEYS)
		return 0;
	return toml_error(p, "too many keys %s%s (at most %d)",
	    *t->name != '\0' ? "in " : "at top level", t->name, TOML_MAX_KEYS);
}

static void
toml_skip_ws(struct toml_parser *p)
{
	while (toml_cur(p) == ' ' || toml_cur(p) == '\t')
		p->pos++;
}

static void
toml_skip_comment(struct toml_parser *p)
{
	if (toml_cur(p) != '#')
		return;
	while (p->pos < p->end && *p->pos != '\n' && *p->pos != '\r')
		p->pos++;
}

/* Consumes one newline (LF or CRLF) if it is next. */
static int
toml_newline(struct toml_parser *p)
{
	if (toml_cur(p) == '\n') {
		p->pos++;
		p->line++;
		return 1;
	}
	if (toml_cur(p) == '\r' && toml_peek(p, 1) == '\n') {
		p->pos += 2;
		p->line++;
		return 1;
	}
	return 0;
}

/* Whitespace, comments and newlines, as allowed inside arrays. */
static void
toml_skip_space(struct toml_parser *p)
{
	do {
		toml_skip_ws(p);
		toml_skip_comment(p);
	} while (toml_newline(p));
}

/* The rest of a line after a value or a header: only a comment. */
static int
toml_eol(struct toml_parser *p, const char *after)
{
	toml_skip_ws(p);
	toml_skip_comment(p);
	if (toml_cur(p) == '\0' || toml_newline(p))
		return 0;
	return toml_error(
	    p, "expected end of line after %s, found %s", after, toml_what(p));
}

static int
toml_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
toml_buf_utf8(struct toml_buf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = 0xc0 | (cp >> 6);
		u[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = 0xe0 | (cp >> 12);
		u[1] = 0x80 | ((cp >> 6) & 0x3f);
		u[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		u[0] = 0xf0 | (cp >> 18);
		u[1] = 0x80 | ((cp >> 12) & 0x3f);
		u[2] = 0x80 | ((cp >> 6) & 0x3f);
		u[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	toml_buf_add(b, u, n);
}

/* One backslash escape in a basic string; p->pos is at the backslash. */
static int
toml_escape(struct toml_parser *p, struct toml_buf *b, int multi)
{
	static const char simple[] = "b\bt\tn\nf\fr\r\"\"\\\\";
	unsigned long cp = 0;
	int c = toml_peek(p, 1), i, n, h;

	if (multi && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
		/* Line-ending backslash: drop it and the whitespace after. */
		p->pos++;
		toml_skip_ws(p);
		if (!toml_newline(p))
			return toml_error(p,
			    "a backslash followed by spaces must end the line");
		do
			toml_skip_ws(p);
		while (toml_newline(p));
		return 0;
	}
	for (i = 0; simple[i] != '\0'; i += 2) {
		if (c == simple[i]) {
			toml_buf_add(b, &simple[i + 1], 1);
			p->pos += 2;
			return 0;
		}
	}
	if (c != 'u' && c != 'U') {
		if (c > ' ' && c < 0x7f)
			return toml_error(p, "invalid escape '\\%c'", c);
		return toml_error(p, "invalid escape sequence");
	}
	n = c == 'u' ? 4 : 8;
	for (i = 0; i < n; i++) {
		if ((h = toml_hex(toml_peek(p, 2 + i))) == -1)
			return toml_error(p,
			    "invalid unicode escape: \\%c needs %d hex digits",
			    c, n);
		cp = cp * 16 + h;
	}
	if (cp == 0)
		return toml_error(
		    p, "\\%c0000 (NUL) is not allowed in strings", c);
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return toml_error(p, "\\%c%.*s is not a Unicode scalar value",
		    c, n, p->pos + 2);
	toml_buf_utf8(b, cp);
	p->pos += 2 + n;
	return 0;
}

/*
 * A string delimited by q ('"' basic, '\'' literal), multi-line when the
 * opening is tripled. A closing triple may be preceded by up to two more
 * quotes, which belong to the string.
 */
static int
toml_parse_string(struct toml_parser *p, struct toml_buf *b, int q)
{
	int multi = toml_peek(p, 1) == q && toml_peek(p, 2) == q;
	int c, n;

	p->pos += multi ? 3 : 1;
	if (multi)
		toml_newline(p);
	for (;;) {
		c = toml_cur(p);
		if (c == '\0')
			return toml_error(p,
			    multi ? "unterminated multi-line string"
				  : "unterminated string");
		if (c == q && !multi) {
			p->pos++;
			return 0;
		}
		if (c == q && toml_peek(p, 1) == q && toml_peek(p, 2) == q) {
			for (n = 3; toml_peek(p, n) == q; n++)
				;
			if (n > 5)
				return toml_error(p,
				    "too many quotes closing a multi-line "
				    "string");
			toml_buf_add(b, q == '"' ? "\"\"" : "''", n - 3);
			p->pos += n;
			return 0;
		}
		if (c == '\n' || c == '\r') {
			if (!multi)
				return toml_error(p,
				    "unterminated string (newline before the "
				    "closing quote)");
			toml_newline(p);
			toml_buf_add(b, "\n", 1);
			continue;
		}
		if (c == '\\' && q == '"') {
			if (toml_escape(p, b, multi) == -1)
				return -1;
			continue;
		}
		toml_buf_add(b, p->pos++, 1);
	}
}

static void
toml_key_free(struct toml_key *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		free(k->parts[i]);
	k->n = 0;
}

/* A dotted key: bare or quoted parts separated by dots. */
static int
toml_parse_key(struct toml_parser *p, struct toml_key *k)
{
	struct toml_buf b = { NULL, 0, 0 };
	size_t n;
	int c;

	for (;;) {
		toml_skip_ws(p);
		if (k->n == TOML_MAX_DEPTH)
			return toml_error(
			    p, "key has more than %d parts", TOML_MAX_DEPTH);
		c = toml_cur(p);
		if (c == '"' || c == '\'') {
			if (toml_peek(p, 1) == c && toml_peek(p, 2) == c)
				return toml_error(
				    p, "multi-line strings cannot be keys");
			if (toml_parse_string(p, &b, c) == -1) {
				free(b.p);
				return -1;
			}
		} else {
			n = 0;
			while (c != '\0' && strchr(TOML_BARE, c) != NULL)
				c = toml_peek(p, ++n);
			if (n == 0)
				return toml_error(p, "expected a key, found %s",
				    toml_what(p));
			toml_buf_add(&b, p->pos, n);
			p->pos += n;
		}
		k->parts[k->n++] = toml_buf_take(&b);
		toml_skip_ws(p);
		if (toml_cur(p) != '.')
			return 0;
		p->pos++;
	}
}

static int
toml_digit(int c, int base)
{
	int d = toml_hex(c);

	return d >= 0 && d < base;
}

/* The end of a run of digits with '_' allowed only between two digits. */
static const char *
toml_digits(const char *s, const char *e, int base)
{
	const char *d = s;

	while (d < e) {
		if (toml_digit(*d, base))
			d++;
		else if (*d == '_' && d > s && d + 1 < e &&
		    toml_digit(d[1], base))
			d++;
		else
			break;
	}
	return d;
}

static int
toml_parse_number(
    struct toml_parser *p, const char *s, size_t n, struct toml_value *v)
{
	const char *e = s + n, *q = s, *digits, *d;
	unsigned long long acc = 0, lim;
	double f;
	int neg = 0, base = 10, isfloat = 0, dv;
	char *tmp;
	size_t i, j;

	if (*q == '+' || *q == '-')
		neg = *q++ == '-';
	if (e - q == 3 &&
	    (memcmp(q, "inf", 3) == 0 || memcmp(q, "nan", 3) == 0)) {
		v->type = TOML_FLOAT;
		v->u.f = copysign(*q == 'i' ? INFINITY : NAN, neg ? -1 : 1);
		return 0;
	}
	if (e - q > 2 && q[0] == '0' && strchr("xob", q[1]) != NULL) {
		if (q != s)
			return toml_error(
			    p, "sign not allowed in '%.*s'", (int)n, s);
		base = q[1] == 'x' ? 16 : q[1] == 'o' ? 8 : 2;
		digits = q += 2;
		d = toml_digits(q, e, base);
	} else {
		digits = q;
		d = toml_digits(q, e, 10);
		if (d > q && *q == '0' && d - q > 1)
			return toml_error(p,
			    "leading zeros are not allowed in '%.*s'", (int)n,
			    s);
		if (d > q && d < e && *d == '.') {
			isfloat = 1;
			q = d + 1;
			if ((d = toml_digits(q, e, 10)) == q)
				d = q - 1;
		}
		if (d > digits && d < e && (*d == 'e' || *d == 'E')) {
			isfloat = 1;
			q = ++d;
			if (d < e && (*d == '+' || *d == '-'))
				q = ++d;
			if ((d = toml_digits(q, e, 10)) == q)
				d = q - 1;
		}
	}
	if (d == digits || d != e) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
			return toml_error(p,
			    "invalid value '%.*s' (strings must be quoted)",
			    (int)(n > 40 ? 40 : n), s);
		return toml_error(
		    p, "invalid number '%.*s'", (int)(n > 40 ? 40 : n), s);
	}
	if (isfloat) {
		tmp = xmalloc(n + 1);
		for (i = j = 0; i < n; i++) {
			if (s[i] != '_')
				tmp[j++] = s[i];
		}
		tmp[j] = '\0';
		f = strtod(tmp, NULL);
		free(tmp);
		if (isinf(f))
			return toml_error(p, "float out of range '%.*s'",
			    (int)(n > 40 ? 40 : n), s);
		v->type = TOML_FLOAT;
		v->u.f = f;
		return 0;
	}
	lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
	for (d = digits; d < e; d++) {
		if (*d == '_')
			continue;
		dv = toml_hex(*d);
		if (acc > (lim - dv) / base)
			return toml_error(p, "integer out of range '%.*s'",
			    (int)(n > 40 ? 40 : n), s);
		acc = acc * base + dv;
	}
	v->type = TOML_INTEGER;
	if (neg && acc == (unsigned long long)LLONG_MAX + 1)
		v->u.i = LLONG_MIN;
	else
		v->u.i = neg ? -(long long)acc : (long long)acc;
	return 0;
}

/* Booleans, numbers, and dates (to reject them clearly). */
static int
toml_parse_scalar(struct toml_parser *p, struct toml_value *v)
{
	const char *s = p->pos;
	size_t n = 0;
	int c;

	while ((c = toml_peek(p, n)) != '\0' &&
	    (strchr(TOML_BARE, c) != NULL || c == '+' || c == '.' || c == ':'))
		n++;
	if (n == 0)
		return toml_error(
		    p, "expected a value, found %s", toml_what(p));
	p->pos += n;
	if ((n == 4 && memcmp(s, "true", 4) == 0) ||
	    (n == 5 && memcmp(s, "false", 5) == 0)) {
		v->type = TOML_BOOL;
		v->u.b = n == 4;
		return 0;
	}
	if (memchr(s, ':', n) != NULL ||
	    (n >= 5 && s[4] == '-' && strspn(s, "0123456789") == 4))
		return toml_error(p, "dates and times are not supported");
	return toml_parse_number(p, s, n, v);
}

static int
toml_parse_array(
    struct toml_parser *p, struct toml_value *v, int depth, const char *label)
{
	struct toml_value item;
	int line = p->line;

	if (depth > TOML_MAX_DEPTH)
		return toml_error(
		    p, "nesting deeper than %d levels", TOML_MAX_DEPTH);
	v->type = TOML_ARRAY;
	v->u.arr = xcalloc(1, sizeof *v->u.arr);
	p->pos++;
	for (;;) {
		toml_skip_space(p);
		if (toml_cur(p) == ']')
			break;
		if (toml_cur(p) == '\0')
			return toml_error(
			    p, "unterminated array (opened on line %d)", line);
		if (v->u.arr->n == TOML_MAX_KEYS)
			return toml_error(p,
			    "more than %d elements in an array", TOML_MAX_KEYS);
		if (toml_parse_value(p, &item, depth + 1, label) == -1) {
			toml_value_clear(&item);
			return -1;
		}
		toml_array_add(v->u.arr, &item);
		toml_skip_space(p);
		if (toml_cur(p) == ',') {
			p->pos++;
			continue;
		}
		if (toml_cur(p) == ']')
			break;
		if (toml_cur(p) == '\0')
			return toml_error(
			    p, "unterminated array (opened on line %d)", line);
		return toml_error(
		    p, "expected ',' or ']' in array, found %s", toml_what(p));
	}
	p->pos++;
	return 0;
}

/* Closes an inline table and the tables its dotted keys made. */
static void
toml_seal(struct toml_table *t)
{
	size_t i;

	t->origin = TOML_INLINE;
	for (i = 0; i < t->n; i++) {
		if (t->items[i].v.type == TOML_TABLE &&
		    t->items[i].v.u.tab->origin == TOML_DOTTED)
			toml_seal(t->items[i].v.u.tab);
	}
}

static int toml_parse_keyval(struct toml_parser *, struct toml_table *, int);

static int
toml_parse_inline(
    struct toml_parser *p, struct toml_value *v, int depth, const char *label)
{
	struct toml_table *t;

	if (depth > TOML_MAX_DEPTH)
		return toml_error(
		    p, "nesting deeper than %d levels", TOML_MAX_DEPTH);
	t = toml_table_new(label);
	t->origin = TOML_INLINE;
	t->line = p->line;
	v->type = TOML_TABLE;
	v->u.tab = t;
	p->pos++;
	toml_skip_ws(p);
	if (toml_cur(p) == '}') {
		p->pos++;
		return 0;
	}
	for (;;) {
		if (toml_parse_keyval(p, t, depth) == -1)
			return -1;
		toml_skip_ws(p);
		if (toml_cur(p) == '}')
			break;
		if (toml_cur(p) == ',') {
			p->pos++;
			toml_skip_ws(p);
			if (toml_cur(p) == '}')
				return toml_error(
				    p, "trailing comma in inline table");
			continue;
		}
		if (toml_cur(p) == '\0' || toml_cur(p) == '\n' ||
		    toml_cur(p) == '\r')
			return toml_error(p,
			    "unterminated inline table "
			    "(it must close on the same line)");
		return toml_error(p,
		    "expected ',' or '}' in inline table, found %s",
		    toml_what(p));
	}
	p->pos++;
	toml_seal(t);
	return 0;
}

/* Any value; depth is that of the container it would be. */
static int
toml_parse_value(
    struct toml_parser *p, struct toml_value *v, int depth, const char *label)
{
	struct toml_buf b = { NULL, 0, 0 };
	int c = toml_cur(p);

	memset(v, 0, sizeof *v);
	v->line = p->line;
	switch (c) {
	case '"':
	case '\'':
		if (toml_parse_string(p, &b, c) == -1) {
			free(b.p);
			return -1;
		}
		v->u.s = toml_buf_take(&b);
		return 0;
	case '[':
		return toml_parse_array(p, v, depth, label);
	case '{':
		return toml_parse_inline(p, v, depth, label);
	}
	return toml_parse_scalar(p, v);
}

/* key = value into t, whose depth is depth; dotted keys make tables. */
static int
toml_parse_keyval(struct toml_parser *p, struct toml_table *t, int depth)
{
	struct toml_key k;
	struct toml_value v, *old;
	char *label = NULL, *what;
	int rc = -1, line = p->line;
	size_t i;

	k.n = 0;
	memset(&v, 0, sizeof v);
	if (toml_parse_key(p, &k) == -1)
		goto out;
	if (toml_cur(p) != '=') {
		toml_error(
		    p, "expected '=' after a key, found %s", toml_what(p));
		goto out;
	}
	p->pos++;
	toml_skip_ws(p);
	for (i = 0; i + 1 < k.n; i++) {
		if (++depth > TOML_MAX_DEPTH) {
			toml_error(
			    p, "nesting deeper than %d levels", TOML_MAX_DEPTH);
			goto out;
		}
		if ((old = toml_get(t, k.parts[i])) == NULL) {
			if (toml_full(p, t) == -1)
				goto out;
			t = toml_add_table(t, k.parts[i], TOML_DOTTED, line);
		} else if (old->type == TOML_TABLE &&
		    old->u.tab->origin == TOML_DOTTED)
			t = old->u.tab;
		else {
			what = toml_key_label(&k, "key ", "");
			toml_conflict(p, what, k.parts[i], old);
			free(what);
			goto out;
		}
	}
	if ((old = toml_get(t, k.parts[i])) != NULL) {
		toml_error(p, "duplicate key '%s'%s%s (first on line %d)",
		    k.parts[i], *t->name != '\0' ? " in " : "", t->name,
		    old->line);
		goto out;
	}
	if (toml_full(p, t) == -1)
		goto out;
	label = toml_label(t->name, k.parts[i], 0);
	if (toml_parse_value(p, &v, depth + 1, label) == -1)
		goto out;
	toml_set(t, k.parts[i], &v);
	memset(&v, 0, sizeof v);
	rc = 0;
out:
	toml_value_clear(&v);
	free(label);
	toml_key_free(&k);
	return rc;
}

/* Makes the table (or new array element) a header names current. */
static int
toml_open_table(struct toml_parser *p, const struct toml_key *k, int aot)
{
	struct toml_table *t = p->root, *nt;
	struct toml_value *v, nv;
	char *what;
	size_t i;
	int depth = 0, last, rc;

	for (i = 0; i < k->n; i++) {
		last = i + 1 == k->n;
		v = toml_get(t, k->parts[i]);
		depth += (last && aot) || (v != NULL && (v->flags & TOML_AOT))
		    ? 2
		    : 1;
		if (depth > TOML_MAX_DEPTH)
			return toml_error(
			    p, "nesting deeper than %d levels", TOML_MAX_DEPTH);
		if (v == NULL && toml_full(p, t) == -1)
			return -1;
		if (v == NULL && !(last && aot)) {
			t = toml_add_table(t, k->parts[i],
			    last ? TOML_HEADER : TOML_IMPLICIT, p->line);
			continue;
		}
		if (last && aot) {
			if (v == NULL) {
				memset(&nv, 0, sizeof nv);
				nv.type = TOML_ARRAY;
				nv.flags = TOML_AOT;
				nv.line = p->line;
				nv.u.arr = xcalloc(1, sizeof *nv.u.arr);
				v = toml_set(t, k->parts[i], &nv);
			} else if (!(v->flags & TOML_AOT))
				break;
			if (v->u.arr->n == TOML_MAX_KEYS)
				return toml_error(p,
				    "more than %d elements in an array",
				    TOML_MAX_KEYS);
			memset(&nv, 0, sizeof nv);
			nv.type = TOML_TABLE;
			nv.line = p->line;
			nv.u.tab = xcalloc(1, sizeof *nv.u.tab);
			nv.u.tab->name = toml_label(t->name, k->parts[i], 1);
			nv.u.tab->origin = TOML_HEADER;
			nv.u.tab->explicit = 1;
			nv.u.tab->line = p->line;
			toml_array_add(v->u.arr, &nv);
			t = nv.u.tab;
			continue;
		}
		if (v->flags & TOML_AOT) {
			if (last || v->u.arr->n == 0)
				break;
			t = v->u.arr->items[v->u.arr->n - 1].u.tab;
			continue;
		}
		if (v->type != TOML_TABLE || v->u.tab->origin == TOML_INLINE)
			break;
		nt = v->u.tab;
		if (last && nt->origin == TOML_DOTTED)
			break;
		if (last && nt->origin != TOML_IMPLICIT) {
			what = toml_key_label(k, "table [", "]");
			toml_error(p, "%s defined twice (first on line %d)",
			    what, nt->line);
			free(what);
			return -1;
		}
		if (last) {
			nt->origin = TOML_HEADER;
			nt->explicit = 1;
			nt->line = p->line;
		}
		t = nt;
	}
	if (i < k->n) {
		what = aot ? toml_key_label(k, "array of tables [[", "]]")
			   : toml_key_label(k, "table [", "]");
		rc = toml_conflict(p, what, k->parts[i], v);
		free(what);
		return rc;
	}
	p->cur = t;
	p->cur_depth = depth;
	return 0;
}

static int
toml_parse_header(struct toml_parser *p)
{
	struct toml_key k;
	int aot, rc = -1;

	k.n = 0;
	p->pos++;
	if ((aot = toml_cur(p) == '['))
		p->pos++;
	if (toml_parse_key(p, &k) == -1)
		goto out;
	if (toml_cur(p) != ']' || (aot && toml_peek(p, 1) != ']')) {
		toml_error(p, "expected '%s' to close the header, found %s",
		    aot ? "]]" : "]",
		    toml_cur(p) == ']' ? "a single ']'" : toml_what(p));
		goto out;
	}
	p->pos += aot ? 2 : 1;
	if (toml_open_table(p, &k, aot) == -1)
		goto out;
	rc = toml_eol(p, "table header");
out:
	toml_key_free(&k);
	return rc;
}

/* Parses len bytes (no NUL needed); NULL with *cause on error. */
struct toml_table *
toml_parse(const char *text, size_t len, const char *name, char **cause)
{
	struct toml_parser p;
	int c, rc;

	memset(&p, 0, sizeof p);
	if (text == NULL)
		text = "";
	p.pos = text;
	p.end = text + len;
	p.name = name != NULL ? name : "(input)";
	p.root = p.cur = toml_table_new("");
	p.root->origin = TOML_HEADER;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		p.pos += 3;
	if (toml_check_text(&p) == -1)
		goto fail;
	while (p.pos < p.end) {
		toml_skip_ws(&p);
		c = toml_cur(&p);
		if (c == '[')
			rc = toml_parse_header(&p);
		else if (c == '#' || c == '\n' || c == '\r' || c == '\0')
			rc = toml_eol(&p, "comment");
		else {
			rc = toml_parse_keyval(&p, p.cur, p.cur_depth);
			if (rc == 0)
				rc = toml_eol(&p, "value");
		}
		if (rc == -1)
			goto fail;
	}
	return p.root;
fail:
	toml_free(p.root);
	if (cause != NULL)
		*cause = p.cause;
	else
		free(p.cause);
	return NULL;
}
