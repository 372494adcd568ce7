/*
 * Payload decoding for the ingest adapters: bare numbers, JSON through a
 * private in-memory SQLite connection (the project's one JSON parser),
 * InfluxDB line protocol and one CSV line. Everything decodes into a
 * buffer first, so a bad payload hands out nothing; what the readings mean
 * (device, priority, time of arrival) is the adapter's business.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "payload.h"
#include "xmalloc.h"

/* Longest number text accepted (digits, sign, point, exponent). */
#define PAYLOAD_NUMBER_MAX 64
/* Readings buffered above this many are released after each decode. */
#define PAYLOAD_KEEP_READINGS 1024
/* Timestamps past this are not Unix seconds (milliseconds, most likely). */
#define PAYLOAD_TS_MAX 1e11

struct payload {
	sqlite3 *db;
	sqlite3_stmt *tree; /* the whole document, one pass */
	sqlite3_stmt *path; /* value and ts picked with paths */
	struct reading *buf;
	size_t n;
	size_t cap;
	size_t limit; /* this decode's reading limit */
};

static const char *const payload_format_names[] = {
	[PAYLOAD_NUMBER] = "number",
	[PAYLOAD_JSON] = "json",
	[PAYLOAD_INFLUX] = "influx",
	[PAYLOAD_CSV] = "csv",
};

/*
 * json_tree walks the document depth-first in one parse. Only the text of
 * a "meta" object is rendered (the CASE keeps SQLite from rendering every
 * container); the other fields come as atoms.
 */
static const char payload_tree_sql[] =
    "SELECT id, parent, key, type, atom,"
    " CASE WHEN key = 'meta' AND type = 'object' THEN value END"
    " FROM json_tree(?1)";
static const char payload_path_sql[] =
    "SELECT json_type(?1, ?2), json_extract(?1, ?2),"
    " json_type(?1, ?3), json_extract(?1, ?3)";

