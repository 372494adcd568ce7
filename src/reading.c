/* Names of priorities, shared by config, store views and encoders. */
#include <string.h>

#include "reading.h"

static const char *const priority_names[PRIORITY_COUNT] = { "critical", "high",
	"normal", "low" };

const char *
priority_name(enum priority p)
{
	if ((unsigned)p >= PRIORITY_COUNT)
		return "unknown";
	return priority_names[p];
}

int
priority_parse(const char *s, enum priority *out)
{
	int i;

	for (i = 0; i < PRIORITY_COUNT; i++) {
		if (strcmp(s, priority_names[i]) == 0) {
			*out = (enum priority)i;
			return 0;
		}
	}
	return -1;
}
