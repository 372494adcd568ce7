/*
 * TLS client over a non-blocking socket with mbedtls. A tlsio_config holds
 * the trust anchors, the optional client certificate, the RNG and the last
 * session (for resumption); a tlsio is one connection. Every step returns
 * WANT_READ/WANT_WRITE instead of blocking, so the caller waits on the
 * socket with libevent and calls the same step again. The caller owns the
 * socket, its events and its timeouts.
 *
 * RAM per connection, heap held after the handshake (printed by
 * test_http_client's test_tlsio_direct, P-256 certificates): about 40 KiB
 * with Debian's mbedtls 2.28 (TLS 1.2) and 45 KiB with mbedtls 3.6
 * (TLS 1.3). Most of it is the two record buffers, 16 KiB + ~350 bytes
 * each with the default MBEDTLS_SSL_IN_CONTENT_LEN/OUT_CONTENT_LEN; the
 * rest is the context, the session and the kept peer certificate. Once
 * per config: the CA certificates as DER (about 1 KiB each), parsed only
 * while a handshake needs them (Debian's system bundle: 153 KB held, 255
 * KiB more during a handshake). A device build that sets both content
 * lengths to 4096 saves about 24 KiB per connection; the client then asks
 * the server for 4 KiB records (max_fragment_length, TLS 1.2) so the
 * smaller input buffer is enough.
 */
#ifndef OUTPOST_TLSIO_H
#define OUTPOST_TLSIO_H

#include <stddef.h>
#include <stdint.h>

enum tlsio_status {
	TLSIO_OK,	  /* done, or *n bytes moved */
	TLSIO_WANT_READ,  /* call again once the socket is readable */
	TLSIO_WANT_WRITE, /* call again once the socket is writable */
	TLSIO_EOF,	  /* the peer closed the connection */
	TLSIO_ERROR_TLS,  /* alert, verification or protocol failure */
	TLSIO_ERROR_IO,	  /* the socket failed (reset, ...) */
};

struct tlsio_params {
	/* PEM bundle; required, and only read, unless insecure. */
	const char *ca_file;
	const char *client_cert; /* PEM, optional (mTLS), with client_key */
	const char *client_key;	 /* PEM, unencrypted */
	int insecure;		 /* skip certificate and host checks */
	/*
	 * Largest record asked of the server: 512, 1024, 2048 or 4096; 0
	 * picks from the library's buffer size (none at 16 KiB); -1 never
	 * asks.
	 */
	int max_frag_len;
};

struct tlsio_config;
struct tlsio;

/* Loads the files; NULL with err filled on failure. */
struct tlsio_config *
tlsio_config_new(const struct tlsio_params *, char *err, size_t errlen);
/* Frees the config; every tlsio made from it must be freed first. */
void tlsio_config_free(struct tlsio_config *);
/*
 * Re-reads the CA, certificate and key if any of their files changed
 * (mtime, size or inode). 1: reloaded, 0: nothing changed, -1: the new
 * files are unusable (err says why) and the old ones stay in use.
 * tlsio_new() calls it, so rotation takes effect on the next connection.
 */
int tlsio_config_refresh(struct tlsio_config *, char *err, size_t errlen);
/* Unix seconds of the earliest not-after in ca_file; -1 when none. */
long long tlsio_config_ca_expiry(const struct tlsio_config *);
/* Unix seconds of the client certificate's not-after; -1 when none. */
long long tlsio_config_cert_expiry(const struct tlsio_config *);
unsigned long long tlsio_config_reloads(const struct tlsio_config *);
unsigned long long tlsio_config_handshakes(const struct tlsio_config *);
unsigned long long tlsio_config_resumptions(const struct tlsio_config *);
/* Drops the kept session: the next handshake is a full one. */
void tlsio_config_forget_session(struct tlsio_config *);

/*
 * A TLS client on the connected non-blocking socket fd (borrowed: the
 * caller closes it after tlsio_free). host is checked against the server
 * certificate and sent as SNI. Offers the config's last session when it
 * was made with the same host.
 */
struct tlsio *tlsio_new(
    struct tlsio_config *, int fd, const char *host, char *err, size_t errlen);
void tlsio_free(struct tlsio *);

enum tlsio_status tlsio_handshake(struct tlsio *, char *err, size_t errlen);
enum tlsio_status tlsio_read(
    struct tlsio *, void *buf, size_t len, size_t *n, char *err, size_t errlen);
/*
 * After WANT_READ/WANT_WRITE, call again with the same buf and len: mbedtls
 * may already have taken part of the record.
 */
enum tlsio_status tlsio_write(struct tlsio *, const void *buf, size_t len,
    size_t *n, char *err, size_t errlen);
/* Decrypted bytes already buffered: read them before waiting again. */
size_t tlsio_pending(const struct tlsio *);
/* Sends close_notify once, without waiting. */
void tlsio_close_notify(struct tlsio *);

/* The handshake resumed a kept session (no certificate was exchanged). */
int tlsio_resumed(const struct tlsio *);
const char *tlsio_version(const struct tlsio *);
const char *tlsio_ciphersuite(const struct tlsio *);
/* Bytes on the socket, records and handshake included. */
void tlsio_bytes(const struct tlsio *, uint64_t *in, uint64_t *out);

#endif
