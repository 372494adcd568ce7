/*
 * The configuration: reads the file (or the embedded default), has toml.c
 * build the tree, and validates the core sections into struct config.
 * Adapters read their own keys later through the same cfg_get_*() readers;
 * config_finish() then reports what no one consumed. Readers write their
 * defaults back into the tree, so the tree is the effective configuration
 * that config_print() shows.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "mqtt_codec.h"
#include "mqtt_pub.h"
#include "wallclock.h"
#include "xmalloc.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_NFIELDS 9 /* config_fields() */
#define CONFIG_ALNUM                                           \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789"
#define CONFIG_NAME_CHARS CONFIG_ALNUM "_.-"
#define CONFIG_SENSOR_CHARS CONFIG_NAME_CHARS ":/"
#define CONFIG_GLOB_CHARS CONFIG_SENSOR_CHARS "*?[]!"
#define CONFIG_HOST_CHARS CONFIG_ALNUM "_.-"
#define CONFIG_VAR_CHARS CONFIG_ALNUM "_"

struct config_error {
	int line;
	size_t seq;
	char *text;
};

static const char *const config_levels[] = { "debug", "info", "warn", "error",
	NULL };
static const char *const config_log_formats[] = { "json", "text", NULL };
static const char *const config_durabilities[] = { "normal", "full", NULL };
static const char *const config_cloud_formats[] = { "json", "influx", NULL };
static const char *const config_compressions[] = { "none", "gzip", NULL };
static const char *const config_priorities[] = { "critical", "high", "normal",
	"low", NULL };

/* The order config_print() gives sections, whatever the file's order. */
static const char *const config_root_order[] = { "agent", "logging", "store",
	"clock", "health", "cloud", "sensors", "privacy", "device", "rule",
	NULL };
static const char *const config_cloud_order[] = { "retry", "breaker", "ttl",
	NULL };

static void cfg_key_error(struct config *, struct toml_table *, const char *,
    int, const char *, ...) __attribute__((format(printf, 5, 6)));

static void *
config_own(struct config *cfg, void *p)
{
	cfg->owned =
	    xreallocarray(cfg->owned, cfg->nowned + 1, sizeof *cfg->owned);
	cfg->owned[cfg->nowned++] = p;
	return p;
}

