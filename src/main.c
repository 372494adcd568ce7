/*
 * The command line: choose the config, validate or print it, talk to a
 * running agent, or run one in the foreground until SIGTERM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <mbedtls/version.h>
#include <sqlite3.h>

#include "agent.h"
#include "config.h"
#include "ctl.h"
#include "log.h"
#include "version.h"

static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: outpost [-c FILE] [--check | --print-config]\n"
	    "       outpost status [-c FILE] [--json] [--watch [--interval S]]\n"
	    "       outpost flush [-c FILE]\n"
	    "       outpost --version\n"
	    "Without -c, %s is used if it exists, else the embedded default.\n",
	    CONFIG_DEFAULT_PATH);
}

static void
main_version(void)
{
	char mbed[32];

	mbedtls_version_get_string(mbed);
	printf("outpost %s\n", OUTPOST_VERSION);
	printf("libevent %s\nSQLite %s\nmbedtls %s\n", event_get_version(),
	    sqlite3_libversion(), mbed);
}

/* The file to use: -c, else the system file if present, else embedded. */
static const char *
main_config_path(const char *given)
{
	if (given != NULL)
		return given;
	if (access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		return CONFIG_DEFAULT_PATH;
	return NULL;
}

int
main(int argc, char **argv)
{
	enum {
		RUN,
		CHECK,
		PRINT,
		STATUS,
		FLUSH
	} mode = RUN;
	const char *given = NULL, *path;
	struct config *cfg;
	struct agent *ag;
	char *cause = NULL;
	struct ctl_status_opts so = { 0, 0, CTL_WATCH_INTERVAL_S };
	char *end;
	int i, rc;
	size_t e;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) {
			if (++i == argc) {
				main_usage(stderr);
				return 2;
			}
			given = argv[i];
		} else if (strcmp(argv[i], "--check") == 0)
			mode = CHECK;
		else if (strcmp(argv[i], "--print-config") == 0)
			mode = PRINT;
		else if (strcmp(argv[i], "--json") == 0)
			so.json = 1;
		else if (strcmp(argv[i], "--watch") == 0)
			so.watch = 1;
		else if (strcmp(argv[i], "--interval") == 0) {
			if (++i == argc ||
			    !((so.interval_s = strtod(argv[i], &end)) >=
				CTL_WATCH_MIN_INTERVAL_S) ||
			    *end != '\0' ||
			    so.interval_s > CTL_WATCH_MAX_INTERVAL_S) {
				fprintf(stderr,
				    "outpost: --interval needs %g..%g "
				    "seconds\n",
				    CTL_WATCH_MIN_INTERVAL_S,
				    CTL_WATCH_MAX_INTERVAL_S);
				return 2;
			}
		} else if (strcmp(argv[i], "status") == 0 && i == 1)
			mode = STATUS;
		else if (strcmp(argv[i], "flush") == 0 && i == 1)
			mode = FLUSH;
		else if (strcmp(argv[i], "--version") == 0 ||
		    strcmp(argv[i], "-V") == 0) {
			main_version();
			return 0;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			main_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "outpost: unknown argument '%s'\n",
			    argv[i]);
			main_usage(stderr);
			return 2;
		}
	}

	path = main_config_path(given);
	if ((cfg = config_load(path, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return mode == STATUS ? 2 : 1;
	}
	if (agent_check_config(cfg) > 0) {
		for (e = 0; e < cfg->nerrors; e++)
			fprintf(stderr, "%s\n", cfg->errors[e]);
		config_free(cfg);
		return mode == STATUS ? 2 : 1;
	}

	switch (mode) {
	case CHECK:
		printf("%s: ok\n", cfg->path);
		config_free(cfg);
		return 0;
	case PRINT:
		config_print(cfg, stdout);
		config_free(cfg);
		return 0;
	case STATUS:
		rc = ctl_status(cfg, &so);
		config_free(cfg);
		return rc;
	case FLUSH:
		rc = ctl_flush(cfg);
		config_free(cfg);
		return rc;
	case RUN:
		break;
	}

	if ((ag = agent_new(cfg, &cause)) == NULL) {
		log_error("agent", "cannot start: %s", cause);
		free(cause);
		return 1;
	}
	rc = agent_run(ag);
	agent_free(ag);
	log_info("agent", "stopped");
	log_flush();
	return rc;
}
