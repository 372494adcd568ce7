/*
 * Fuzzes the TOML parser and, for every document it accepts, the config
 * layer behind it: validation, unknown-key reporting and the printer. The
 * printed config must always be TOML again, and a config without errors
 * must print to one that loads without errors.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char *
fuzz_print(const struct config *cfg, size_t *len)
{
	char *buf = NULL;
	FILE *f;

	if ((f = open_memstream(&buf, len)) == NULL)
		abort();
	config_print(cfg, f);
	fclose(f);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_table *t;
	struct config *cfg, *again;
	char *cause = NULL, *out;
	size_t len;

	if ((t = toml_parse((const char *)data, size, "fuzz", &cause)) ==
	    NULL) {
		if (cause == NULL || strncmp(cause, "fuzz:", 5) != 0)
			abort();
		free(cause);
		return 0;
	}
	toml_free(t);

	if ((cfg = config_load_text(
		 (const char *)data, size, "fuzz", &cause)) == NULL)
		abort();
	config_finish(cfg);
	out = fuzz_print(cfg, &len);
	if ((again = config_load_text(out, len, "printed", &cause)) == NULL) {
		fprintf(stderr, "printed config does not parse: %s\n%s\n",
		    cause, out);
		abort();
	}
	config_finish(again);
	if (cfg->nerrors == 0 && again->nerrors != 0) {
		fprintf(stderr, "clean config printed unclean: %s\n%s\n",
		    again->errors[0], out);
		abort();
	}
	config_free(again);
	free(out);
	config_free(cfg);
	return 0;
}
