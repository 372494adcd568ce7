/*
 * A strict TOML subset: tables, dotted tables, arrays of tables, basic and
 * literal strings with escapes, integers, floats, booleans, arrays and
 * comments. Everything else is rejected with "FILE:LINE: message". The tree
 * remembers the line of every value and whether a reader consumed it, so
 * the config layer can report unknown keys with their lines.
 */
#ifndef OUTPOST_TOML_H
#define OUTPOST_TOML_H

#include <stddef.h>

enum toml_type {
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_ARRAY,
	TOML_TABLE,
};

#define TOML_USED 0x01	   /* a reader consumed this key */
#define TOML_SECRET 0x02   /* printed as *** */
#define TOML_DEFAULT 0x04  /* inserted by a reader, not in the file */
#define TOML_AOT 0x08	   /* array of tables built by [[headers]] */
#define TOML_EXPANDED 0x10 /* string already ${VAR}-substituted */

/* How a table came to be: decides which later definitions are legal. */
enum toml_origin {
	TOML_IMPLICIT, /* a parent named by an [a.b] header */
	TOML_HEADER,   /* [a] or [[a]] */
	TOML_DOTTED,   /* created by a dotted key a.b = 1 */
	TOML_INLINE,   /* {a = 1}: closed to later additions */
	TOML_CREATED,  /* by a reader, through toml_table_new() */
};

struct toml_table;
struct toml_array;

struct toml_value {
	enum toml_type type;
	int line;  /* 1-based; 0 for defaults */
	int flags; /* TOML_USED | TOML_SECRET | ... */
	union {
		char *s;
		long long i;
		double f;
		int b;
		struct toml_array *arr;
		struct toml_table *tab;
	} u;
};

struct toml_kv {
	char *key;
	struct toml_value v;
};

struct toml_table {
	struct toml_kv *items; /* in document order */
	size_t n;
	size_t cap;
	int line;     /* header line, 0 for the root */
	int explicit; /* defined by a [header] or key */
	int origin;   /* enum toml_origin */
	char *name;   /* "[a.b]", "[[a]]", "" (root): messages */
};

struct toml_array {
	struct toml_value *items;
	size_t n;
	size_t cap;
};

/* Parses len bytes of text; NULL with *cause = "NAME:LINE: message". */
struct toml_table *
toml_parse(const char *text, size_t len, const char *name, char **cause);
void toml_free(struct toml_table *);
/* An empty table (origin TOML_CREATED) labelled name in messages. */
struct toml_table *toml_table_new(const char *name);

/* Looks a key up in one table (no dots); NULL if absent. */
struct toml_value *toml_get(const struct toml_table *, const char *key);
/* Adds or replaces key; takes ownership of v's allocations. */
struct toml_value *
toml_set(struct toml_table *, const char *key, const struct toml_value *v);
const char *toml_type_name(enum toml_type);
/* s as a TOML basic string, or (key != 0) as a bare key when it can be. */
char *toml_quote(const char *s, int key);

#endif
