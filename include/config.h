/*
 * The agent's configuration: TOML file (or the embedded default) merged
 * with built-in defaults, ${VAR} substituted, validated. Every problem is
 * collected as "FILE:LINE: message" so --check reports all of them at once.
 * Readers (this module for the core sections, adapters for their own keys)
 * go through cfg_get_*(), which marks keys used and writes defaults back into
 * the tree, so the tree is the effective config that --print-config shows.
 */
#ifndef OUTPOST_CONFIG_H
#define OUTPOST_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "log.h"
#include "reading.h"
#include "toml.h"

#define CONFIG_DEFAULT_PATH "/etc/outpost/outpost.toml"

enum store_durability {
	STORE_DURABILITY_NORMAL,
	STORE_DURABILITY_FULL,
};

enum cloud_format {
	CLOUD_FORMAT_JSON,
	CLOUD_FORMAT_INFLUX,
};

enum cloud_compress {
	CLOUD_COMPRESS_NONE,
	CLOUD_COMPRESS_GZIP,
};

struct cfg_device {
	char *name;
	char *type;   /* sim | system | mqtt | ... */
	char *sensor; /* default sensor name */
	char *unit;
	enum priority priority;
	double interval_s;	  /* polled devices */
	long long buffer;	  /* ring capacity, readings */
	int line;		  /* [[device]] header */
	struct toml_table *table; /* type-specific keys */
};

/* What a rule watches: the value, its change per second, or silence. */
enum cfg_rule_kind {
	CFG_RULE_THRESHOLD, /* above / below */
	CFG_RULE_RATE,	    /* rate_above / rate_below, into above / below */
	CFG_RULE_STALE,	    /* stale = N s without a reading */
};

enum cfg_rule_action {
	CFG_ACTION_LOG,
	CFG_ACTION_EXEC,
	CFG_ACTION_MQTT,
};

#define CFG_ACTION_ON_FIRE 0x01
#define CFG_ACTION_ON_CLEAR 0x02

struct cfg_rule {
	char *name;
	char *sensor; /* glob */
	enum cfg_rule_kind kind;
	int has_above;
	double above; /* the value, or with CFG_RULE_RATE units/s */
	int has_below;
	double below;
	int has_clear; /* hysteresis level; default the threshold */
	double clear;
	double for_s;
	double stale_s; /* CFG_RULE_STALE */
	enum priority severity;
	enum cfg_rule_action action;
	char **command; /* exec: argv, NULL-terminated, absolute path */
	size_t ncommand;
	double timeout_s; /* exec: killed after */
	int action_on;	  /* CFG_ACTION_ON_* */
	char *mqtt_url;	  /* mqtt: mqtt://host[:port] */
	char *mqtt_topic; /* mqtt: may hold {rule}, {sensor}, {event} */
	int mqtt_qos;	  /* mqtt: 0 or 1 */
	int line;
	struct toml_table *table; /* keys later features read */
};

/* [privacy] quantize = [{ sensor = "gps.*", step = 0.01 }, ...] */
struct cfg_quantize {
	char *sensor; /* glob */
	double step;
};

/*
 * The string members of struct config are its own (config_free() frees
 * them); those of cfg_device and cfg_rule point into the tree.
 */
struct config {
	char *path;		 /* file name or "(embedded)" */
	struct toml_table *root; /* the effective tree */
	char **errors;		 /* "FILE:LINE: message" */
	size_t nerrors;