static void
config_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	while (*len + n + 1 > *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		*buf = xreallocarray(*buf, 1, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Substitutes ${VAR} and ${VAR:-default} in s. */
char *
config_expand_env(const char *s, char **cause)
{
	const char *close, *val, *def;
	char *out = NULL, *name;
	size_t len = 0, cap = 0, n;

	config_add(&out, &len, &cap, "", 0);
	while (*s != '\0') {
		/* "$${" is how a literal "${" is written. */
		if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
			config_add(&out, &len, &cap, "${", 2);
			s += 3;
			continue;
		}
		if (s[0] != '$' || s[1] != '{') {
			config_add(&out, &len, &cap, s++, 1);
			continue;
		}
		if ((close = strchr(s + 2, '}')) == NULL) {
			xasprintf(cause, "unterminated '${' (no closing '}')");
			goto fail;
		}
		n = strspn(s + 2, CONFIG_VAR_CHARS);
		def = NULL;
		if (n > 0 && s + 2 + n != close && s[2 + n] == ':' &&
		    s[3 + n] == '-')
			def = s + 4 + n;
		if (n == 0 || (s[2] >= '0' && s[2] <= '9') ||
		    (s + 2 + n != close && def == NULL)) {
			xasprintf(cause,
			    "invalid variable reference '%.*s' "
			    "(expected ${NAME} or ${NAME:-default})",
			    (int)(close - s + 1), s);
			goto fail;
		}
		name = xstrndup(s + 2, n);
		val = getenv(name);
		free(name);
		if (def != NULL && (val == NULL || *val == '\0'))
			config_add(&out, &len, &cap, def, close - def);
		else if (val != NULL)
			config_add(&out, &len, &cap, val, strlen(val));
		s = close + 1;
	}
	return out;
fail:
	free(out);
	return NULL;
}

/* Records "FILE:LINE: message" (FILE: message for line 0). */
void
cfg_error(struct config *cfg, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg, *e;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		xasprintf(&e, "%s:%d: %s", cfg->path, line, msg);
	else
		xasprintf(&e, "%s: %s", cfg->path, msg);
	free(msg);
	cfg->errors =
	    xreallocarray(cfg->errors, cfg->nerrors + 1, sizeof *cfg->errors);
	cfg->error_lines = xreallocarray(
	    cfg->error_lines, cfg->nerrors + 1, sizeof *cfg->error_lines);
	cfg->errors[cfg->nerrors] = e;
	cfg->error_lines[cfg->nerrors++] = line;
}

/* "[store] max_db_mb: message" at line, or at the table's line. */
static void
cfg_key_error(struct config *cfg, struct toml_table *t, const char *key,
    int line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	cfg_error(cfg, line > 0 ? line : t->line, "%s%s%s: %s", t->name,
	    *t->name != '\0' ? " " : "", key, msg);
	free(msg);
}

static int
cfg_line(struct toml_table *t, const char *key)
{
	struct toml_value *v = toml_get(t, key);

	return v != NULL ? v->line : 0;
}

/* key's value, marked consumed; NULL when absent. */
static struct toml_value *
cfg_lookup(struct toml_table *t, const char *key)
{
	struct toml_value *v = toml_get(t, key);

	if (v != NULL)
		v->flags |= TOML_USED;
	return v;
}

/* Writes a reader's default for an absent key into the tree. */
static struct toml_value *
cfg_default(struct toml_table *t, const char *key, struct toml_value *v)
{
	v->line = 0;
	v->flags |= TOML_USED | TOML_DEFAULT;
	return toml_set(t, key, v);
}

static int
cfg_type_error(struct config *cfg, struct toml_table *t, const char *key,
    const struct toml_value *v, const char *expected)
{
	cfg_key_error(cfg, t, key, v->line, "expected %s, got %s", expected,
	    toml_type_name(v->type));
	return -1;
}

/* Substitutes ${VAR} in a string value, once. */
static int
cfg_expand(struct toml_value *v, char **cause)
{
	char *s;

	if (v->flags & TOML_EXPANDED)
		return 0;
	if ((s = config_expand_env(v->u.s, cause)) == NULL)
		return -1;
	free(v->u.s);
	v->u.s = s;
	v->flags |= TOML_EXPANDED;
	return 0;
}

/* What a failed string read returns: the default, substituted. */
static char *
cfg_fallback(struct config *cfg, const char *def)
{
	char *s, *cause;

	if ((s = config_expand_env(def, &cause)) == NULL) {
		free(cause);
		s = xstrdup("");
	}
	return config_own(cfg, s);
}

static int
cfg_get_str(struct config *cfg, struct toml_table *t, const char *key,
    const char *def, int flags, char **out)
{
	struct toml_value *v, nv;
	char *cause;

	if (def == NULL)
		def = ""; /* no default: an absent string reads as empty */
	if ((v = cfg_lookup(t, key)) == NULL) {
		memset(&nv, 0, sizeof nv);
		nv.type = TOML_STRING;
		nv.u.s = xstrdup(def);
		v = cfg_default(t, key, &nv);
	} else if (v->type != TOML_STRING) {
		*out = cfg_fallback(cfg, def);
		return cfg_type_error(cfg, t, key, v, "string");
	}
	v->flags |= flags;
	if (cfg_expand(v, &cause) == -1) {
		cfg_key_error(cfg, t, key, v->line, "%s", cause);
		free(cause);
		*out = cfg_fallback(cfg, def);
		return -1;
	}
	*out = v->u.s;
	return 0;
}

/* A string, ${VAR}-substituted in the tree. */
int
cfg_get_string(struct config *cfg, struct toml_table *t, const char *key,
    const char *def, char **out)
{
	return cfg_get_str(cfg, t, key, def, 0, out);
}

/* A string printed as *** by config_print(). */
int
cfg_get_secret(struct config *cfg, struct toml_table *t, const char *key,
    const char *def, char **out)
{
	return cfg_get_str(cfg, t, key, def, TOML_SECRET, out);
}

/* An integer within min..max. */
int
cfg_get_int(struct config *cfg, struct toml_table *t, const char *key,
    long long def, long long min, long long max, long long *out)
{
	struct toml_value *v, nv;

	*out = def;
	if ((v = cfg_lookup(t, key)) == NULL) {
		memset(&nv, 0, sizeof nv);
		nv.type = TOML_INTEGER;
		nv.u.i = def;
		cfg_default(t, key, &nv);
		return 0;
	}
	if (v->type != TOML_INTEGER)
		return cfg_type_error(cfg, t, key, v, "integer");
	if (v->u.i < min || v->u.i > max) {
		cfg_key_error(cfg, t, key, v->line,
		    "%lld is out of range (%lld..%lld)", v->u.i, min, max);
		return -1;
	}
	*out = v->u.i;
	return 0;
}

/* A number (an integer will do) within min..max. */
int
cfg_get_double(struct config *cfg, struct toml_table *t, const char *key,
    double def, double min, double max, double *out)
{
	struct toml_value *v, nv;
	double d;

	*out = def;
	if ((v = cfg_lookup(t, key)) == NULL) {
		memset(&nv, 0, sizeof nv);
		nv.type = TOML_FLOAT;
		nv.u.f = def;
		cfg_default(t, key, &nv);
		return 0;
	}
	if (v->type == TOML_INTEGER)
		d = v->u.i;
	else if (v->type == TOML_FLOAT)
		d = v->u.f;
	else
		return cfg_type_error(cfg, t, key, v, "number");
	if (!(d >= min && d <= max)) {
		cfg_key_error(cfg, t, key, v->line,
		    "%g is out of range (%g..%g)", d, min, max);
		return -1;
	}
	*out = d;
	return 0;
}

/* A boolean. */
int
cfg_get_bool(struct config *cfg, struct toml_table *t, const char *key, int def,
    int *out)
{
	struct toml_value *v, nv;

	*out = def;
	if ((v = cfg_lookup(t, key)) == NULL) {
		memset(&nv, 0, sizeof nv);
		nv.type = TOML_BOOL;
		nv.u.b = def;
		cfg_default(t, key, &nv);
		return 0;
	}
	if (v->type != TOML_BOOL)
		return cfg_type_error(cfg, t, key, v, "boolean");
	*out = v->u.b;
	return 0;
}

/* A string that must be one of names; *out is its index. */
int
cfg_get_enum(struct config *cfg, struct toml_table *t, const char *key,
    const char *const *names, int def, int *out)
{
	char *s, *list = NULL;
	size_t len = 0, cap = 0;
	int i;

	*out = def;
	if (cfg_get_string(cfg, t, key, names[def], &s) == -1)
		return -1;
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	for (i = 0; names[i] != NULL; i++) {
		if (i > 0)
			config_add(&list, &len, &cap, ", ", 2);
		config_add(&list, &len, &cap, names[i], strlen(names[i]));
	}
	cfg_key_error(
	    cfg, t, key, cfg_line(t, key), "'%s' is not one of %s", s, list);
	free(list);
	return -1;
}

/* An array of strings, each substituted. */
int
cfg_get_strings(struct config *cfg, struct toml_table *t, const char *key,
    char ***out, size_t *n)
{
	struct toml_value *v, nv, *item;
	char **list, *cause;
	size_t i;
	int rc = 0;

	*n = 0;
	*out = config_own(cfg, xcalloc(1, sizeof **out));
	if ((v = cfg_lookup(t, key)) == NULL) {
		memset(&nv, 0, sizeof nv);
		nv.type = TOML_ARRAY;
		nv.u.arr = xcalloc(1, sizeof *nv.u.arr);
		cfg_default(t, key, &nv);
		return 0;
	}
	if (v->type != TOML_ARRAY)
		return cfg_type_error(cfg, t, key, v, "array of strings");
	for (i = 0; i < v->u.arr->n; i++) {
		item = &v->u.arr->items[i];
		if (item->type != TOML_STRING) {
			cfg_key_error(cfg, t, key, item->line,
			    "element %zu: expected string, got %s", i + 1,
			    toml_type_name(item->type));
			rc = -1;
		} else if (cfg_expand(item, &cause) == -1) {
			cfg_key_error(cfg, t, key, item->line,
			    "element %zu: %s", i + 1, cause);
			free(cause);
			rc = -1;
		}
	}
	if (rc == -1)
		return -1;
	list = config_own(cfg, xcalloc(v->u.arr->n + 1, sizeof *list));
	for (i = 0; i < v->u.arr->n; i++)
		list[i] = v->u.arr->items[i].u.s;
	*out = list;
	*n = v->u.arr->n;
	return 0;
}

/* Was key in the file, rather than a default? */
int
cfg_has(struct toml_table *t, const char *key)
{
	struct toml_value *v = toml_get(t, key);

	return v != NULL && !(v->flags & TOML_DEFAULT);
}

/* The table at key, made empty when absent, a stand-in when mistyped. */
static struct toml_table *
cfg_table(struct config *cfg, struct toml_table *parent, const char *key,
    const char *label)
{
	struct toml_value *v, nv;

	if ((v = cfg_lookup(parent, key)) != NULL && v->type == TOML_TABLE)
		return v->u.tab;
	memset(&nv, 0, sizeof nv);
	nv.type = TOML_TABLE;
	nv.u.tab = toml_table_new(label);
	if (v != NULL) {
		cfg_error(cfg, v->line, "%s: expected a table, got %s", label,
		    toml_type_name(v->type));
		toml_set(cfg->scratch, label, &nv);
	} else
		cfg_default(parent, key, &nv);
	return nv.u.tab;
}

/* Names an entry in messages: "[[device]]", then "[[device]] 'hold'". */
static void
config_relabel(struct toml_table *t, const char *kind, const char *name)
{
	free(t->name);
	if (name == NULL)
		xasprintf(&t->name, "[[%s]]", kind);
	else
		xasprintf(&t->name, "[[%s]] '%s'", kind, name);
}

/*
 * A string of 1 to max-1 characters of chars, or, with chars NULL, up to
 * max-1 bytes without control characters. def NULL: the key is required.
 */
static int
config_string(struct config *cfg, struct toml_table *t, const char *key,
    const char *def, size_t max, const char *chars, char **out)
{
	const char *c;
	char *what = NULL;
	size_t len, wlen = 0, wcap = 0;
	int rc = 0;

	if (def == NULL && !cfg_has(t, key)) {
		cfg_error(cfg, t->line, "%s: missing required key '%s'",
		    t->name, key);
		rc = -1;
	}
	if (cfg_get_string(cfg, t, key, def != NULL ? def : "", out) == -1 ||
	    rc == -1)
		return -1;
	len = strlen(*out);
	if (chars != NULL &&
	    (len == 0 || len >= max || strspn(*out, chars) != len)) {
		config_add(&what, &wlen, &wcap, "A-Z a-z 0-9", 11);
		for (c = chars + strlen(CONFIG_ALNUM); *c != '\0'; c++) {
			config_add(&what, &wlen, &wcap, " ", 1);
			config_add(&what, &wlen, &wcap, c, 1);
		}
		cfg_key_error(cfg, t, key, cfg_line(t, key),
		    "'%s' must be 1 to %zu characters of %s", *out, max - 1,
		    what);
		free(what);
		return -1;
	}
	if (chars == NULL && len >= max) {
		cfg_key_error(cfg, t, key, cfg_line(t, key),
		    "'%s' is longer than %zu bytes", *out, max - 1);
		return -1;
	}
	for (c = *out; chars == NULL && *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20) {
			cfg_key_error(cfg, t, key, cfg_line(t, key),
			    "control characters are not allowed");
			return -1;
		}
	}
	return 0;
}

