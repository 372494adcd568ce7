/*
 * The memory floor for bench/size.sh: the least a program built on the
 * agent's three libraries costs when idle. It sets up what the agent cannot
 * do without (an event base with an HTTP listener on loopback, an SQLite
 * database in WAL mode with one table written, an mbedtls TLS client
 * configuration with a seeded DRBG), then sleeps in the event loop until
 * SIGTERM or SIGINT. The agent's idle RSS is compared with this figure.
 *
 *	minimal_floor DIR	the database is DIR/floor.db
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <psa/crypto.h>
#endif
#include <sqlite3.h>

struct floor_tls {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
};

static void
floor_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

static void
floor_http_cb(struct evhttp_request *req, void *arg)
{
	evhttp_send_reply(req, 200, "OK", NULL);
}

/* The store's essentials: WAL, NORMAL sync, one table with a row. */
static sqlite3 *
floor_db_open(const char *dir)
{
	sqlite3 *db = NULL;
	char path[4096];

	snprintf(path, sizeof path, "%s/floor.db", dir);
	if (sqlite3_open_v2(path, &db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(db,
		"PRAGMA journal_mode = WAL;"
		"PRAGMA synchronous = NORMAL;"
		"CREATE TABLE IF NOT EXISTS r (id BLOB PRIMARY KEY, v REAL);"
		"INSERT OR REPLACE INTO r VALUES (x'00', 1.0);",
		NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return db;
fail:
	fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
	sqlite3_close(db);
	return NULL;
}

static int
floor_tls_init(struct floor_tls *t)
{
	static const char pers[] = "outpost-floor";

	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->ca);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	if (psa_crypto_init() != PSA_SUCCESS)
		return -1;
#endif
	if (mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
		(const unsigned char *)pers, sizeof pers - 1) != 0)
		return -1;
	if (mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
		MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -1;
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
	return 0;
}

static void
floor_tls_free(struct floor_tls *t)
{
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
}

int
main(int argc, char **argv)
{
	struct event_base *base = NULL;
	struct evhttp *http = NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	struct floor_tls tls;
	sqlite3 *db = NULL;
	int rc = 1;

	memset(&tls, 0, sizeof tls);
	if (argc != 2) {
		fprintf(stderr, "usage: minimal_floor DIR\n");
		return 2;
	}
	if ((base = event_base_new()) == NULL ||
	    (http = evhttp_new(base)) == NULL) {
		fprintf(stderr, "libevent setup failed\n");
		goto out;
	}
	evhttp_set_gencb(http, floor_http_cb, NULL);
	if (evhttp_bind_socket(http, "127.0.0.1", 0) != 0) {
		fprintf(stderr, "cannot listen on 127.0.0.1\n");
		goto out;
	}
	sigterm = evsignal_new(base, SIGTERM, floor_signal_cb, base);
	sigint = evsignal_new(base, SIGINT, floor_signal_cb, base);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL)) {
		fprintf(stderr, "signal setup failed\n");
		goto out;
	}
	if ((db = floor_db_open(argv[1])) == NULL)
		goto out;
	if (floor_tls_init(&tls) == -1) {
		fprintf(stderr, "mbedtls setup failed\n");
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	event_base_dispatch(base);
	rc = 0;
out:
	floor_tls_free(&tls);
	sqlite3_close(db);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (http != NULL)
		evhttp_free(http);
	if (base != NULL)
		event_base_free(base);
	return rc;
}
