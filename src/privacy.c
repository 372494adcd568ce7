/*
 * The privacy firewall: deny/allow globs over sensor names, quantizing, and
 * a rewrite of the reading's metadata (a JSON object of at most
 * READING_META_MAX - 1 bytes) that removes or hashes keys at any depth. The
 * rewrite is a small strict scanner: keys are compared after their escapes
 * are decoded, so "\u006fperator" is still "operator"; anything it cannot
 * parse is removed whole rather than stored unchecked.
 */
#include <fnmatch.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "config.h"
#include "json_out.h"
#include "privacy.h"
#include "xmalloc.h"

#define PRIVACY_META_DEPTH 16 /* nesting of objects and arrays in meta */

struct privacy_rule {
	enum privacy_kind kind;
	char *pattern;
	char *label;
	double step; /* quantize */
	unsigned long long count;
	int hit; /* meta rules: matched in the reading being rewritten */
};

struct privacy {
	int enabled;
	struct privacy_rule *rules; /* deny, allow, redact, hash, quantize */
	size_t nrules;
	char **allow; /* the allow globs */
	size_t nallow;
	int has_meta_rules;
	unsigned char *key; /* HMAC key, wiped on free */
	size_t keylen;
	mbedtls_md_context_t md;
	int md_ready;
	struct privacy_stats stats;
};

/* One pass of the metadata rewrite. */
struct privacy_meta {
	struct privacy *p;
	const char *s; /* input */
	size_t i;
	size_t n;
	char out[READING_META_MAX];
	size_t o;
	int overflow;	 /* out is full */
	int drop_hashed; /* second pass: hashed keys removed instead */
};

static const char *const privacy_kind_names[] = { "deny", "allow", "redact",
	"hash", "quantize" };

const char *
privacy_kind_name(enum privacy_kind k)
{
	return (unsigned)k <
		sizeof privacy_kind_names / sizeof privacy_kind_names[0]
	    ? privacy_kind_names[k]
	    : "unknown";
}

static void
privacy_add_rule(
    struct privacy *p, enum privacy_kind kind, const char *pattern, double step)
{
	struct privacy_rule *r;

	p->rules = xreallocarray(p->rules, p->nrules + 1, sizeof *p->rules);
	r = &p->rules[p->nrules++];
	memset(r, 0, sizeof *r);
	r->kind = kind;
	r->pattern = xstrdup(pattern);
	if (kind == PRIVACY_ALLOW)
		r->label = xstrdup("allow");
	else
		xasprintf(&r->label, "%s:%s", privacy_kind_name(kind), pattern);
	r->step = step;
}

struct privacy *
privacy_new(const struct config *cfg, char **cause)
{
	struct privacy *p = xcalloc(1, sizeof *p);
	const mbedtls_md_info_t *info;
	char *joined = NULL, *s;
	size_t i;

	p->enabled = cfg->privacy.enabled;
	for (i = 0; i < cfg->privacy.ndeny; i++)
		privacy_add_rule(p, PRIVACY_DENY, cfg->privacy.deny[i], 0);
	if (cfg->privacy.nallow > 0) {
		p->allow = xcalloc(cfg->privacy.nallow, sizeof *p->allow);
		for (i = 0; i < cfg->privacy.nallow; i++) {
			p->allow[i] = xstrdup(cfg->privacy.allow[i]);
			xasprintf(&s, "%s%s%s", joined != NULL ? joined : "",
			    joined != NULL ? "," : "", p->allow[i]);
			free(joined);
			joined = s;
		}
		p->nallow = cfg->privacy.nallow;
		privacy_add_rule(p, PRIVACY_ALLOW, joined, 0);
		free(joined);
	}
	for (i = 0; i < cfg->privacy.nredact_meta; i++)
		privacy_add_rule(
		    p, PRIVACY_REDACT, cfg->privacy.redact_meta[i], 0);
	for (i = 0; i < cfg->privacy.nhash_meta; i++)
		privacy_add_rule(p, PRIVACY_HASH, cfg->privacy.hash_meta[i], 0);
	for (i = 0; i < cfg->privacy.nquantize; i++)
		privacy_add_rule(p, PRIVACY_QUANTIZE,
		    cfg->privacy.quantize[i].sensor,
		    cfg->privacy.quantize[i].step);
	p->has_meta_rules =
	    cfg->privacy.nredact_meta + cfg->privacy.nhash_meta > 0;
	p->stats.enabled = p->enabled;
	p->stats.rules = p->nrules;

	mbedtls_md_init(&p->md);
	if (cfg->privacy.nhash_meta == 0)
		return p;
	p->keylen = strlen(cfg->privacy.hmac_key);
	p->key = xmalloc(p->keylen + 1);
	memcpy(p->key, cfg->privacy.hmac_key, p->keylen);
	info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	if (info == NULL || mbedtls_md_setup(&p->md, info, 1) != 0 ||
	    mbedtls_md_hmac_starts(&p->md, p->key, p->keylen) != 0) {
		xasprintf(cause, "privacy: cannot set up HMAC-SHA256");
		privacy_free(p);
		return NULL;
	}
	p->md_ready = 1;
	return p;
}