/* host:port, IPv6 as [addr]:port, port 0..65535 (0: any free port). */
static int
config_valid_listen(const char *s)
{
	const char *host_end, *port;
	size_t n;

	if (*s == '[') {
		if ((host_end = strchr(s, ']')) == NULL || host_end == s + 1 ||
		    host_end[1] != ':' ||
		    strspn(s + 1, "0123456789abcdefABCDEF:.") !=
			(size_t)(host_end - s - 1))
			return 0;
		port = host_end + 2;
	} else {
		if ((host_end = strrchr(s, ':')) == NULL || host_end == s ||
		    strspn(s, CONFIG_HOST_CHARS) != (size_t)(host_end - s))
			return 0;
		port = host_end + 1;
	}
	n = strlen(port);
	return n > 0 && n <= 5 && strspn(port, "0123456789") == n &&
	    atoi(port) <= 65535;
}

static void
config_read_agent(struct config *cfg)
{
	struct toml_table *t;
	char host[256];

	t = cfg_table(cfg, cfg->root, "agent", "[agent]");
	if (gethostname(host, sizeof host) == -1 || host[0] == '\0')
		xstrlcpy(host, "outpost", sizeof host);
	host[sizeof host - 1] = '\0';
	config_string(
	    cfg, t, "id", host, 65, CONFIG_NAME_CHARS, &cfg->agent.id);
	config_string(cfg, t, "data_dir", "/var/lib/outpost", 4096, NULL,
	    &cfg->agent.data_dir);
	if (*cfg->agent.data_dir == '\0')
		cfg_key_error(cfg, t, "data_dir", cfg_line(t, "data_dir"),
		    "must not be empty");
}

static void
config_read_logging(struct config *cfg)
{
	struct toml_table *t;
	int e;

	t = cfg_table(cfg, cfg->root, "logging", "[logging]");
	cfg_get_enum(cfg, t, "level", config_levels, LOG_INFO, &e);
	cfg->logging.level = e;
	cfg_get_enum(cfg, t, "format", config_log_formats, LOG_FORMAT_JSON, &e);
	cfg->logging.format = e;
}

static void
config_read_store(struct config *cfg)
{
	struct toml_table *t;
	int e;

	t = cfg_table(cfg, cfg->root, "store", "[store]");
	cfg_get_enum(cfg, t, "durability", config_durabilities,
	    STORE_DURABILITY_NORMAL, &e);
	cfg->store.durability = e;
	cfg_get_int(cfg, t, "max_db_mb", 64, 1, 1048576, &cfg->store.max_db_mb);
	cfg_get_int(cfg, t, "retention_hours", 168, 0, 87600,
	    &cfg->store.retention_hours);
	/* Sources that wait for an acknowledgement (MQTT QoS 1, HTTP push)
	 * commit at once whatever this says; the others wait up to it, and
	 * every commit rewrites the last page of each b-tree: 5 s keeps a
	 * 10 readings/s device under 600 B written per reading
	 * (bench/bench_flash.sh), 1 s cost 890 B. */
	cfg_get_double(cfg, t, "commit_interval", 5.0, 0.001, 60,
	    &cfg->store.commit_interval_s);
	cfg_get_int(
	    cfg, t, "commit_max", 500, 1, 100000, &cfg->store.commit_max);
	cfg_get_int(cfg, t, "checkpoint_pages", 1000, 16, 1000000,
	    &cfg->store.checkpoint_pages);
	if (cfg_get_int(cfg, t, "page_size", 1024, 512, 65536,
		&cfg->store.page_size) == 0 &&
	    (cfg->store.page_size & (cfg->store.page_size - 1)) != 0)
		cfg_key_error(cfg, t, "page_size",
		    cfg_lookup(t, "page_size")->line,
		    "%lld is not a power of two", cfg->store.page_size);
	cfg_get_double(cfg, t, "summary_interval", 3600, 1, 604800,
	    &cfg->store.summary_interval_s);
	cfg_get_double(cfg, t, "pressure_min_age", 3600, 0, 31536000,
	    &cfg->store.pressure_min_age_s);
	cfg_get_double(cfg, t, "pressure_interval", 5, 0.01, 3600,
	    &cfg->store.pressure_interval_s);
	cfg_get_int(
	    cfg, t, "max_pages", 0, 0, 4294967294LL, &cfg->store.max_pages);
}

static void
config_read_clock(struct config *cfg)
{
	struct toml_table *t;
	char *s;

	t = cfg_table(cfg, cfg->root, "clock", "[clock]");
	if (cfg_get_string(cfg, t, "trusted_after", "2024-01-01", &s) == 0 &&
	    wallclock_parse_time(s, &cfg->clock.trusted_after_ts) == -1)
		cfg_key_error(cfg, t, "trusted_after",
		    cfg_line(t, "trusted_after"),
		    "'%s' is not a date (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ) or "
		    "Unix seconds",
		    s);
	cfg_get_bool(cfg, t, "require_sync", 0, &cfg->clock.require_sync);
	cfg_get_double(cfg, t, "check_interval", 10, 0.01, 3600,
	    &cfg->clock.check_interval_s);
}

