/*
 * mbedtls glue for non-blocking sockets: loads and re-loads the trust
 * material, keeps the last session for resumption, and turns every
 * mbedtls result into one tlsio_status plus a message written once into
 * the caller's buffer. Waiting, timeouts and the socket belong to the
 * caller (http_client).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/version.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#include "log.h"
#include "tlsio.h"
#include "xmalloc.h"

/* What identifies one version of a file on disk. */
struct tlsio_stamp {
	int present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/*
 * Certificates, key and mbedtls config loaded from one version of the
 * files. Reference-counted: a reload makes a new one while connections
 * still handshaking keep theirs.
 *
 * The CA certificates are kept as DER only (ca_der) and parsed into ca
 * while a handshake needs them: a system bundle parsed costs about three
 * times its DER in heap (Debian's 144 certificates: 464 KiB against
 * 153 KiB), for the few milliseconds of a handshake every long while.
 * Parsing the kept DER again takes about 0.3 ms on x86-64 (the PEM file,
 * about 16 ms), and it cannot fail the way re-reading the file can.
 */
struct tlsio_material {
	unsigned refs;
	mbedtls_x509_crt ca;   /* parsed while ca_users > 0 */
	unsigned char *ca_der; /* the certificates back to back */
	size_t *ca_der_len;    /* and their lengths */
	size_t ca_count;
	unsigned ca_users; /* connections in their handshake */
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	mbedtls_ssl_config conf;
	int have_ca;
	int have_cert;
	long long ca_expiry; /* Unix s, -1: none */
	long long cert_expiry;
};

struct tlsio_config {
	char *ca_file;
	char *client_cert;
	char *client_key;
	int insecure;
	int mfl_code;		     /* MBEDTLS_SSL_MAX_FRAG_LEN_* */
	struct tlsio_stamp stamp[3]; /* ca, cert, key */

	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	struct tlsio_material *mat;

	mbedtls_ssl_session session; /* last one, for resumption */
	int have_session;
	char *session_host;

	unsigned long long reloads;
	unsigned long long handshakes;
	unsigned long long resumptions;
};

struct tlsio {
	struct tlsio_config *cfg;
	struct tlsio_material *mat;
	mbedtls_ssl_context ssl;
	int fd;
	char *host;
	int io_errno;	       /* last socket error */
	unsigned verify_calls; /* certificates checked */
	int handshake_done;
	int holds_ca; /* until the handshake is done */
	int resumed;
	size_t write_pending; /* len of an unfinished write */
	uint64_t bytes_in;
	uint64_t bytes_out;
};

/* "[what: ]mbedtls text (-0xNNNN)" */
static void
tlsio_mbedtls_error(char *err, size_t errlen, const char *what, int ret)
{
	char buf[160];

	mbedtls_strerror(ret, buf, sizeof buf);
	xerrorf(err, errlen, "%s%s%s (-0x%04x)", what != NULL ? what : "",
	    what != NULL ? ": " : "", buf, (unsigned)-ret);
}

static int
tlsio_stat(const char *path, struct tlsio_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof *st);
	if (path == NULL || *path == '\0')
		return 0;
	if (stat(path, &sb) == -1)
		return -1;
	st->present = 1;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	return 0;
}