void
privacy_free(struct privacy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nrules; i++) {
		free(p->rules[i].pattern);
		free(p->rules[i].label);
	}
	free(p->rules);
	for (i = 0; i < p->nallow; i++)
		free(p->allow[i]);
	free(p->allow);
	if (p->key != NULL) {
		mbedtls_platform_zeroize(p->key, p->keylen);
		free(p->key);
	}
	/* Wipes the inner and outer key pads too. */
	mbedtls_md_free(&p->md);
	free(p);
}

void
privacy_carry(struct privacy *p, const struct privacy *old)
{
	size_t i, j;

	if (old == NULL)
		return;
	for (i = 0; i < p->nrules; i++) {
		for (j = 0; j < old->nrules; j++) {
			if (p->rules[i].kind == old->rules[j].kind &&
			    strcmp(p->rules[i].pattern,
				old->rules[j].pattern) == 0) {
				p->rules[i].count = old->rules[j].count;
				break;
			}
		}
	}
	p->stats.dropped = old->stats.dropped;
	p->stats.meta_invalid = old->stats.meta_invalid;
	p->stats.hash_overflow = old->stats.hash_overflow;
}

double
privacy_quantize(double v, double step)
{
	double inv, q;

	if (!(step > 0) || !isfinite(v) || fabs(v / step) > 9007199254740992.0)
		return v;
	/*
	 * For a step like 0.01, dividing by 100 gives the double nearest
	 * to 51.51; multiplying by 0.01 (itself inexact) may not.
	 */
	inv = 1.0 / step;
	if (step < 1 && fabs(inv - round(inv)) < 1e-9 * inv)
		q = round(v * round(inv)) / round(inv);
	else
		q = round(v / step) * step;
	return isfinite(q) ? q : v;
}

static void
privacy_hex(const unsigned char *mac, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 0xf];
	}
	hex[64] = '\0';
}

int
privacy_hmac_hex(
    const void *key, size_t keylen, const void *data, size_t len, char hex[65])
{
	const mbedtls_md_info_t *info;
	unsigned char mac[32];

	info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	if (info == NULL ||
	    mbedtls_md_hmac(info, key, keylen, data, len, mac) != 0)
		return -1;
	privacy_hex(mac, hex);
	return 0;
}

/* The hashed form of one value, with the key set up once in privacy_new. */
static int
privacy_hash(struct privacy *p, const void *data, size_t len, char hex[65])
{
	unsigned char mac[32];

	if (!p->md_ready || mbedtls_md_hmac_reset(&p->md) != 0 ||
	    mbedtls_md_hmac_update(&p->md, data, len) != 0 ||
	    mbedtls_md_hmac_finish(&p->md, mac) != 0)
		return -1;
	privacy_hex(mac, hex);
	return 0;
}

static void
privacy_emit(struct privacy_meta *m, const char *s, size_t n)
{
	if (m->overflow || m->o + n >= sizeof m->out) {
		m->overflow = 1;
		return;
	}
	memcpy(m->out + m->o, s, n);
	m->o += n;
}

static void
privacy_ws(struct privacy_meta *m)
{
	while (m->i < m->n &&
	    (m->s[m->i] == ' ' || m->s[m->i] == '\t' || m->s[m->i] == '\n' ||
		m->s[m->i] == '\r'))
		m->i++;
}