static void
config_read_health(struct config *cfg)
{
	struct toml_table *t;

	t = cfg_table(cfg, cfg->root, "health", "[health]");
	if (cfg_get_string(
		cfg, t, "listen", "127.0.0.1:8787", &cfg->health.listen) == 0 &&
	    !config_valid_listen(cfg->health.listen))
		cfg_key_error(cfg, t, "listen", cfg_line(t, "listen"),
		    "'%s' is not host:port (port 0..65535, IPv6 as "
		    "[addr]:port)",
		    cfg->health.listen);
	cfg_get_secret(cfg, t, "admin_token", "${OUTPOST_ADMIN_TOKEN:-}",
	    &cfg->health.admin_token);
	cfg_get_double(
	    cfg, t, "timeout", 10, 0.1, 3600, &cfg->health.timeout_s);
	cfg_get_int(cfg, t, "max_body_bytes", 1048576, 1024, 1073741824,
	    &cfg->health.max_body_bytes);
	cfg_get_double(cfg, t, "degraded_pending_age", 3600, 1, 31536000,
	    &cfg->health.degraded_pending_age_s);
	cfg_get_int(
	    cfg, t, "cert_warn_days", 14, 0, 3650, &cfg->health.cert_warn_days);
	cfg_get_double(cfg, t, "history_interval", 30, 0.1, 3600,
	    &cfg->health.history_interval_s);
}

static void
config_check_endpoint(struct config *cfg, struct toml_table *t)
{
	const char *url = cfg->cloud.endpoint, *host = NULL;
	int line = cfg_line(t, "endpoint");

	if (*url == '\0')
		cfg_key_error(
		    cfg, t, "endpoint", line, "required when enabled = true");
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncmp(url, "http://", 7) == 0) {
		host = url + 7;
		if (!cfg->cloud.insecure)
			cfg_key_error(cfg, t, "endpoint", line,
			    "'%s': http:// needs insecure = true", url);
	} else
		cfg_key_error(cfg, t, "endpoint", line,
		    "'%s' must start with https://", url);
	if (host != NULL && (*host == '\0' || *host == '/'))
		cfg_key_error(
		    cfg, t, "endpoint", line, "'%s' has no host", url);
}

static void
config_read_cloud(struct config *cfg)
{
	struct toml_table *t, *sub;
	const char *key;
	int e, p;

	t = cfg_table(cfg, cfg->root, "cloud", "[cloud]");
	cfg_get_bool(cfg, t, "enabled", 0, &cfg->cloud.enabled);
	cfg_get_string(cfg, t, "endpoint", "", &cfg->cloud.endpoint);
	cfg_get_enum(
	    cfg, t, "format", config_cloud_formats, CLOUD_FORMAT_JSON, &e);
	cfg->cloud.format = e;
	cfg_get_secret(
	    cfg, t, "token", "${OUTPOST_TOKEN:-}", &cfg->cloud.token);
	cfg_get_string(cfg, t, "ca_file", "/etc/ssl/certs/ca-certificates.crt",
	    &cfg->cloud.ca_file);
	cfg_get_string(cfg, t, "client_cert", "", &cfg->cloud.client_cert);
	cfg_get_string(cfg, t, "client_key", "", &cfg->cloud.client_key);
	cfg_get_bool(cfg, t, "insecure", 0, &cfg->cloud.insecure);
	cfg_get_int(
	    cfg, t, "batch_size", 100, 1, 100000, &cfg->cloud.batch_size);
	cfg_get_double(cfg, t, "flush_interval", 5, 0.001, 86400,
	    &cfg->cloud.flush_interval_s);
	cfg_get_double(
	    cfg, t, "timeout", 10, 0.001, 3600, &cfg->cloud.timeout_s);
	cfg_get_int(cfg, t, "max_bytes_per_s", 0, 0, 1073741824,
	    &cfg->cloud.max_bytes_per_s);
	cfg_get_double(cfg, t, "daily_budget_mb", 0, 0, 1048576,
	    &cfg->cloud.daily_budget_mb);
	if (cfg_get_enum(cfg, t, "compress", config_compressions,
		CLOUD_COMPRESS_NONE, &e) == 0) {
		cfg->cloud.compress = e;
#ifndef OUTPOST_HAVE_ZLIB
		if (e == CLOUD_COMPRESS_GZIP)
			cfg_key_error(cfg, t, "compress",
			    cfg_line(t, "compress"),
			    "gzip needs a build with zlib");
#endif
	}
	if ((*cfg->cloud.client_cert == '\0') !=
	    (*cfg->cloud.client_key == '\0')) {
		key = *cfg->cloud.client_cert != '\0' ? "client_cert"
						      : "client_key";
		cfg_key_error(cfg, t, key, cfg_line(t, key),
		    "client_cert and client_key go together");
	}
	if (cfg->cloud.enabled) {
		config_check_endpoint(cfg, t);
		if (*cfg->cloud.ca_file == '\0' && !cfg->cloud.insecure)
			cfg_key_error(cfg, t, "ca_file", cfg_line(t, "ca_file"),
			    "required unless insecure = true");
	}

	sub = cfg_table(cfg, t, "retry", "[cloud.retry]");
	cfg_get_double(cfg, sub, "base_delay", 2.0, 0.001, 86400,
	    &cfg->cloud.retry.base_delay_s);
	if (cfg_get_double(cfg, sub, "max_delay", 300.0, 0.001, 86400,
		&cfg->cloud.retry.max_delay_s) == 0 &&
	    cfg->cloud.retry.max_delay_s < cfg->cloud.retry.base_delay_s)
		cfg_key_error(cfg, sub, "max_delay",
		    cfg_line(sub, "max_delay") ? cfg_line(sub, "max_delay")
					       : cfg_line(sub, "base_delay"),
		    "%g is below base_delay (%g)", cfg->cloud.retry.max_delay_s,
		    cfg->cloud.retry.base_delay_s);
	cfg_get_int(cfg, sub, "max_attempts", 0, 0, 1000000,
	    &cfg->cloud.retry.max_attempts);
	cfg_get_bool(cfg, sub, "jitter", 1, &cfg->cloud.retry.jitter);

	sub = cfg_table(cfg, t, "breaker", "[cloud.breaker]");
	cfg_get_int(cfg, sub, "failure_threshold", 5, 1, 1000000,
	    &cfg->cloud.breaker.failure_threshold);
	cfg_get_double(cfg, sub, "recovery_timeout", 60, 0.001, 86400,
	    &cfg->cloud.breaker.recovery_timeout_s);

	sub = cfg_table(cfg, t, "ttl", "[cloud.ttl]");
	for (p = 0; p < PRIORITY_COUNT; p++) {
		cfg_get_double(cfg, sub, config_priorities[p],
		    p == PRIORITY_CRITICAL     ? 0
			: p == PRIORITY_HIGH   ? 720
			: p == PRIORITY_NORMAL ? 168
					       : 24,
		    0, 876000, &cfg->cloud.ttl_hours[p]);
	}
}