static int
tlsio_stamp_equal(const struct tlsio_stamp *a, const struct tlsio_stamp *b)
{
	return a->present == b->present && a->dev == b->dev &&
	    a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static long long
tlsio_x509_time(const mbedtls_x509_time *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = t->year - 1900;
	tm.tm_mon = t->mon - 1;
	tm.tm_mday = t->day;
	tm.tm_hour = t->hour;
	tm.tm_min = t->min;
	tm.tm_sec = t->sec;
	return (long long)timegm(&tm);
}

static void
tlsio_material_unref(struct tlsio_material *m)
{
	if (m == NULL || --m->refs > 0)
		return;
	mbedtls_ssl_config_free(&m->conf);
	mbedtls_x509_crt_free(&m->ca);
	free(m->ca_der);
	free(m->ca_der_len);
	mbedtls_x509_crt_free(&m->cert);
	mbedtls_pk_free(&m->key);
	free(m);
}

/* The whole file, NUL-terminated; -1 with errno on failure. */
static int
tlsio_read_file(const char *path, char **out, size_t *len)
{
	struct stat sb;
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1)
		goto fail;
	buf = xmalloc((size_t)sb.st_size + 1);
	while (n < (size_t)sb.st_size) {
		if ((r = read(fd, buf + n, (size_t)sb.st_size - n)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return -1;
}

static void
tlsio_ca_keep(
    struct tlsio_material *m, const mbedtls_x509_crt *crt, size_t *cap)
{
	size_t off = 0, i;
	long long t;

	for (i = 0; i < m->ca_count; i++)
		off += m->ca_der_len[i];
	if (off + crt->raw.len > *cap) {
		*cap = off + crt->raw.len;
		m->ca_der = xreallocarray(m->ca_der, *cap, 1);
	}
	memcpy(m->ca_der + off, crt->raw.p, crt->raw.len);
	m->ca_der_len = xreallocarray(
	    m->ca_der_len, m->ca_count + 1, sizeof *m->ca_der_len);
	m->ca_der_len[m->ca_count++] = crt->raw.len;
	t = tlsio_x509_time(&crt->valid_to);
	if (m->ca_expiry == -1 || t < m->ca_expiry)
		m->ca_expiry = t;
}

/*
 * Reads the CA file one certificate at a time, keeping each one's DER and
 * the earliest expiry: a bundle is never parsed whole (nor leaves a hole
 * of its size in the heap). Returns what mbedtls_x509_crt_parse_file()
 * does: < 0 when no certificate is usable, else how many did not parse.
 */
static int
tlsio_ca_read(struct tlsio_material *m, const char *path)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	mbedtls_x509_crt one;
	char *buf, *p, *e, save;
	size_t len, cap, i, off = 0;
	int ret, failed = 0, first_error = 0;

	if (tlsio_read_file(path, &buf, &len) == -1)
		return MBEDTLS_ERR_X509_FILE_IO_ERROR;
	/* A certificate's DER is shorter than its PEM. */
	cap = len > 0 ? len : 1;
	m->ca_der = xmalloc(cap);
	mbedtls_x509_crt_init(&one);
	if (strstr(buf, begin) == NULL) {
		/* One DER certificate, as mbedtls takes a file without PEM. */
		if ((ret = mbedtls_x509_crt_parse_der(
			 &one, (unsigned char *)buf, len)) == 0)
			tlsio_ca_keep(m, &one, &cap);
		else
			first_error = ret;
	}
	for (p = buf; (p = strstr(p, begin)) != NULL; p = e) {
		/* One block at a time; a truncated last one to the end. */
		e = strstr(p, end);
		e = e != NULL ? e + sizeof end - 1 : p + strlen(p);
		save = *e;
		*e = '\0';
		ret = mbedtls_x509_crt_parse(
		    &one, (unsigned char *)p, (size_t)(e - p) + 1);
		*e = save;
		if (ret == 0)
			tlsio_ca_keep(m, &one, &cap);
		else {
			failed++;
			if (first_error == 0)
				first_error = ret;
		}
		mbedtls_x509_crt_free(&one);
		mbedtls_x509_crt_init(&one);
	}
	mbedtls_x509_crt_free(&one);
	free(buf);
	for (i = 0; i < m->ca_count; i++)
		off += m->ca_der_len[i];
	if (m->ca_count == 0)
		return first_error != 0 ? first_error
					: MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT;
	m->ca_der = xreallocarray(m->ca_der, off, 1);
	return failed;
}

/*
 * A handshake starts: the chain the config points at (m->ca) is parsed
 * from the kept DER, without copying it, unless another handshake has it.
 */
static void
tlsio_ca_hold(struct tlsio_material *m)
{
	size_t i, off = 0;
	int ret;

	if (m->ca_users++ > 0)
		return;
	for (i = 0; i < m->ca_count; i++) {
		if ((ret = mbedtls_x509_crt_parse_der_nocopy(
			 &m->ca, m->ca_der + off, m->ca_der_len[i])) != 0) {
			/* It parsed at load: only memory can be short. */
			log_error("tls", "CA certificate %zu: -0x%04x", i,
			    (unsigned)-ret);
		}
		off += m->ca_der_len[i];
	}
}

/* That handshake is over: the last one out frees the parsed chain. */
static void
tlsio_ca_release(struct tlsio_material *m)
{
	if (m->ca_users == 0 || --m->ca_users > 0)
		return;
	mbedtls_x509_crt_free(&m->ca);
	mbedtls_x509_crt_init(&m->ca);
}

static int
tlsio_verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tlsio *t = arg;

	t->verify_calls++;
	return 0;
}

/* Loads every file into a new material; NULL with err on failure. */
static struct tlsio_material *
tlsio_material_load(struct tlsio_config *c, char *err, size_t errlen)
{
	struct tlsio_material *m = xcalloc(1, sizeof *m);
	int ret;

	m->refs = 1;
	m->ca_expiry = m->cert_expiry = -1;
	mbedtls_x509_crt_init(&m->ca);
	mbedtls_x509_crt_init(&m->cert);
	mbedtls_pk_init(&m->key);
	mbedtls_ssl_config_init(&m->conf);

	if (c->ca_file != NULL) {
		if ((ret = tlsio_ca_read(m, c->ca_file)) != 0) {
			/* > 0: some certificates in the bundle did not parse. */
			if (ret < 0) {
				tlsio_mbedtls_error(
				    err, errlen, c->ca_file, ret);
				goto fail;
			}
			log_warn("tls", "%s: %d certificates skipped",
			    c->ca_file, ret);
		}
		m->have_ca = 1;
	}
	if (c->client_cert != NULL) {
		if ((ret = mbedtls_x509_crt_parse_file(
			 &m->cert, c->client_cert)) != 0) {
			if (ret > 0)
				ret = MBEDTLS_ERR_X509_INVALID_FORMAT;
			tlsio_mbedtls_error(err, errlen, c->client_cert, ret);
			goto fail;
		}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
		ret = mbedtls_pk_parse_keyfile(&m->key, c->client_key, NULL,
		    mbedtls_ctr_drbg_random, &c->drbg);
#else
		ret = mbedtls_pk_parse_keyfile(&m->key, c->client_key, NULL);
#endif
		if (ret != 0) {
			tlsio_mbedtls_error(err, errlen, c->client_key, ret);
			goto fail;
		}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
		ret = mbedtls_pk_check_pair(
		    &m->cert.pk, &m->key, mbedtls_ctr_drbg_random, &c->drbg);
#else
		ret = mbedtls_pk_check_pair(&m->cert.pk, &m->key);
#endif
		if (ret != 0) {
			xerrorf(err, errlen,
			    "%s does not match the certificate in %s",
			    c->client_key, c->client_cert);
			goto fail;
		}
		m->have_cert = 1;
		m->cert_expiry = tlsio_x509_time(&m->cert.valid_to);
	}

	if ((ret = mbedtls_ssl_config_defaults(&m->conf, MBEDTLS_SSL_IS_CLIENT,
		 MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) !=
	    0) {
		tlsio_mbedtls_error(err, errlen, "TLS defaults", ret);
		goto fail;
	}
	mbedtls_ssl_conf_rng(&m->conf, mbedtls_ctr_drbg_random, &c->drbg);
	/*
	 * Insecure still runs the verification (OPTIONAL ignores its result)
	 * so a full handshake and a resumed one can be told apart.
	 */
	mbedtls_ssl_conf_authmode(&m->conf,
	    c->insecure ? MBEDTLS_SSL_VERIFY_OPTIONAL
			: MBEDTLS_SSL_VERIFY_REQUIRED);
	if (m->have_ca)
		mbedtls_ssl_conf_ca_chain(&m->conf, &m->ca, NULL);
	if (m->have_cert &&
	    (ret = mbedtls_ssl_conf_own_cert(&m->conf, &m->cert, &m->key)) !=
		0) {
		tlsio_mbedtls_error(err, errlen, c->client_cert, ret);
		goto fail;
	}
#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
	if (c->mfl_code != MBEDTLS_SSL_MAX_FRAG_LEN_NONE) {
		mbedtls_ssl_conf_max_frag_len(&m->conf, c->mfl_code);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
		/*
		 * mbedtls 3.6 negotiates max_fragment_length in TLS 1.2 only
		 * and rejects a TLS 1.3 server's answer to it.
		 */
		mbedtls_ssl_conf_max_tls_version(
		    &m->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
	}
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
	mbedtls_ssl_conf_session_tickets(
	    &m->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
#endif
#if defined(MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED)
	mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
	    &m->conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
	return m;
fail:
	tlsio_material_unref(m);
	return NULL;
}

static int
tlsio_mfl_code(int max_frag_len, int *code, char *err, size_t errlen)
{
	*code = MBEDTLS_SSL_MAX_FRAG_LEN_NONE;
	if (max_frag_len == 0) {
		/*
		 * A library built with small input records needs the
		 * server to send small ones.
		 */
		if (MBEDTLS_SSL_IN_CONTENT_LEN >= 16384)
			return 0;
		if (MBEDTLS_SSL_IN_CONTENT_LEN >= 4096)
			max_frag_len = 4096;
		else if (MBEDTLS_SSL_IN_CONTENT_LEN >= 2048)
			max_frag_len = 2048;
		else if (MBEDTLS_SSL_IN_CONTENT_LEN >= 1024)
			max_frag_len = 1024;
		else
			max_frag_len = 512;
	}
	switch (max_frag_len) {
	case -1:
		return 0;
	case 512:
		*code = MBEDTLS_SSL_MAX_FRAG_LEN_512;
		break;
	case 1024:
		*code = MBEDTLS_SSL_MAX_FRAG_LEN_1024;
		break;
	case 2048:
		*code = MBEDTLS_SSL_MAX_FRAG_LEN_2048;
		break;
	case 4096:
		*code = MBEDTLS_SSL_MAX_FRAG_LEN_4096;
		break;
	default:
		xerrorf(err, errlen,
		    "max_frag_len %d: not 512, 1024, 2048 or 4096",
		    max_frag_len);
		return -1;
	}
#if !defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
	xerrorf(err, errlen, "max_frag_len: not supported by this mbedtls");
	return -1;
#endif
	return 0;
}

static int
tlsio_stat_all(
    struct tlsio_config *c, struct tlsio_stamp st[3], char *err, size_t errlen)
{
	const char *path[3] = { c->ca_file, c->client_cert, c->client_key };
	int i;

	for (i = 0; i < 3; i++) {
		if (tlsio_stat(path[i], &st[i]) == -1) {
			xerrorf(
			    err, errlen, "%s: %s", path[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

struct tlsio_config *
tlsio_config_new(const struct tlsio_params *p, char *err, size_t errlen)
{
	static const char pers[] = "outpost tlsio";
	struct tlsio_config *c = xcalloc(1, sizeof *c);
	int ret;

	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->drbg);
	mbedtls_ssl_session_init(&c->session);
	c->insecure = p->insecure;
	/* Insecure checks nothing: no need to hold a CA bundle in RAM. */
	if (p->ca_file != NULL && *p->ca_file != '\0' && !p->insecure)
		c->ca_file = xstrdup(p->ca_file);
	if (p->client_cert != NULL && *p->client_cert != '\0')
		c->client_cert = xstrdup(p->client_cert);
	if (p->client_key != NULL && *p->client_key != '\0')
		c->client_key = xstrdup(p->client_key);
	if (c->ca_file == NULL && !c->insecure) {
		xerrorf(err, errlen,
		    "no CA file: verification needs one (or insecure)");
		goto fail;
	}
	if ((c->client_cert == NULL) != (c->client_key == NULL)) {
		xerrorf(err, errlen,
		    "a client certificate needs a key and a key a certificate");
		goto fail;
	}
	if (tlsio_mfl_code(p->max_frag_len, &c->mfl_code, err, errlen) == -1)
		goto fail;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
	/* TLS 1.3 and the PSA-based key handling need it once. */
	if (psa_crypto_init() != PSA_SUCCESS) {
		xerrorf(err, errlen, "PSA crypto initialisation failed");
		goto fail;
	}
#endif
	if ((ret = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func,
		 &c->entropy, (const unsigned char *)pers, sizeof pers - 1)) !=
	    0) {
		tlsio_mbedtls_error(err, errlen, "seeding the RNG", ret);
		goto fail;
	}
	if (tlsio_stat_all(c, c->stamp, err, errlen) == -1)
		goto fail;
	if ((c->mat = tlsio_material_load(c, err, errlen)) == NULL)
		goto fail;
	return c;
fail:
	tlsio_config_free(c);
	return NULL;
}

void
tlsio_config_free(struct tlsio_config *c)
{
	if (c == NULL)
		return;
	tlsio_material_unref(c->mat);
	mbedtls_ssl_session_free(&c->session);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->entropy);
	free(c->session_host);
	free(c->ca_file);
	free(c->client_cert);
	free(c->client_key);
	free(c);
}

void
tlsio_config_forget_session(struct tlsio_config *c)
{
	mbedtls_ssl_session_free(&c->session);
	mbedtls_ssl_session_init(&c->session);
	c->have_session = 0;
	free(c->session_host);
	c->session_host = NULL;
}

int
tlsio_config_refresh(struct tlsio_config *c, char *err, size_t errlen)
{
	struct tlsio_stamp st[3];
	struct tlsio_material *m;
	int i, changed = 0;

	if (tlsio_stat_all(c, st, err, errlen) == -1)
		return -1;
	for (i = 0; i < 3; i++) {
		if (!tlsio_stamp_equal(&st[i], &c->stamp[i]))
			changed = 1;
	}
	if (!changed)
		return 0;
	/*
	 * The stamps are taken before reading, so a file replaced while we
	 * read it looks changed again next time.
	 */
	if ((m = tlsio_material_load(c, err, errlen)) == NULL)
		return -1;
	tlsio_material_unref(c->mat);
	c->mat = m;
	memcpy(c->stamp, st, sizeof c->stamp);
	c->reloads++;
	/* A session from the old trust must not skip the new checks. */
	tlsio_config_forget_session(c);
	return 1;
}

long long
tlsio_config_ca_expiry(const struct tlsio_config *c)
{
	return c->mat->ca_expiry;
}

long long
tlsio_config_cert_expiry(const struct tlsio_config *c)
{
	return c->mat->cert_expiry;
}

unsigned long long
tlsio_config_reloads(const struct tlsio_config *c)
{
	return c->reloads;
}

unsigned long long
tlsio_config_handshakes(const struct tlsio_config *c)
{
	return c->handshakes;
}

unsigned long long
tlsio_config_resumptions(const struct tlsio_config *c)
{
	return c->resumptions;
}

static int
tlsio_bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct tlsio *t = arg;
	ssize_t n;

	n = send(t->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0) {
		t->bytes_out += n;
		return (int)n;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	t->io_errno = errno;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
tlsio_bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct tlsio *t = arg;
	ssize_t n;

	n = recv(t->fd, buf, len, 0);
	if (n >= 0) {
		t->bytes_in += n;
		return (int)n;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	t->io_errno = errno;
	if (errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

struct tlsio *
tlsio_new(
    struct tlsio_config *c, int fd, const char *host, char *err, size_t errlen)
{
	struct tlsio *t = xcalloc(1, sizeof *t);
	char cause[256];
	int ret;

	if (tlsio_config_refresh(c, cause, sizeof cause) == -1)
		log_warn("tls", "keeping the loaded certificates: %s", cause);
	t->cfg = c;
	t->mat = c->mat;
	t->mat->refs++;
	tlsio_ca_hold(t->mat);
	t->holds_ca = 1;
	t->fd = fd;
	t->host = xstrdup(host);
	mbedtls_ssl_init(&t->ssl);
	if ((ret = mbedtls_ssl_setup(&t->ssl, &t->mat->conf)) != 0) {
		tlsio_mbedtls_error(err, errlen, "TLS setup", ret);
		goto fail;
	}
	if ((ret = mbedtls_ssl_set_hostname(&t->ssl, host)) != 0) {
		tlsio_mbedtls_error(err, errlen, "TLS host name", ret);
		goto fail;
	}
	mbedtls_ssl_set_bio(&t->ssl, t, tlsio_bio_send, tlsio_bio_recv, NULL);
	mbedtls_ssl_set_verify(&t->ssl, tlsio_verify_cb, t);
	if (c->have_session && strcmp(c->session_host, host) == 0 &&
	    (ret = mbedtls_ssl_set_session(&t->ssl, &c->session)) != 0) {
		/* Not fatal: the handshake is simply a full one. */
		log_debug(
		    "tls", "session not offered: -0x%04x", (unsigned)-ret);
	}
	return t;
fail:
	tlsio_free(t);
	return NULL;
}

void
tlsio_free(struct tlsio *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_free(&t->ssl);
	if (t->holds_ca)
		tlsio_ca_release(t->mat);
	tlsio_material_unref(t->mat);
	free(t->host);
	free(t);
}

/* Keeps the session of this connection for the next one to offer. */
static void
tlsio_save_session(struct tlsio *t)
{
	struct tlsio_config *c = t->cfg;

	tlsio_config_forget_session(c);
	if (mbedtls_ssl_get_session(&t->ssl, &c->session) != 0) {
		mbedtls_ssl_session_free(&c->session);
		mbedtls_ssl_session_init(&c->session);
		return;
	}
	c->have_session = 1;
	c->session_host = xstrdup(t->host);
}

static int
tlsio_is_tls13(struct tlsio *t)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
	return mbedtls_ssl_get_version_number(&t->ssl) ==
	    MBEDTLS_SSL_VERSION_TLS1_3;
#else
	return 0;
#endif
}

static int
tlsio_new_ticket(int ret)
{
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
	return ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET;
#else
	return 0;
#endif
}

/*
 * Turns a failed mbedtls call into a status and one message; the caller
 * says where (handshake, read, write) and with whom.
 */
static enum tlsio_status
tlsio_fail(struct tlsio *t, int ret, char *err, size_t errlen)
{
	char info[256], *p;
	uint32_t flags;

	if (t->io_errno != 0) {
		xerrorf(err, errlen, "%s", strerror(t->io_errno));
		return TLSIO_ERROR_IO;
	}
	if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		flags = mbedtls_ssl_get_verify_result(&t->ssl);
		info[0] = '\0';
		mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
		/* One line per problem: join them. */
		for (p = info; *p != '\0'; p++) {
			if (*p == '\n')
				*p = p[1] != '\0' ? ';' : '\0';
		}
		xerrorf(err, errlen,
		    "certificate verification failed for %s: %s", t->host,
		    info);
		return TLSIO_ERROR_TLS;
	}
	if (ret == MBEDTLS_ERR_SSL_CONN_EOF) {
		xerrorf(err, errlen, "connection closed by the peer");
		return TLSIO_ERROR_TLS;
	}
	tlsio_mbedtls_error(err, errlen, NULL, ret);
	return TLSIO_ERROR_TLS;
}

enum tlsio_status
tlsio_handshake(struct tlsio *t, char *err, size_t errlen)
{
	int ret;

	t->io_errno = 0;
	for (;;) {
		ret = mbedtls_ssl_handshake(&t->ssl);
		if (ret == 0)
			break;
		if (ret == MBEDTLS_ERR_SSL_WANT_READ)
			return TLSIO_WANT_READ;
		if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
			return TLSIO_WANT_WRITE;
		if (tlsio_new_ticket(ret)) {
			tlsio_save_session(t);
			continue;
		}
		/* A refused session is not offered again. */
		tlsio_config_forget_session(t->cfg);
		return tlsio_fail(t, ret, err, errlen);
	}
	if (!t->handshake_done) {
		t->handshake_done = 1;
		/* Verified (or resumed): the CA is not needed again. */
		tlsio_ca_release(t->mat);
		t->holds_ca = 0;
		t->resumed = t->verify_calls == 0;
		t->cfg->handshakes++;
		if (t->resumed)
			t->cfg->resumptions++;
		/* TLS 1.3 sessions arrive later, as tickets. */
		if (!t->resumed && !tlsio_is_tls13(t))
			tlsio_save_session(t);
		if (t->cfg->insecure &&
		    mbedtls_ssl_get_verify_result(&t->ssl) != 0)
			log_debug("tls",
			    "%s: certificate not verified (insecure)", t->host);
	}
	return TLSIO_OK;
}

enum tlsio_status
tlsio_read(
    struct tlsio *t, void *buf, size_t len, size_t *n, char *err, size_t errlen)
{
	int ret;

	*n = 0;
	t->io_errno = 0;
	for (;;) {
		ret = mbedtls_ssl_read(&t->ssl, buf, len);
		if (ret > 0) {
			*n = ret;
			return TLSIO_OK;
		}
		if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
		    ret == MBEDTLS_ERR_SSL_CONN_EOF)
			return TLSIO_EOF;
		if (ret == MBEDTLS_ERR_SSL_WANT_READ)
			return TLSIO_WANT_READ;
		if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
			return TLSIO_WANT_WRITE;
		if (tlsio_new_ticket(ret)) {
			tlsio_save_session(t);
			continue;
		}
		return tlsio_fail(t, ret, err, errlen);
	}
}

enum tlsio_status
tlsio_write(struct tlsio *t, const void *buf, size_t len, size_t *n, char *err,
    size_t errlen)
{
	int ret;

	*n = 0;
	t->io_errno = 0;
	if (t->write_pending > 0)
		len = t->write_pending;
	for (;;) {
		ret = mbedtls_ssl_write(&t->ssl, buf, len);
		if (ret >= 0) {
			t->write_pending = 0;
			*n = ret;
			return TLSIO_OK;
		}
		if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
		    ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
			t->write_pending = len;
			return ret == MBEDTLS_ERR_SSL_WANT_READ
			    ? TLSIO_WANT_READ
			    : TLSIO_WANT_WRITE;
		}
		if (tlsio_new_ticket(ret)) {
			tlsio_save_session(t);
			continue;
		}
		return tlsio_fail(t, ret, err, errlen);
	}
}

size_t
tlsio_pending(const struct tlsio *t)
{
	return mbedtls_ssl_get_bytes_avail(&t->ssl);
}

void
tlsio_close_notify(struct tlsio *t)
{
	if (t->handshake_done)
		(void)mbedtls_ssl_close_notify(&t->ssl);
}

int
tlsio_resumed(const struct tlsio *t)
{
	return t->resumed;
}

const char *
tlsio_version(const struct tlsio *t)
{
	return mbedtls_ssl_get_version(&t->ssl);
}

const char *
tlsio_ciphersuite(const struct tlsio *t)
{
	return mbedtls_ssl_get_ciphersuite(&t->ssl);
}

void
tlsio_bytes(const struct tlsio *t, uint64_t *in, uint64_t *out)
{
	if (in != NULL)
		*in = t->bytes_in;
	if (out != NULL)
		*out = t->bytes_out;
}