static int
privacy_hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	int k;

	for (k = 0; k < 4; k++) {
		v <<= 4;
		if (s[k] >= '0' && s[k] <= '9')
			v |= (unsigned)(s[k] - '0');
		else if (s[k] >= 'a' && s[k] <= 'f')
			v |= (unsigned)(s[k] - 'a' + 10);
		else if (s[k] >= 'A' && s[k] <= 'F')
			v |= (unsigned)(s[k] - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
privacy_utf8(unsigned cp, char *d)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * A string at m->i (on its opening quote): validated, its decoded text in
 * dec (READING_META_MAX bytes; never longer than the input), NUL-ended.
 * -1 for bad JSON or a decoded NUL (it would cut the key short for the
 * glob and let the rest through).
 */
static int
privacy_string(struct privacy_meta *m, char *dec, size_t *declen)
{
	const char *s = m->s;
	size_t d = 0;
	unsigned cp, lo;
	char c;

	m->i++;
	while (m->i < m->n) {
		c = s[m->i];
		if (c == '"') {
			m->i++;
			dec[d] = '\0';
			*declen = d;
			return 0;
		}
		if ((unsigned char)c < 0x20)
			return -1;
		if (c != '\\') {
			dec[d++] = c;
			m->i++;
			continue;
		}
		if (m->i + 1 >= m->n)
			return -1;
		c = s[m->i + 1];
		m->i += 2;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			dec[d++] = c;
			break;
		case 'b':
			dec[d++] = '\b';
			break;
		case 'f':
			dec[d++] = '\f';
			break;
		case 'n':
			dec[d++] = '\n';
			break;
		case 'r':
			dec[d++] = '\r';
			break;
		case 't':
			dec[d++] = '\t';
			break;
		case 'u':
			if (m->i + 4 > m->n ||
			    privacy_hex4(s + m->i, &cp) == -1)
				return -1;
			m->i += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -1;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (m->i + 6 > m->n || s[m->i] != '\\' ||
				    s[m->i + 1] != 'u' ||
				    privacy_hex4(s + m->i + 2, &lo) == -1 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return -1;
				m->i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			if (cp == 0)
				return -1;
			d += privacy_utf8(cp, dec + d);
			break;
		default:
			return -1;
		}
	}
	return -1;
}

/* true, false, null or a JSON number. */
static int
privacy_literal(struct privacy_meta *m)
{
	const char *s = m->s + m->i;
	size_t n = m->n - m->i, k = 0, digits;

	if (n >= 4 && (memcmp(s, "true", 4) == 0 || memcmp(s, "null", 4) == 0))
		k = 4;
	else if (n >= 5 && memcmp(s, "false", 5) == 0)
		k = 5;
	else {
		if (k < n && s[k] == '-')
			k++;
		for (digits = 0; k < n && s[k] >= '0' && s[k] <= '9'; k++)
			digits++;
		if (digits == 0)
			return -1;
		if (k < n && s[k] == '.') {
			k++;
			for (digits = 0; k < n && s[k] >= '0' && s[k] <= '9';
			     k++)
				digits++;
			if (digits == 0)
				return -1;
		}
		if (k < n && (s[k] == 'e' || s[k] == 'E')) {
			k++;
			if (k < n && (s[k] == '+' || s[k] == '-'))
				k++;
			for (digits = 0; k < n && s[k] >= '0' && s[k] <= '9';
			     k++)
				digits++;
			if (digits == 0)
				return -1;
		}
	}
	m->i += k;
	return 0;
}

static int privacy_value(struct privacy_meta *, int emit, int depth);

/* The first redact (else hash) rule whose glob matches key, or NULL. */
static struct privacy_rule *
privacy_key_rule(struct privacy *p, const char *key)
{
	struct privacy_rule *hash = NULL;
	size_t i;

	for (i = 0; i < p->nrules; i++) {
		if (p->rules[i].kind != PRIVACY_REDACT &&
		    p->rules[i].kind != PRIVACY_HASH)
			continue;
		if (fnmatch(p->rules[i].pattern, key, 0) != 0)
			continue;
		if (p->rules[i].kind == PRIVACY_REDACT)
			return &p->rules[i];
		if (hash == NULL)
			hash = &p->rules[i];
	}
	return hash;
}

/* One member whose value is replaced by its HMAC (or dropped, 2nd pass). */
static int
privacy_member_hash(struct privacy_meta *m, const char *rawkey,
    size_t rawkeylen, int emit, int depth)
{
	char dec[READING_META_MAX], hex[65];
	size_t start = m->i, declen;
	const void *data;
	size_t len;

	if (m->s[m->i] == '"') {
		if (privacy_string(m, dec, &declen) == -1)
			return -1;
		data = dec;
		len = declen;
	} else {
		if (privacy_value(m, 0, depth + 1) == -1)
			return -1;
		data = m->s + start;
		len = m->i - start;
	}
	if (!emit || m->drop_hashed)
		return 0;
	if (privacy_hash(m->p, data, len, hex) == -1)
		return -1;
	privacy_emit(m, rawkey, rawkeylen);
	privacy_emit(m, ":\"", 2);
	privacy_emit(m, hex, 64);
	privacy_emit(m, "\"", 1);
	return 0;
}

static int
privacy_object(struct privacy_meta *m, int emit, int depth)
{
	char key[READING_META_MAX];
	struct privacy_rule *rule;
	size_t keystart, keyend, keylen, kept = 0;
	int first = 1, rc;

	m->i++;
	if (emit)
		privacy_emit(m, "{", 1);
	for (;;) {
		privacy_ws(m);
		if (m->i >= m->n)
			return -1;
		if (m->s[m->i] == '}' && first)
			break;
		if (!first) {
			if (m->s[m->i] == '}')
				break;
			if (m->s[m->i] != ',')
				return -1;
			m->i++;
			privacy_ws(m);
		}
		first = 0;
		if (m->i >= m->n || m->s[m->i] != '"')
			return -1;
		keystart = m->i;
		if (privacy_string(m, key, &keylen) == -1)
			return -1;
		keyend = m->i;
		privacy_ws(m);
		if (m->i >= m->n || m->s[m->i] != ':')
			return -1;
		m->i++;
		privacy_ws(m);
		if (m->i >= m->n)
			return -1;
		rule = privacy_key_rule(m->p, key);
		if (rule != NULL && emit)
			rule->hit = 1;
		if (rule != NULL && rule->kind == PRIVACY_REDACT) {
			rc = privacy_value(m, 0, depth + 1);
		} else if (rule != NULL) {
			if (emit && !m->drop_hashed && kept++ > 0)
				privacy_emit(m, ",", 1);
			rc = privacy_member_hash(
			    m, m->s + keystart, keyend - keystart, emit, depth);
		} else {
			if (emit) {
				if (kept++ > 0)
					privacy_emit(m, ",", 1);
				privacy_emit(
				    m, m->s + keystart, keyend - keystart);
				privacy_emit(m, ":", 1);
			}
			rc = privacy_value(m, emit, depth + 1);
		}
		if (rc == -1)
			return -1;
	}
	m->i++;
	if (emit)
		privacy_emit(m, "}", 1);
	return 0;
}

static int
privacy_array(struct privacy_meta *m, int emit, int depth)
{
	int first = 1;

	m->i++;
	if (emit)
		privacy_emit(m, "[", 1);
	for (;;) {
		privacy_ws(m);
		if (m->i >= m->n)
			return -1;
		if (m->s[m->i] == ']')
			break;
		if (!first) {
			if (m->s[m->i] != ',')
				return -1;
			m->i++;
			if (emit)
				privacy_emit(m, ",", 1);
			privacy_ws(m);
		}
		first = 0;
		if (privacy_value(m, emit, depth + 1) == -1)
			return -1;
	}
	m->i++;
	if (emit)
		privacy_emit(m, "]", 1);
	return 0;
}

static int
privacy_value(struct privacy_meta *m, int emit, int depth)
{
	char dec[READING_META_MAX];
	size_t start = m->i, declen;

	if (depth > PRIVACY_META_DEPTH || m->i >= m->n)
		return -1;
	switch (m->s[m->i]) {
	case '{':
		return privacy_object(m, emit, depth);
	case '[':
		return privacy_array(m, emit, depth);
	case '"':
		if (privacy_string(m, dec, &declen) == -1)
			return -1;
		break;
	default:
		if (privacy_literal(m) == -1)
			return -1;
	}
	if (emit)
		privacy_emit(m, m->s + start, m->i - start);
	return 0;
}

/* One pass over meta; 0 with m->out set, or -1 for bad JSON. */
static int
privacy_meta_pass(struct privacy *p, struct privacy_meta *m, const char *meta,
    int drop_hashed)
{
	memset(m, 0, sizeof *m);
	m->p = p;
	m->s = meta;
	m->n = strnlen(meta, READING_META_MAX);
	m->drop_hashed = drop_hashed;
	privacy_ws(m);
	if (m->i >= m->n || m->s[m->i] != '{' || privacy_object(m, 1, 0) == -1)
		return -1;
	privacy_ws(m);
	if (m->i != m->n)
		return -1;
	m->out[m->o] = '\0';
	return 0;
}

static void
privacy_meta(struct privacy *p, struct reading *r)
{
	struct privacy_meta m;
	size_t i;
	int rc;

	rc = privacy_meta_pass(p, &m, r->meta, 0);
	if (rc == 0 && m.overflow) {
		/* 64 hex digits may not fit where a short value did. */
		rc = privacy_meta_pass(p, &m, r->meta, 1);
		if (rc == 0 && !m.overflow)
			p->stats.hash_overflow++;
	}
	if (rc == -1 || m.overflow) {
		p->stats.meta_invalid++;
		memset(r->meta, 0, sizeof r->meta);
		for (i = 0; i < p->nrules; i++)
			p->rules[i].hit = 0;
		return;
	}
	for (i = 0; i < p->nrules; i++) {
		if (p->rules[i].hit)
			p->rules[i].count++;
		p->rules[i].hit = 0;
	}
	/* Wipe the old bytes: the reading is copied into the ring whole. */
	memset(r->meta, 0, sizeof r->meta);
	if (strcmp(m.out, "{}") != 0)
		memcpy(r->meta, m.out, m.o + 1);
}

int
privacy_admit(struct privacy *p, struct reading *r)
{
	struct privacy_rule *rule;
	size_t i, k;

	if (p == NULL || !p->enabled)
		return 0;
	r->sensor[sizeof r->sensor - 1] = '\0';
	for (i = 0; i < p->nrules; i++) {
		rule = &p->rules[i];
		if (rule->kind == PRIVACY_DENY &&
		    fnmatch(rule->pattern, r->sensor, 0) == 0) {
			rule->count++;
			p->stats.dropped++;
			return -1;
		}
		if (rule->kind == PRIVACY_ALLOW) {
			for (k = 0; k < p->nallow; k++) {
				if (fnmatch(p->allow[k], r->sensor, 0) == 0)
					break;
			}
			if (k == p->nallow) {
				rule->count++;
				p->stats.dropped++;
				return -1;
			}
		}
	}
	for (i = 0; i < p->nrules; i++) {
		rule = &p->rules[i];
		if (rule->kind == PRIVACY_QUANTIZE &&
		    fnmatch(rule->pattern, r->sensor, 0) == 0) {
			r->value = privacy_quantize(r->value, rule->step);
			rule->count++;
			break;
		}
	}
	if (p->has_meta_rules && r->meta[0] != '\0')
		privacy_meta(p, r);
	return 0;
}

void
privacy_stats(const struct privacy *p, struct privacy_stats *out)
{
	*out = p->stats;
}

size_t
privacy_rule_count(const struct privacy *p)
{
	return p != NULL ? p->nrules : 0;
}

int
privacy_rule_stat(
    const struct privacy *p, size_t i, struct privacy_rule_stat *out)
{
	if (p == NULL || i >= p->nrules)
		return -1;
	out->kind = p->rules[i].kind;
	out->pattern = p->rules[i].pattern;
	out->label = p->rules[i].label;
	out->count = p->rules[i].count;
	return 0;
}

void
privacy_status(const struct privacy *p, struct json_out *j)
{
	size_t i;

	json_out_bool(j, "enabled", p->enabled);
	json_out_int(j, "rules", (long long)p->nrules);
	json_out_int(j, "dropped", (long long)p->stats.dropped);
	json_out_int(j, "meta_invalid", (long long)p->stats.meta_invalid);
	json_out_int(j, "hash_overflow", (long long)p->stats.hash_overflow);
	json_out_array_begin(j, "by_rule");
	for (i = 0; i < p->nrules; i++) {
		json_out_object_begin(j, NULL);
		json_out_string(j, "rule", p->rules[i].label);
		json_out_string(j, "kind", privacy_kind_name(p->rules[i].kind));
		json_out_string(j, "pattern", p->rules[i].pattern);
		json_out_int(j, "count", (long long)p->rules[i].count);
		json_out_object_end(j);
	}
	json_out_array_end(j);
}