static void
config_read_sensors(struct config *cfg)
{
	struct toml_table *t;

	t = cfg_table(cfg, cfg->root, "sensors", "[sensors]");
	cfg_get_double(cfg, t, "poll_interval", 5, 0.001, 86400,
	    &cfg->sensors.poll_interval_s);
	cfg_get_int(cfg, t, "buffer", 128, 1, 1000000, &cfg->sensors.buffer);
}

/* A list of sensor globs or meta keys; an empty pattern is a mistake. */
static void
config_patterns(struct config *cfg, struct toml_table *t, const char *key,
    char ***out, size_t *n)
{
	size_t i;

	if (cfg_get_strings(cfg, t, key, out, n) == -1)
		return;
	for (i = 0; i < *n; i++) {
		if ((*out)[i][0] == '\0')
			cfg_key_error(cfg, t, key, cfg_line(t, key),
			    "element %zu is empty", i + 1);
	}
}

#define CONFIG_HMAC_KEY_MIN 16

/* [privacy] quantize: an array of { sensor = GLOB, step = N } tables. */
static void
config_read_quantize(struct config *cfg, struct toml_table *t)
{
	struct toml_value *v, nv, *item;
	struct cfg_quantize *q;
	struct toml_table *qt;
	size_t i;

	if ((v = cfg_lookup(t, "quantize")) == NULL) {
		memset(&nv, 0, sizeof nv);
		nv.type = TOML_ARRAY;
		nv.u.arr = xcalloc(1, sizeof *nv.u.arr);
		cfg_default(t, "quantize", &nv);
		return;
	}
	if (v->type != TOML_ARRAY) {
		cfg_type_error(cfg, t, "quantize", v, "array of tables");
		return;
	}
	cfg->privacy.quantize =
	    config_own(cfg, xcalloc(v->u.arr->n + 1, sizeof *q));
	for (i = 0; i < v->u.arr->n; i++) {
		item = &v->u.arr->items[i];
		if (item->type != TOML_TABLE) {
			cfg_key_error(cfg, t, "quantize", item->line,
			    "element %zu: expected a table "
			    "{ sensor = \"glob\", step = N }, got %s",
			    i + 1, toml_type_name(item->type));
			continue;
		}
		qt = item->u.tab;
		free(qt->name);
		xasprintf(&qt->name, "[privacy] quantize[%zu]", i + 1);
		if (qt->line == 0)
			qt->line = item->line;
		q = &cfg->privacy.quantize[cfg->privacy.nquantize++];
		config_string(cfg, qt, "sensor", NULL, READING_SENSOR_MAX,
		    CONFIG_GLOB_CHARS, &q->sensor);
		if (!cfg_has(qt, "step"))
			cfg_error(cfg, qt->line,
			    "%s: missing required key 'step'", qt->name);
		cfg_get_double(cfg, qt, "step", 1, 1e-12, 1e12, &q->step);
	}
}

static void
config_read_privacy(struct config *cfg)
{
	struct toml_table *t;

	t = cfg_table(cfg, cfg->root, "privacy", "[privacy]");
	cfg_get_bool(cfg, t, "enabled", 1, &cfg->privacy.enabled);
	config_patterns(
	    cfg, t, "deny", &cfg->privacy.deny, &cfg->privacy.ndeny);
	config_patterns(
	    cfg, t, "allow", &cfg->privacy.allow, &cfg->privacy.nallow);
	config_patterns(cfg, t, "redact_meta", &cfg->privacy.redact_meta,
	    &cfg->privacy.nredact_meta);
	config_patterns(cfg, t, "hash_meta", &cfg->privacy.hash_meta,
	    &cfg->privacy.nhash_meta);
	cfg_get_secret(cfg, t, "hmac_key", "", &cfg->privacy.hmac_key);
	/* The key is all that keeps a hashed name from a dictionary. */
	if (cfg->privacy.nhash_meta > 0 &&
	    strlen(cfg->privacy.hmac_key) < CONFIG_HMAC_KEY_MIN)
		cfg_key_error(cfg, t, "hmac_key",
		    cfg_line(t, "hmac_key") ? cfg_line(t, "hmac_key")
					    : cfg_line(t, "hash_meta"),
		    "hash_meta needs a key of at least %d bytes",
		    CONFIG_HMAC_KEY_MIN);
	config_read_quantize(cfg, t);
}

/* The entries of [[key]] (or key = [{...}]); NULL when absent or mistyped. */
static struct toml_array *
config_entries(struct config *cfg, const char *key)
{
	struct toml_value *v;

	if ((v = cfg_lookup(cfg->root, key)) == NULL)
		return NULL;
	if (v->type != TOML_ARRAY) {
		cfg_error(cfg, v->line,
		    "[[%s]]: expected an array of tables, "
		    "got %s",
		    key, toml_type_name(v->type));
		return NULL;
	}
	return v->u.arr;
}

/* An entry that is not a table is reported and skipped. */
static struct toml_table *
config_entry(struct config *cfg, const char *key, struct toml_value *v)
{
	if (v->type == TOML_TABLE)
		return v->u.tab;
	cfg_error(cfg, v->line, "[[%s]]: expected a table, got %s", key,
	    toml_type_name(v->type));
	return NULL;
}

static void
config_read_device(
    struct config *cfg, struct toml_table *t, struct cfg_device *dev)
{
	size_t i;
	int e, named;

	config_relabel(t, "device", NULL);
	dev->table = t;
	dev->line = t->line;
	if ((named = config_string(cfg, t, "name", NULL, READING_DEVICE_MAX,
			 CONFIG_NAME_CHARS, &dev->name) == 0)) {
		for (i = 0; &cfg->devices[i] != dev; i++) {
			if (strcmp(cfg->devices[i].name, dev->name) == 0) {
				cfg_key_error(cfg, t, "name",
				    cfg_line(t, "name"),
				    "duplicate device name '%s' (first on "
				    "line %d)",
				    dev->name, cfg->devices[i].line);
				break;
			}
		}
		config_relabel(t, "device", dev->name);
	}
	config_string(cfg, t, "type", NULL, 32, CONFIG_NAME_CHARS, &dev->type);
	config_string(cfg, t, "sensor", named ? dev->name : "unnamed",
	    READING_SENSOR_MAX, CONFIG_SENSOR_CHARS, &dev->sensor);
	config_string(cfg, t, "unit", "", READING_UNIT_MAX, NULL, &dev->unit);
	cfg_get_enum(
	    cfg, t, "priority", config_priorities, PRIORITY_NORMAL, &e);
	dev->priority = e;
	cfg_get_double(cfg, t, "interval", cfg->sensors.poll_interval_s, 0.001,
	    86400, &dev->interval_s);
	cfg_get_int(
	    cfg, t, "buffer", cfg->sensors.buffer, 1, 1000000, &dev->buffer);
}