/* A decoder with its own in-memory SQLite; NULL if SQLite fails. */
struct payload *
payload_new(void)
{
	struct payload *p = xcalloc(1, sizeof *p);

	if (sqlite3_open_v2(":memory:", &p->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v3(p->db, payload_tree_sql, -1,
		SQLITE_PREPARE_PERSISTENT, &p->tree, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v3(p->db, payload_path_sql, -1,
		SQLITE_PREPARE_PERSISTENT, &p->path, NULL) != SQLITE_OK)
		goto fail;
	return p;
fail:
	payload_free(p);
	return NULL;
}

/* Accepts NULL. */
void
payload_free(struct payload *p)
{
	if (p == NULL)
		return;
	sqlite3_finalize(p->tree);
	sqlite3_finalize(p->path);
	sqlite3_close(p->db);
	free(p->buf);
	free(p);
}

/* 0 and *out set, or -1 for an unknown name. */
int
payload_format_parse(const char *s, enum payload_format *out)
{
	size_t i;

	for (i = 0;
	     i < sizeof payload_format_names / sizeof *payload_format_names;
	     i++) {
		if (strcmp(s, payload_format_names[i]) == 0) {
			*out = (enum payload_format)i;
			return 0;
		}
	}
	return -1;
}

/* The config name of a format. */
const char *
payload_format_name(enum payload_format f)
{
	if ((unsigned)f >=
	    sizeof payload_format_names / sizeof *payload_format_names)
		return "unknown";
	return payload_format_names[f];
}

/* A fresh zeroed slot, or NULL when the payload holds too many readings. */
static struct reading *
payload_add(struct payload *p, char *err, size_t errlen)
{
	struct reading *r;
	size_t ncap;

	if (p->n >= p->limit) {
		xerrorf(err, errlen, "more than %zu readings", p->limit);
		return NULL;
	}
	if (p->n == p->cap) {
		ncap = p->cap == 0 ? 16 : p->cap * 2;
		if (ncap > p->limit)
			ncap = p->limit;
		p->buf = xreallocarray(p->buf, ncap, sizeof *p->buf);
		p->cap = ncap;
	}
	r = &p->buf[p->n++];
	memset(r, 0, sizeof *r);
	return r;
}

static int
payload_isspace(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	    c == '\v';
}

/*
 * A decimal number and nothing else: strtod alone would also take "nan",
 * "inf", hex floats and the locale's decimal point.
 */
static int
payload_number(const char *s, size_t len, double *out)
{
	char buf[PAYLOAD_NUMBER_MAX + 1];
	char *end;
	size_t i;
	int digits = 0;
	double v;

	if (len == 0 || len > PAYLOAD_NUMBER_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		if (isdigit((unsigned char)s[i]))
			digits = 1;
		else if (strchr("+-.eE", s[i]) == NULL || s[i] == '\0')
			return -1;
	}
	if (!digits)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	if (end != buf + len || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* Copies a string field; -1 when it is empty, too long or has controls. */
static int
payload_copy_name(char *dst, size_t size, const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= size)
		return -1;
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	}
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long long
payload_days(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static int
payload_digits(const char **sp, const char *end, int n, int *out)
{
	const char *s = *sp;
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s + i >= end || !isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*sp = s + n;
	*out = v;
	return 0;
}

/*
 * ISO-8601 / RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac][Z|+HH:MM|-HH:MM]; a space
 * may stand for T, and no zone means UTC.
 */
static int
payload_iso8601(const char *s, size_t len, double *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	const char *end = s + len;
	int y, mo, d, h, mi, sec, zh = 0, zm = 0, sign = 0;
	double frac = 0, scale = 0.1;

	if (payload_digits(&s, end, 4, &y) == -1 || s >= end || *s++ != '-' ||
	    payload_digits(&s, end, 2, &mo) == -1 || s >= end || *s++ != '-' ||
	    payload_digits(&s, end, 2, &d) == -1 || s >= end ||
	    (*s != 'T' && *s != 't' && *s != ' '))
		return -1;
	s++;
	if (payload_digits(&s, end, 2, &h) == -1 || s >= end || *s++ != ':' ||
	    payload_digits(&s, end, 2, &mi) == -1 || s >= end || *s++ != ':' ||
	    payload_digits(&s, end, 2, &sec) == -1)
		return -1;
	if (s < end && *s == '.') {
		s++;
		if (s >= end || !isdigit((unsigned char)*s))
			return -1;
		while (s < end && isdigit((unsigned char)*s)) {
			frac += (*s++ - '0') * scale;
			scale /= 10;
		}
	}
	if (s < end && (*s == 'Z' || *s == 'z'))
		s++;
	else if (s < end && (*s == '+' || *s == '-')) {
		sign = *s++ == '-' ? -1 : 1;
		if (payload_digits(&s, end, 2, &zh) == -1)
			return -1;
		if (s < end && *s == ':')
			s++;
		if (payload_digits(&s, end, 2, &zm) == -1 || zh > 23 || zm > 59)
			return -1;
	}
	if (s != end || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	*out = (double)(payload_days(y, (unsigned)mo, (unsigned)d) * 86400 +
		   h * 3600 + mi * 60 + sec) +
	    frac - sign * (zh * 3600 + zm * 60);
	return 0;
}

static int
payload_ts_ok(double ts)
{
	return isfinite(ts) && ts > 0 && ts < PAYLOAD_TS_MAX;
}

/*
 * A JSON timestamp from a column pair (type, atom): Unix seconds as a
 * number or an ISO-8601 string. -1 with err naming what, prefixed by pfx.
 */
static int
payload_json_ts(sqlite3_stmt *st, int tcol, int vcol, const char *pfx,
    const char *what, double *out, char *err, size_t errlen)
{
	const char *type = (const char *)sqlite3_column_text(st, tcol);
	const char *s;
	double ts;

	if (type == NULL) {
		xerrorf(err, errlen, "%s%s is missing", pfx, what);
		return -1;
	}
	if (strcmp(type, "integer") == 0 || strcmp(type, "real") == 0) {
		ts = sqlite3_column_double(st, vcol);
	} else if (strcmp(type, "text") == 0) {
		s = (const char *)sqlite3_column_text(st, vcol);
		if (s == NULL ||
		    payload_iso8601(
			s, (size_t)sqlite3_column_bytes(st, vcol), &ts) == -1) {
			xerrorf(err, errlen,
			    "%s%s is not a number nor an ISO-8601 time", pfx,
			    what);
			return -1;
		}
	} else {
		xerrorf(err, errlen, "%s%s is %s, not a time", pfx, what, type);
		return -1;
	}
	if (!payload_ts_ok(ts)) {
		xerrorf(err, errlen,
		    "%s%s is out of range (Unix seconds expected)", pfx, what);
		return -1;
	}
	*out = ts;
	return 0;
}

/* Value and optional timestamp picked from one document with paths. */
static int
payload_json_path(struct payload *p, const struct payload_opts *o,
    const char *data, size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *st = p->path;
	struct reading *r;
	const char *type, *msg;
	int rc = -1;

	sqlite3_bind_text(st, 1, data, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, o->value_path, -1, SQLITE_STATIC);
	if (o->ts_path != NULL && o->ts_path[0] != '\0')
		sqlite3_bind_text(st, 3, o->ts_path, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	if (sqlite3_step(st) != SQLITE_ROW) {
		/* "malformed JSON", or the path's own syntax error. */
		msg = sqlite3_errmsg(p->db);
		if (strcmp(msg, "malformed JSON") == 0)
			xerrorf(
			    err, errlen, "payload is not valid JSON (%s)", msg);
		else
			xerrorf(err, errlen, "%s", msg);
		goto out;
	}
	type = (const char *)sqlite3_column_text(st, 0);
	if (type == NULL) {
		xerrorf(err, errlen, "no value at %s", o->value_path);
		goto out;
	}
	if (strcmp(type, "integer") != 0 && strcmp(type, "real") != 0) {
		xerrorf(err, errlen, "value at %s is %s, not a number",
		    o->value_path, type);
		goto out;
	}
	if ((r = payload_add(p, err, errlen)) == NULL)
		goto out;
	r->value = sqlite3_column_double(st, 1);
	if (!isfinite(r->value)) {
		xerrorf(
		    err, errlen, "value at %s is not finite", o->value_path);
		goto out;
	}
	if (o->ts_path != NULL && o->ts_path[0] != '\0' &&
	    payload_json_ts(st, 2, 3, "", o->ts_path, &r->ts, err, errlen) ==
		-1)
		goto out;
	rc = 0;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* A reading object ends: the one required field must have been there. */
static int
payload_json_check(int have_value, const char *pfx, char *err, size_t errlen)
{
	if (!have_value) {
		xerrorf(err, errlen, "%svalue is missing", pfx);
		return -1;
	}
	return 0;
}

/* One field of a reading object (a row of json_tree whose parent it is). */
static int
payload_json_field(struct payload *p, struct reading *r, int *have_value,
    const char *pfx, char *err, size_t errlen)
{
	sqlite3_stmt *st = p->tree;
	const char *key = (const char *)sqlite3_column_text(st, 2);
	const char *type = (const char *)sqlite3_column_text(st, 3);
	const char *s;
	size_t n;

	if (key == NULL || type == NULL)
		return 0;
	if (strcmp(key, "value") == 0) {
		if (strcmp(type, "integer") != 0 && strcmp(type, "real") != 0) {
			xerrorf(err, errlen, "%svalue is not a number", pfx);
			return -1;
		}
		r->value = sqlite3_column_double(st, 4);
		if (!isfinite(r->value)) {
			xerrorf(err, errlen, "%svalue is not finite", pfx);
			return -1;
		}
		*have_value = 1;
	} else if (strcmp(key, "ts") == 0) {
		if (payload_json_ts(st, 3, 4, pfx, "ts", &r->ts, err, errlen) ==
		    -1)
			return -1;
	} else if (strcmp(key, "sensor") == 0 || strcmp(key, "unit") == 0) {
		s = (const char *)sqlite3_column_text(st, 4);
		n = (size_t)sqlite3_column_bytes(st, 4);
		if (strcmp(type, "text") != 0 || s == NULL) {
			xerrorf(err, errlen, "%s%s is not a string", pfx, key);
			return -1;
		}
		if (key[0] == 's' ? payload_copy_name(
					r->sensor, sizeof r->sensor, s, n) == -1
				  : (n > 0 &&
					payload_copy_name(r->unit,
					    sizeof r->unit, s, n) == -1)) {
			xerrorf(err, errlen,
			    "%s%s is empty, longer than %zu bytes or has "
			    "control characters",
			    pfx, key,
			    (key[0] == 's' ? sizeof r->sensor
					   : sizeof r->unit) -
				1);
			return -1;
		}
	} else if (strcmp(key, "meta") == 0) {
		if (strcmp(type, "object") != 0) {
			xerrorf(err, errlen, "%smeta is not an object", pfx);
			return -1;
		}
		s = (const char *)sqlite3_column_text(st, 5);
		n = (size_t)sqlite3_column_bytes(st, 5);
		if (s == NULL || n >= sizeof r->meta) {
			xerrorf(err, errlen, "%smeta is longer than %zu bytes",
			    pfx, sizeof r->meta - 1);
			return -1;
		}
		/* An empty object is the same as no meta. */
		if (n > 2)
			memcpy(r->meta, s, n + 1);
	}
	/* Other keys (device, id, ...) are ignored: the adapter sets them. */
	return 0;
}

/*
 * One reading object, or an array of them: {"sensor":..,"value":..,
 * "ts":..,"unit":..,"meta":{..}}. Errors name the array index.
 */
static int
payload_json_tree(
    struct payload *p, const char *data, size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *st = p->tree;
	struct reading *r = NULL;
	sqlite3_int64 id, parent, root = -1, elem = -1;
	const char *type;
	char pfx[40] = "";
	int rc = -1, step, array = 0, have_value = 0;

	sqlite3_bind_text(st, 1, data, (int)len, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		parent = sqlite3_column_type(st, 1) == SQLITE_NULL
		    ? -1
		    : sqlite3_column_int64(st, 1);
		type = (const char *)sqlite3_column_text(st, 3);
		if (type == NULL)
			type = "null";
		if (root == -1) {
			root = id;
			if (strcmp(type, "array") == 0)
				array = 1;
			else if (strcmp(type, "object") == 0) {
				if ((r = payload_add(p, err, errlen)) == NULL)
					goto out;
				elem = id;
			} else {
				xerrorf(err, errlen,
				    "payload is a JSON %s, not a reading object "
				    "or an array of them",
				    type);
				goto out;
			}
			continue;
		}
		if (array && parent == root) {
			if (r != NULL &&
			    payload_json_check(have_value, pfx, err, errlen) ==
				-1)
				goto out;
			snprintf(pfx, sizeof pfx, "record %lld: ",
			    (long long)sqlite3_column_int64(st, 2));
			if (strcmp(type, "object") != 0) {
				xerrorf(err, errlen,
				    "%s%s, not a reading object", pfx, type);
				goto out;
			}
			if ((r = payload_add(p, err, errlen)) == NULL)
				goto out;
			elem = id;
			have_value = 0;
			continue;
		}
		if (parent != elem || r == NULL)
			continue;
		if (payload_json_field(p, r, &have_value, pfx, err, errlen) ==
		    -1)
			goto out;
	}
	if (step != SQLITE_DONE) {
		xerrorf(err, errlen, "payload is not valid JSON (%s)",
		    sqlite3_errmsg(p->db));
		goto out;
	}
	if (r != NULL && payload_json_check(have_value, pfx, err, errlen) == -1)
		goto out;
	if (root == -1) {
		xerrorf(err, errlen, "empty payload");
		goto out;
	}
	rc = 0;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static int
payload_json(struct payload *p, const struct payload_opts *o, const char *data,
    size_t len, char *err, size_t errlen)
{
	if (len > INT_MAX) {
		xerrorf(err, errlen, "payload too large");
		return -1;
	}
	/*
	 * SQLite's JSON parser stops at a NUL byte and would take what
	 * precedes it for the whole document.
	 */
	if (memchr(data, '\0', len) != NULL) {
		xerrorf(err, errlen, "payload has a NUL byte");
		return -1;
	}
	if (o->value_path != NULL && o->value_path[0] != '\0')
		return payload_json_path(p, o, data, len, err, errlen);
	return payload_json_tree(p, data, len, err, errlen);
}

static int
payload_plain_number(
    struct payload *p, const char *data, size_t len, char *err, size_t errlen)
{
	struct reading *r;
	double v;

	while (len > 0 && payload_isspace((unsigned char)data[0])) {
		data++;
		len--;
	}
	while (len > 0 && payload_isspace((unsigned char)data[len - 1]))
		len--;
	if (payload_number(data, len, &v) == -1) {
		xerrorf(err, errlen, "payload is not a number");
		return -1;
	}
	if ((r = payload_add(p, err, errlen)) == NULL)
		return -1;
	r->value = v;
	return 0;
}

/*
 * One CSV line; fields may be double-quoted ("" is a quote inside). The
 * value is column col (1-based), surrounding blanks ignored.
 */
static int
payload_csv(struct payload *p, const struct payload_opts *o, const char *data,
    size_t len, char *err, size_t errlen)
{
	char sep = o->csv_separator != '\0' ? o->csv_separator : ',';
	char field[PAYLOAD_NUMBER_MAX + 1];
	const char *s = data, *end;
	struct reading *r;
	size_t flen, lead;
	int col = 1, want = o->csv_column > 0 ? o->csv_column : 1;
	int quoted, found = 0;
	double v;

	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	end = data + len;
	if (memchr(data, '\n', len) != NULL) {
		xerrorf(err, errlen, "more than one CSV line");
		return -1;
	}
	for (;;) {
		flen = 0;
		quoted = 0;
		while (s < end && (*s == ' ' || *s == '\t') && *s != sep)
			s++;
		if (s < end && *s == '"') {
			quoted = 1;
			s++;
			for (;;) {
				if (s >= end) {
					xerrorf(err, errlen,
					    "column %d: unterminated quote",
					    col);
					return -1;
				}
				if (*s == '"') {
					if (s + 1 < end && s[1] == '"')
						s++;
					else
						break;
				}
				if (col == want && flen < sizeof field - 1)
					field[flen] = *s;
				flen++;
				s++;
			}
			s++;
		}
		while (s < end && *s != sep) {
			if (quoted && *s != ' ' && *s != '\t') {
				xerrorf(err, errlen,
				    "column %d: text after the closing quote",
				    col);
				return -1;
			}
			if (col == want && flen < sizeof field - 1)
				field[flen] = *s;
			flen++;
			s++;
		}
		if (col == want) {
			found = 1;
			if (flen >= sizeof field) {
				xerrorf(err, errlen,
				    "column %d is not a number", col);
				return -1;
			}
			while (flen > 0 &&
			    payload_isspace((unsigned char)field[flen - 1]))
				flen--;
			for (lead = 0; lead < flen &&
			     payload_isspace((unsigned char)field[lead]);
			     lead++)
				;
			if (payload_number(field + lead, flen - lead, &v) ==
			    -1) {
				xerrorf(err, errlen,
				    "column %d is not a number", col);
				return -1;
			}
		}
		if (s >= end)
			break;
		s++; /* the separator */
		col++;
	}
	if (!found) {
		xerrorf(
		    err, errlen, "no column %d (the line has %d)", want, col);
		return -1;
	}
	if ((r = payload_add(p, err, errlen)) == NULL)
		return -1;
	r->value = v;
	return 0;
}

/*
 * Line protocol element up to an unescaped stop character. Backslash
 * escapes ',', '=', ' ' and itself; before anything else it is literal.
 * Returns the unescaped length (or (size_t)-1 when it does not fit).
 */
static size_t
payload_lp_token(
    const char **sp, const char *end, const char *stops, char *dst, size_t size)
{
	const char *s = *sp;
	size_t n = 0, over = 0;
	char c;

	while (s < end && strchr(stops, *s) == NULL) {
		c = *s++;
		if (c == '\\' && s < end && strchr(",= \\", *s) != NULL)
			c = *s++;
		if (n + 1 < size)
			dst[n++] = c;
		else
			over = 1;
	}
	dst[n] = '\0';
	*sp = s;
	return over ? (size_t)-1 : n;
}

/* Appends "key":"value" to a JSON object being built in meta. */
static int
payload_meta_add(char *meta, size_t size, const char *k, const char *v)
{
	size_t n = strlen(meta);
	const char *parts[2] = { k, v };
	const unsigned char *s;
	int i;

#define PUT(c)                     \
	do {                       \
		if (n + 2 >= size) \
			return -1; \
		meta[n++] = (c);   \
	} while (0)

	/* Past the first tag, the closing brace makes way for a comma. */
	if (n == 0) {
		PUT('{');
	} else {
		n--;
		PUT(',');
	}
	for (i = 0; i < 2; i++) {
		PUT('"');
		for (s = (const unsigned char *)parts[i]; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\') {
				PUT('\\');
				PUT(*s);
			} else if (*s < 0x20) {
				if (n + 8 >= size)
					return -1;
				n += (size_t)snprintf(
				    meta + n, size - n, "\\u%04x", *s);
			} else
				PUT(*s);
		}
		PUT('"');
		if (i == 0)
			PUT(':');
	}
#undef PUT
	meta[n] = '}';
	meta[n + 1] = '\0';
	return 0;
}

/* The field value at s: 1 numeric (*v set), 0 string or boolean, -1 bad. */
static int
payload_lp_value(const char **sp, const char *end, double *v)
{
	const char *s = *sp, *start;
	char *e, buf[PAYLOAD_NUMBER_MAX + 1], suffix;
	size_t n, i;

	if (s < end && *s == '"') {
		for (s++; s < end && *s != '"'; s++) {
			if (*s == '\\' && s + 1 < end)
				s++;
		}
		if (s >= end)
			return -1;
		*sp = s + 1;
		return 0;
	}
	start = s;
	while (s < end && *s != ',' && *s != ' ' && *s != '\t')
		s++;
	*sp = s;
	n = (size_t)(s - start);
	if (n == 0 || n > PAYLOAD_NUMBER_MAX)
		return -1;
	memcpy(buf, start, n);
	buf[n] = '\0';
	if (strcmp(buf, "t") == 0 || strcmp(buf, "T") == 0 ||
	    strcmp(buf, "true") == 0 || strcmp(buf, "True") == 0 ||
	    strcmp(buf, "TRUE") == 0 || strcmp(buf, "f") == 0 ||
	    strcmp(buf, "F") == 0 || strcmp(buf, "false") == 0 ||
	    strcmp(buf, "False") == 0 || strcmp(buf, "FALSE") == 0)
		return 0;
	if (buf[n - 1] == 'i' || buf[n - 1] == 'u') {
		suffix = buf[n - 1];
		buf[--n] = '\0';
		i = suffix == 'i' && buf[0] == '-' ? 1 : 0;
		if (i == n)
			return -1;
		for (; i < n; i++) {
			if (!isdigit((unsigned char)buf[i]))
				return -1;
		}
		errno = 0;
		if (suffix == 'i')
			*v = (double)strtoll(buf, &e, 10);
		else
			*v = (double)strtoull(buf, &e, 10);
		if (*e != '\0' || errno == ERANGE)
			return -1;
		return 1;
	}
	return payload_number(buf, n, v) == -1 ? -1 : 1;
}

static int
payload_lp_ts(const char *s, const char *end, double *ts)
{
	long long ns = 0;
	int neg = 0;

	if (s < end && *s == '-') {
		neg = 1;
		s++;
	}
	if (s >= end)
		return -1;
	for (; s < end; s++) {
		if (!isdigit((unsigned char)*s) || ns > (LLONG_MAX - 9) / 10)
			return -1;
		ns = ns * 10 + (*s - '0');
	}
	if (neg)
		return -1;
	*ts = (double)(ns / 1000000000) + (double)(ns % 1000000000) / 1e9;
	return payload_ts_ok(*ts) ? 0 : -1;
}

/*
 * One line: measurement[,tag=v...] field=v[,field=v...] [ns]. Each
 * numeric field is a reading; string and boolean fields are skipped, but a
 * line must have at least one numeric field.
 */
static int
payload_influx_line(struct payload *p, const char *s, const char *end,
    unsigned long lineno, char *err, size_t errlen)
{
	char meas[READING_SENSOR_MAX], key[READING_SENSOR_MAX];
	char tval[READING_META_MAX], unit[READING_UNIT_MAX] = "";
	char meta[READING_META_MAX] = "";
	struct reading *r;
	size_t first = p->n, i, n;
	const char *tsp;
	double v, ts = 0;
	int kind, numeric = 0;

	n = payload_lp_token(&s, end, ", \t", meas, sizeof meas);
	if (n == 0 || n == (size_t)-1) {
		xerrorf(err, errlen,
		    n == 0 ? "line %lu: no measurement"
			   : "line %lu: measurement longer than %zu bytes",
		    lineno, sizeof meas - 1);
		return -1;
	}
	while (s < end && *s == ',') {
		s++;
		n = payload_lp_token(&s, end, "=, \t", key, sizeof key);
		if (n == 0 || n == (size_t)-1 || s >= end || *s != '=') {
			xerrorf(err, errlen, "line %lu: bad tag key", lineno);
			return -1;
		}
		s++;
		n = payload_lp_token(&s, end, ", \t", tval, sizeof tval);
		if (n == 0 || n == (size_t)-1) {
			xerrorf(err, errlen,
			    "line %lu: tag %s: empty or too long value", lineno,
			    key);
			return -1;
		}
		if (strcmp(key, "unit") == 0) {
			if (payload_copy_name(unit, sizeof unit, tval, n) ==
			    -1) {
				xerrorf(err, errlen,
				    "line %lu: unit longer than %zu bytes",
				    lineno, sizeof unit - 1);
				return -1;
			}
		} else if (payload_meta_add(meta, sizeof meta, key, tval) ==
		    -1) {
			xerrorf(err, errlen,
			    "line %lu: tags longer than %zu bytes of meta",
			    lineno, sizeof meta - 1);
			return -1;
		}
	}
	if (s >= end || (*s != ' ' && *s != '\t')) {
		xerrorf(err, errlen, "line %lu: no field set", lineno);
		return -1;
	}
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	for (;;) {
		n = payload_lp_token(&s, end, "=, \t", key, sizeof key);
		if (n == 0 || n == (size_t)-1 || s >= end || *s != '=') {
			xerrorf(err, errlen, "line %lu: bad field key", lineno);
			return -1;
		}
		s++;
		if ((kind = payload_lp_value(&s, end, &v)) == -1) {
			xerrorf(err, errlen, "line %lu: field %s: bad value",
			    lineno, key);
			return -1;
		}
		if (kind == 1) {
			numeric = 1;
			if ((r = payload_add(p, err, errlen)) == NULL)
				return -1;
			r->value = v;
			if (strcmp(key, "value") == 0)
				xstrlcpy(r->sensor, meas, sizeof r->sensor);
			else if ((size_t)snprintf(r->sensor, sizeof r->sensor,
				     "%s.%s", meas, key) >= sizeof r->sensor) {
				xerrorf(err, errlen,
				    "line %lu: sensor %s.%s longer than %zu "
				    "bytes",
				    lineno, meas, key, sizeof r->sensor - 1);
				return -1;
			}
		}
		if (s < end && *s == ',') {
			s++;
			continue;
		}
		break;
	}
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s < end) {
		tsp = s;
		while (s < end && *s != ' ' && *s != '\t')
			s++;
		if (payload_lp_ts(tsp, s, &ts) == -1) {
			xerrorf(err, errlen, "line %lu: bad timestamp", lineno);
			return -1;
		}
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		if (s < end) {
			xerrorf(err, errlen,
			    "line %lu: text after the timestamp", lineno);
			return -1;
		}
	}
	if (!numeric) {
		xerrorf(err, errlen, "line %lu: no numeric field", lineno);
		return -1;
	}
	for (i = first; i < p->n; i++) {
		p->buf[i].ts = ts;
		memcpy(p->buf[i].unit, unit, sizeof unit);
		memcpy(p->buf[i].meta, meta, sizeof meta);
	}
	return 0;
}

static int
payload_influx(
    struct payload *p, const char *data, size_t len, char *err, size_t errlen)
{
	const char *s = data, *end = data + len, *eol, *le;
	unsigned long lineno = 0;

	while (s < end) {
		lineno++;
		if ((eol = memchr(s, '\n', (size_t)(end - s))) == NULL)
			eol = end;
		le = eol;
		if (le > s && le[-1] == '\r')
			le--;
		while (s < le && (*s == ' ' || *s == '\t'))
			s++;
		if (s < le && *s != '#' &&
		    payload_influx_line(p, s, le, lineno, err, errlen) == -1)
			return -1;
		s = eol < end ? eol + 1 : end;
	}
	if (p->n == 0) {
		xerrorf(err, errlen, "no line protocol data");
		return -1;
	}
	return 0;
}

/* Decodes everything, then hands the readings out; see payload.h. */
long
payload_decode(struct payload *p, const struct payload_opts *o,
    const char *data, size_t len, payload_reading_cb *cb, void *arg, char *err,
    size_t errlen)
{
	double scale = o->scale != 0 ? o->scale : 1;
	long count = -1;
	size_t i;
	int rc = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	p->n = 0;
	p->limit = o->max_readings > 0 && o->max_readings < PAYLOAD_MAX_READINGS
	    ? o->max_readings
	    : PAYLOAD_MAX_READINGS;
	if (data == NULL)
		len = 0;
	switch (o->format) {
	case PAYLOAD_NUMBER:
		rc = payload_plain_number(p, data, len, err, errlen);
		break;
	case PAYLOAD_JSON:
		rc = payload_json(
		    p, o, data != NULL ? data : "", len, err, errlen);
		break;
	case PAYLOAD_INFLUX:
		rc = payload_influx(p, data, len, err, errlen);
		break;
	case PAYLOAD_CSV:
		rc = payload_csv(
		    p, o, data != NULL ? data : "", len, err, errlen);
		break;
	default:
		xerrorf(err, errlen, "unknown payload format");
	}
	if (rc == -1)
		goto out;
	for (i = 0; i < p->n; i++) {
		p->buf[i].value = p->buf[i].value * scale + o->offset;
		if (!isfinite(p->buf[i].value)) {
			xerrorf(err, errlen,
			    "reading %zu: value out of range after scaling", i);
			goto out;
		}
	}
	for (i = 0; i < p->n; i++) {
		if (cb != NULL && cb(arg, &p->buf[i]) == -1) {
			xerrorf(err, errlen,
			    "stopped by the consumer at reading %zu of %zu", i,
			    p->n);
			goto out;
		}
	}
	count = (long)p->n;
out:
	if (p->cap > PAYLOAD_KEEP_READINGS) {
		free(p->buf);
		p->buf = NULL;
		p->cap = 0;
	}
	p->n = 0;
	return count;
}