	struct {
		char *id;
		char *data_dir;
	} agent;
	struct {
		enum log_level level;
		enum log_format format;
	} logging;
	struct {
		enum store_durability durability;
		long long max_db_mb;
		long long retention_hours;
		double commit_interval_s;   /* group commit wait */
		long long commit_max;	    /* readings per transaction */
		long long checkpoint_pages; /* WAL pages before a checkpoint */
		long long page_size;	    /* for a store created new */
		double summary_interval_s;  /* summary period */
		double pressure_min_age_s;  /* unsent summarized: purge after */
		double pressure_interval_s; /* storage pressure check */
		long long max_pages; /* SQLite max_page_count; 0 = none */
	} store;
	struct {
		double trusted_after_ts; /* Unix s: earlier is not trusted */
		int require_sync;	 /* also wait for adjtimex */
		double check_interval_s;
	} clock;
	struct {
		char *listen;	   /* host:port */
		char *admin_token; /* secret; "" = admin off */
		double timeout_s;  /* per connection */
		long long max_body_bytes;
		double degraded_pending_age_s; /* uplink on: older = degraded */
		long long cert_warn_days;      /* TLS expiry warning ahead */
		double history_interval_s;     /* status page chart step */
	} health;
	struct {
		int enabled;
		char *endpoint;
		enum cloud_format format;
		char *token; /* secret */
		char *ca_file;
		char *client_cert;
		char *client_key;
		int insecure;
		long long batch_size;
		double flush_interval_s;
		double timeout_s;
		enum cloud_compress compress;
		long long max_bytes_per_s; /* upload cap, 0 = none */
		double daily_budget_mb;	   /* 0 = unlimited */
		struct {
			double base_delay_s;
			double max_delay_s;
			long long max_attempts;
			int jitter;
		} retry;
		struct {
			long long failure_threshold;
			double recovery_timeout_s;
		} breaker;
		double ttl_hours[PRIORITY_COUNT]; /* 0 = forever */
	} cloud;
	struct {
		double poll_interval_s;
		long long buffer; /* default ring capacity */
	} sensors;
	struct {
		int enabled;
		char **deny;
		size_t ndeny;
		char **allow;
		size_t nallow;
		char **redact_meta;
		size_t nredact_meta;
		char **hash_meta; /* values replaced by HMAC-SHA256 */
		size_t nhash_meta;
		char *hmac_key; /* secret, in the tree; "" = none */
		struct cfg_quantize *quantize;
		size_t nquantize;
	} privacy;

	struct cfg_device *devices;
	size_t ndevices;
	struct cfg_rule *rules;
	size_t nrules;

	/* Private to config.c. */
	int *error_lines; /* parallel to errors[] */
	void **owned;	  /* freed by config_free() */
	size_t nowned;
	struct toml_table *scratch; /* stand-ins for mistyped tables */
};

/* The config used when no -c is given and CONFIG_DEFAULT_PATH is absent. */
extern const char config_default_text[];

/*
 * Loads a file (or, with path NULL, the embedded default). Returns NULL with
 * *cause set when the file cannot be read or is not TOML; otherwise the
 * config, whose errors[] holds every validation problem found so far.
 */
struct config *config_load(const char *path, char **cause);
struct config *
config_load_text(const char *text, size_t len, const char *name, char **cause);
/*
 * Call after every reader (adapters included) has run: reports each key no
 * one consumed as unknown, and sorts errors by line.
 */
void config_finish(struct config *);
/* Prints the effective config as TOML, secrets as "***". */
void config_print(const struct config *, FILE *);
void config_free(struct config *);

/* Records "FILE:LINE: message" (line 0: no line). */
void cfg_error(struct config *, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Typed readers over one table. Absent key: *out = def and the default is
 * written into the tree. Wrong type or out of range: an error is recorded,
 * *out = def, and -1 is returned. Strings are ${VAR}-substituted and
 * returned as pointers into the tree (valid until config_free).
 */
int cfg_get_string(struct config *, struct toml_table *, const char *key,
    const char *def, char **out);
int cfg_get_secret(struct config *, struct toml_table *, const char *key,
    const char *def, char **out);
int cfg_get_int(struct config *, struct toml_table *, const char *key,
    long long def, long long min, long long max, long long *out);
int cfg_get_double(struct config *, struct toml_table *, const char *key,
    double def, double min, double max, double *out);
int cfg_get_bool(
    struct config *, struct toml_table *, const char *key, int def, int *out);
/* names: NULL-terminated; *out is the index. */
int cfg_get_enum(struct config *, struct toml_table *, const char *key,
    const char *const *names, int def, int *out);
/* Array of strings; *out NULL-terminated, owned by the config. */
int cfg_get_strings(struct config *, struct toml_table *, const char *key,
    char ***out, size_t *n);
/* Is key present in the file (not a default)? */
int cfg_has(struct toml_table *, const char *key);

/* Substitutes ${VAR} and ${VAR:-default}; NULL with *cause on bad syntax. */
char *config_expand_env(const char *s, char **cause);

#endif