/* A key that does not apply here: consumed, so it is not also "unknown". */
static void
config_inapplicable(
    struct config *cfg, struct toml_table *t, const char *key, const char *why)
{
	if (!cfg_has(t, key))
		return;
	cfg_lookup(t, key);
	cfg_key_error(cfg, t, key, cfg_line(t, key), "%s", why);
}

/*
 * One kind of condition per rule: above/below (the value), rate_above/
 * rate_below (its change per second) or stale (seconds of silence); clear
 * is the hysteresis level of a one-sided threshold or rate.
 */
static void
config_read_rule_condition(
    struct config *cfg, struct toml_table *t, struct cfg_rule *rule)
{
	static const char *const keys[] = { "above", "below", "rate_above",
		"rate_below", "stale", "for", "clear", NULL };
	const char *ka = "above", *kb = "below";
	int value, rate, stale;
	size_t i;

	value = cfg_has(t, "above") || cfg_has(t, "below");
	rate = cfg_has(t, "rate_above") || cfg_has(t, "rate_below");
	stale = cfg_has(t, "stale");
	if (value + rate + stale > 1) {
		cfg_error(cfg, t->line,
		    "%s: use one kind of condition: 'above'/'below', "
		    "'rate_above'/'rate_below' or 'stale'",
		    t->name);
		for (i = 0; keys[i] != NULL; i++)
			cfg_lookup(t, keys[i]);
		return;
	}
	if (stale) {
		rule->kind = CFG_RULE_STALE;
		cfg_get_double(
		    cfg, t, "stale", 1, 0.001, 31536000, &rule->stale_s);
		config_inapplicable(
		    cfg, t, "for", "does not apply to a stale rule");
		config_inapplicable(
		    cfg, t, "clear", "does not apply to a stale rule");
		return;
	}
	if (rate) {
		rule->kind = CFG_RULE_RATE;
		ka = "rate_above";
		kb = "rate_below";
	}
	if ((rule->has_above = cfg_has(t, ka)))
		cfg_get_double(cfg, t, ka, 0, -DBL_MAX, DBL_MAX, &rule->above);
	if ((rule->has_below = cfg_has(t, kb)))
		cfg_get_double(cfg, t, kb, 0, -DBL_MAX, DBL_MAX, &rule->below);
	if (!rule->has_above && !rule->has_below)
		cfg_error(
		    cfg, t->line, "%s: needs 'above' or 'below'", t->name);
	if (rule->has_above && rule->has_below && rule->above < rule->below)
		cfg_key_error(cfg, t, ka, cfg_line(t, ka),
		    "%g is below %s (%g): the rule would always hold",
		    rule->above, kb, rule->below);
	cfg_get_double(cfg, t, "for", 0, 0, 86400, &rule->for_s);
	if (!cfg_has(t, "clear"))
		return;
	if (rule->has_above && rule->has_below) {
		config_inapplicable(cfg, t, "clear",
		    "needs a one-sided rule (either above or below)");
		return;
	}
	if (cfg_get_double(
		cfg, t, "clear", 0, -DBL_MAX, DBL_MAX, &rule->clear) == -1)
		return;
	rule->has_clear = 1;
	if (rule->has_above && rule->clear > rule->above)
		cfg_key_error(cfg, t, "clear", cfg_line(t, "clear"),
		    "%g is above %s (%g)", rule->clear, ka, rule->above);
	if (rule->has_below && rule->clear < rule->below)
		cfg_key_error(cfg, t, "clear", cfg_line(t, "clear"),
		    "%g is below %s (%g)", rule->clear, kb, rule->below);
}

static const char *const config_actions[] = { "log", "exec", "mqtt", NULL };
static const char *const config_action_on[] = { "both", "fire", "clear", NULL };

/* action = "exec": a command, never a shell. */
static void
config_read_rule_exec(
    struct config *cfg, struct toml_table *t, struct cfg_rule *rule)
{
	if (!cfg_has(t, "command"))
		cfg_error(cfg, t->line, "%s: action = \"exec\" needs 'command'",
		    t->name);
	if (cfg_get_strings(
		cfg, t, "command", &rule->command, &rule->ncommand) == 0 &&
	    cfg_has(t, "command")) {
		if (rule->ncommand == 0)
			cfg_key_error(cfg, t, "command", cfg_line(t, "command"),
			    "is empty");
		else if (rule->command[0][0] != '/')
			cfg_key_error(cfg, t, "command", cfg_line(t, "command"),
			    "'%s' must be an absolute path (it is run "
			    "without a shell or PATH search)",
			    rule->command[0]);
	}
	cfg_get_double(cfg, t, "timeout", 10, 0.001, 86400, &rule->timeout_s);
}

/* action = "mqtt": url, topic (placeholders expanded at fire time), qos. */
static void
config_read_rule_mqtt(
    struct config *cfg, struct toml_table *t, struct cfg_rule *rule)
{
	char err[256];
	long long qos;

	if (!cfg_has(t, "url"))
		cfg_error(
		    cfg, t->line, "%s: action = \"mqtt\" needs 'url'", t->name);
	else if (cfg_get_string(cfg, t, "url", "", &rule->mqtt_url) == 0 &&
	    mqtt_pub_url_check(rule->mqtt_url, err, sizeof err) == -1)
		cfg_key_error(cfg, t, "url", cfg_line(t, "url"), "%s", err);
	if (!cfg_has(t, "topic"))
		cfg_error(cfg, t->line, "%s: action = \"mqtt\" needs 'topic'",
		    t->name);
	else if (cfg_get_string(cfg, t, "topic", "", &rule->mqtt_topic) == 0 &&
	    !mqtt_topic_valid(rule->mqtt_topic, strlen(rule->mqtt_topic)))
		cfg_key_error(cfg, t, "topic", cfg_line(t, "topic"),
		    "'%s' is not a topic one may publish to (empty, or "
		    "with + or #)",
		    rule->mqtt_topic);
	cfg_get_int(cfg, t, "qos", 1, 0, 1, &qos);
	rule->mqtt_qos = (int)qos;
}

/*
 * action = "log" (the default), "exec" with a command, never a shell, or
 * "mqtt" to publish the event to a broker.
 */
static void
config_read_rule_action(
    struct config *cfg, struct toml_table *t, struct cfg_rule *rule)
{
	const char *why = "needs action = \"exec\"";
	const char *why_mqtt = "needs action = \"mqtt\"";
	int e;

