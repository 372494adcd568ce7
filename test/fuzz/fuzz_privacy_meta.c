/*
 * Fuzzes the privacy firewall's metadata rewrite with arbitrary bytes as a
 * reading's meta. Whatever comes in, what comes out is terminated, empty or
 * an object, and clean: a second pass through a redact-only firewall finds
 * it valid and changes nothing (no key to redact survived at any depth).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "privacy.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct privacy *fuzz_both;   /* redact and hash */
static struct privacy *fuzz_redact; /* redact only: the checker */

static struct privacy *
fuzz_firewall(const char *text)
{
	struct config *cfg;
	struct privacy *p;
	char *cause = NULL;

	cfg = config_load_text(text, strlen(text), "fuzz", &cause);
	if (cfg == NULL || cfg->nerrors > 0)
		abort();
	if ((p = privacy_new(cfg, &cause)) == NULL)
		abort();
	config_free(cfg);
	return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct privacy_stats before, after;
	struct reading r, again;
	size_t n;

	if (fuzz_both == NULL) {
		fuzz_both =
		    fuzz_firewall("[privacy]\n"
				  "redact_meta = [\"operator\", \"s*\"]\n"
				  "hash_meta = [\"h*\"]\n"
				  "hmac_key = \"fuzz-key-0123456789\"\n");
		fuzz_redact = fuzz_firewall("[privacy]\n"
					    "redact_meta = [\"operator\", "
					    "\"s*\"]\n");
	}
	memset(&r, 0, sizeof r);
	strcpy(r.sensor, "fuzz");
	n = size < sizeof r.meta - 1 ? size : sizeof r.meta - 1;
	memcpy(r.meta, data, n);
	if (privacy_admit(fuzz_both, &r) != 0)
		abort();
	if (memchr(r.meta, '\0', sizeof r.meta) == NULL)
		abort();
	n = strlen(r.meta);
	if (n == 0)
		return 0;
	if (r.meta[0] != '{' || r.meta[n - 1] != '}')
		abort();
	again = r;
	privacy_stats(fuzz_redact, &before);
	if (privacy_admit(fuzz_redact, &again) != 0)
		abort();
	privacy_stats(fuzz_redact, &after);
	if (after.meta_invalid != before.meta_invalid ||
	    strcmp(again.meta, r.meta) != 0)
		abort();
	return 0;
}