	cfg_get_enum(cfg, t, "action", config_actions, CFG_ACTION_LOG, &e);
	rule->action = e;
	if (rule->action != CFG_ACTION_MQTT) {
		config_inapplicable(cfg, t, "url", why_mqtt);
		config_inapplicable(cfg, t, "topic", why_mqtt);
		config_inapplicable(cfg, t, "qos", why_mqtt);
	}
	if (rule->action != CFG_ACTION_EXEC) {
		config_inapplicable(cfg, t, "command", why);
		config_inapplicable(cfg, t, "timeout", why);
	}
	if (rule->action == CFG_ACTION_LOG)
		config_inapplicable(
		    cfg, t, "action_on", "needs action = \"exec\" or \"mqtt\"");
	if (rule->action == CFG_ACTION_LOG)
		return;
	if (rule->action == CFG_ACTION_MQTT)
		config_read_rule_mqtt(cfg, t, rule);
	else
		config_read_rule_exec(cfg, t, rule);
	cfg_get_enum(cfg, t, "action_on", config_action_on, 0, &e);
	rule->action_on = e == 1 ? CFG_ACTION_ON_FIRE
	    : e == 2		 ? CFG_ACTION_ON_CLEAR
				 : CFG_ACTION_ON_FIRE | CFG_ACTION_ON_CLEAR;
}

static void
config_read_rule(
    struct config *cfg, struct toml_table *t, struct cfg_rule *rule)
{
	size_t i;
	int e;

	config_relabel(t, "rule", NULL);
	rule->table = t;
	rule->line = t->line;
	if (config_string(cfg, t, "name", NULL, 64, CONFIG_NAME_CHARS,
		&rule->name) == 0) {
		for (i = 0; &cfg->rules[i] != rule; i++) {
			if (strcmp(cfg->rules[i].name, rule->name) == 0) {
				cfg_key_error(cfg, t, "name",
				    cfg_line(t, "name"),
				    "duplicate rule name '%s' (first on line "
				    "%d)",
				    rule->name, cfg->rules[i].line);
				break;
			}
		}
		config_relabel(t, "rule", rule->name);
	}
	config_string(cfg, t, "sensor", NULL, READING_SENSOR_MAX,
	    CONFIG_GLOB_CHARS, &rule->sensor);
	config_read_rule_condition(cfg, t, rule);
	cfg_get_enum(
	    cfg, t, "severity", config_priorities, PRIORITY_CRITICAL, &e);
	rule->severity = e;
	config_read_rule_action(cfg, t, rule);
}

static void
config_read_entries(struct config *cfg)
{
	struct toml_array *a;
	struct toml_table *t;
	size_t i;

	if ((a = config_entries(cfg, "device")) != NULL) {
		cfg->devices = xcalloc(a->n, sizeof *cfg->devices);
		for (i = 0; i < a->n; i++) {
			if ((t = config_entry(cfg, "device", &a->items[i])))
				config_read_device(
				    cfg, t, &cfg->devices[cfg->ndevices++]);
		}
	}
	if ((a = config_entries(cfg, "rule")) != NULL) {
		cfg->rules = xcalloc(a->n, sizeof *cfg->rules);
		for (i = 0; i < a->n; i++) {
			if ((t = config_entry(cfg, "rule", &a->items[i])))
				config_read_rule(
				    cfg, t, &cfg->rules[cfg->nrules++]);
		}
	}
}

/*
 * The string members of struct config itself, which the struct owns (the
 * agent swaps some of them on reload); those of devices and rules point
 * into the tree.
 */
static size_t
config_fields(struct config *cfg, char ***f)
{
	size_t n = 0;

	f[n++] = &cfg->agent.id;
	f[n++] = &cfg->agent.data_dir;
	f[n++] = &cfg->health.listen;
	f[n++] = &cfg->health.admin_token;
	f[n++] = &cfg->cloud.endpoint;
	f[n++] = &cfg->cloud.token;
	f[n++] = &cfg->cloud.ca_file;
	f[n++] = &cfg->cloud.client_cert;
	f[n++] = &cfg->cloud.client_key;
	return n;
}

/* Parses and validates the core sections of text. */
struct config *
config_load_text(const char *text, size_t len, const char *name, char **cause)
{
	char **fields[CONFIG_NFIELDS];
	size_t i, n;
	struct toml_table *root;
	struct config *cfg;

	if (name == NULL)
		name = "(config)";
	if ((root = toml_parse(text, len, name, cause)) == NULL)
		return NULL;
	cfg = xcalloc(1, sizeof *cfg);
	cfg->path = xstrdup(name);
	cfg->root = root;
	cfg->scratch = toml_table_new("");
	config_read_agent(cfg);
	config_read_logging(cfg);
	config_read_store(cfg);
	config_read_clock(cfg);
	config_read_health(cfg);
	config_read_cloud(cfg);
	config_read_sensors(cfg);
	config_read_privacy(cfg);
	config_read_entries(cfg);
	n = config_fields(cfg, fields);
	for (i = 0; i < n; i++)
		*fields[i] = xstrdup(*fields[i]);
	return cfg;
}

/* The whole file, refused above CONFIG_MAX_BYTES. */
static char *
config_read_file(const char *path, size_t *len, char **cause)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n == cap) {
			cap = cap == 0 ? 8192 : cap * 2;
			if (cap > CONFIG_MAX_BYTES + 1)
				cap = CONFIG_MAX_BYTES + 1;
			buf = xreallocarray(buf, 1, cap);
		}
		if ((r = read(fd, buf + n, cap - n)) == -1) {
			if (errno == EINTR)
				continue;
			xasprintf(cause, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		if ((n += r) > CONFIG_MAX_BYTES) {
			xasprintf(cause, "%s: larger than %d bytes", path,
			    CONFIG_MAX_BYTES);
			goto fail;
		}
	}
	close(fd);
	*len = n;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

/* Reads path (NULL: the embedded default) and validates it. */
struct config *
config_load(const char *path, char **cause)
{
	struct config *cfg;
	char *text;
	size_t len;

	if (path == NULL)
		return config_load_text(config_default_text,
		    strlen(config_default_text), "(embedded)", cause);
	if ((text = config_read_file(path, &len, cause)) == NULL)
		return NULL;
	cfg = config_load_text(text, len, path, cause);
	free(text);
	return cfg;
}

/* Reports each key no reader consumed. */
static void
config_unused(struct config *cfg, struct toml_table *t)
{
	struct toml_value *v;
	const char *where;
	char *q;
	size_t i, j;

	for (i = 0; i < t->n; i++) {
		v = &t->items[i].v;
		if (v->flags & TOML_USED) {
			if (v->type == TOML_TABLE)
				config_unused(cfg, v->u.tab);
			for (j = 0; v->type == TOML_ARRAY && j < v->u.arr->n;
			     j++) {
				if (v->u.arr->items[j].type == TOML_TABLE)
					config_unused(
					    cfg, v->u.arr->items[j].u.tab);
			}
			continue;
		}
		v->flags |= TOML_USED;
		if (v->type == TOML_TABLE &&
		    (v->u.tab->origin == TOML_HEADER ||
			v->u.tab->origin == TOML_IMPLICIT))
			cfg_error(cfg, v->u.tab->line, "unknown section %s",
			    v->u.tab->name);
		else if ((v->flags & TOML_AOT) && v->u.arr->n > 0)
			cfg_error(cfg, v->line, "unknown section %s",
			    v->u.arr->items[0].u.tab->name);
		else {
			where = *t->name != '\0' ? " in " : " at top level";
			q = toml_quote(t->items[i].key, 1);
			cfg_error(cfg, v->line, "unknown key '%s'%s%s", q,
			    where, t->name);
			free(q);
		}
	}
}

/* By line, then by the order found: one line's errors keep their order. */
static int
config_error_cmp(const void *a, const void *b)
{
	const struct config_error *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Reports unconsumed keys, then sorts the errors by line. */
void
config_finish(struct config *cfg)
{
	struct config_error *v;
	size_t i;

	config_unused(cfg, cfg->root);
	v = xcalloc(cfg->nerrors, sizeof *v);
	for (i = 0; i < cfg->nerrors; i++) {
		v[i].line = cfg->error_lines[i];
		v[i].seq = i;
		v[i].text = cfg->errors[i];
	}
	qsort(v, cfg->nerrors, sizeof *v, config_error_cmp);
	for (i = 0; i < cfg->nerrors; i++) {
		cfg->errors[i] = v[i].text;
		cfg->error_lines[i] = v[i].line;
	}
	free(v);
}

/* A substituted string must not be substituted again when read back. */
static void
config_print_string(FILE *f, const struct toml_value *v)
{
	const char *s;
	char *esc = NULL, *q;
	size_t len = 0, cap = 0;

	if ((v->flags & TOML_SECRET) && *v->u.s != '\0') {
		fputs("\"***\"", f);
		return;
	}
	if ((v->flags & TOML_EXPANDED) && strstr(v->u.s, "${") != NULL) {
		for (s = v->u.s; *s != '\0'; s++) {
			if (s[0] == '$' && s[1] == '{')
				config_add(&esc, &len, &cap, "$", 1);
			config_add(&esc, &len, &cap, s, 1);
		}
	}
	q = toml_quote(esc != NULL ? esc : v->u.s, 0);
	fputs(q, f);
	free(q);
	free(esc);
}

static void
config_print_double(FILE *f, double d)
{
	char buf[64];

	if (isnan(d))
		fputs("nan", f);
	else if (isinf(d))
		fputs(d < 0 ? "-inf" : "inf", f);
	else {
		snprintf(buf, sizeof buf, "%.15g", d);
		if (strtod(buf, NULL) != d)
			snprintf(buf, sizeof buf, "%.17g", d);
		fputs(buf, f);
		if (strpbrk(buf, ".e") == NULL)
			fputs(".0", f);
	}
}

static void
config_print_key(FILE *f, const char *key)
{
	char *q = toml_quote(key, 1);

	fputs(q, f);
	free(q);
}

static void
config_print_value(FILE *f, const struct toml_value *v)
{
	size_t i;

	switch (v->type) {
	case TOML_STRING:
		config_print_string(f, v);
		break;
	case TOML_INTEGER:
		fprintf(f, "%lld", v->u.i);
		break;
	case TOML_FLOAT:
		config_print_double(f, v->u.f);
		break;
	case TOML_BOOL:
		fputs(v->u.b ? "true" : "false", f);
		break;
	case TOML_ARRAY:
		fputc('[', f);
		for (i = 0; i < v->u.arr->n; i++) {
			fputs(i > 0 ? ", " : "", f);
			config_print_value(f, &v->u.arr->items[i]);
		}
		fputc(']', f);
		break;
	case TOML_TABLE:
		fputc('{', f);
		for (i = 0; i < v->u.tab->n; i++) {
			fputs(i > 0 ? ", " : "", f);
			config_print_key(f, v->u.tab->items[i].key);
			fputs(" = ", f);
			config_print_value(f, &v->u.tab->items[i].v);
		}
		fputc('}', f);
		break;
	}
}

static int
config_is_section(const struct toml_value *v)
{
	return v->type == TOML_TABLE || (v->flags & TOML_AOT);
}

static int
config_in(const char *const *names, const char *key)
{
	for (; names != NULL && *names != NULL; names++) {
		if (strcmp(*names, key) == 0)
			return 1;
	}
	return 0;
}

static void config_print_table(
    FILE *, const struct toml_table *, const char *, const char *const *);

static void
config_print_section(FILE *f, const char *path, const struct toml_kv *kv)
{
	char *q = toml_quote(kv->key, 1), *sub;
	size_t i;

	xasprintf(&sub, "%s%s%s", path, *path != '\0' ? "." : "", q);
	if (kv->v.type == TOML_TABLE) {
		fprintf(f, "\n[%s]\n", sub);
		config_print_table(f, kv->v.u.tab, sub,
		    strcmp(sub, "cloud") == 0 ? config_cloud_order : NULL);
	}
	for (i = 0; kv->v.type == TOML_ARRAY && i < kv->v.u.arr->n; i++) {
		fprintf(f, "\n[[%s]]\n", sub);
		config_print_table(f, kv->v.u.arr->items[i].u.tab, sub, NULL);
	}
	free(sub);
	free(q);
}

/* Plain keys first (a header would capture them), then sub-tables. */
static void
config_print_table(FILE *f, const struct toml_table *t, const char *path,
    const char *const *order)
{
	size_t i, j;

	for (i = 0; i < t->n; i++) {
		if (config_is_section(&t->items[i].v))
			continue;
		config_print_key(f, t->items[i].key);
		fputs(" = ", f);
		config_print_value(f, &t->items[i].v);
		fputc('\n', f);
	}
	for (j = 0; order != NULL && order[j] != NULL; j++) {
		for (i = 0; i < t->n; i++) {
			if (config_is_section(&t->items[i].v) &&
			    strcmp(t->items[i].key, order[j]) == 0)
				config_print_section(f, path, &t->items[i]);
		}
	}
	for (i = 0; i < t->n; i++) {
		if (config_is_section(&t->items[i].v) &&
		    !config_in(order, t->items[i].key))
			config_print_section(f, path, &t->items[i]);
	}
}

/* Prints the effective tree as TOML, secrets as ***. */
void
config_print(const struct config *cfg, FILE *f)
{
	fputs("# outpost: the effective configuration (defaults merged, "
	      "${VAR} substituted,\n# secrets hidden)\n",
	    f);
	config_print_table(f, cfg->root, "", config_root_order);
}

/* Frees the config, its tree and its errors; accepts NULL. */
void
config_free(struct config *cfg)
{
	char **fields[CONFIG_NFIELDS];
	size_t i, n;

	if (cfg == NULL)
		return;
	n = config_fields(cfg, fields);
	for (i = 0; i < n; i++)
		free(*fields[i]);
	toml_free(cfg->root);
	toml_free(cfg->scratch);
	for (i = 0; i < cfg->nerrors; i++)
		free(cfg->errors[i]);
	free(cfg->errors);
	free(cfg->error_lines);
	for (i = 0; i < cfg->nowned; i++)
		free(cfg->owned[i]);
	free(cfg->owned);
	free(cfg->devices);
	free(cfg->rules);
	free(cfg->path);
	free(cfg);
}
