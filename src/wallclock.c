/*
 * The wall clock without an RTC. Many devices boot at 1970 or at the time
 * of the last shutdown until NTP steps the clock. Readings our clock stamps
 * before it is trusted are stored with synced = 0 and an id over boot id
 * and monotonic time; once it is trusted, their ts becomes
 * wall_now - (mono_now - mono_ns), which holds within one boot only.
 * The queue itself never looks at ts (it is ordered by seq), and libevent
 * times its timers on CLOCK_MONOTONIC, so clock steps reorder nothing.
 */
#include <sys/timex.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "json_out.h"
#include "log.h"
#include "store.h"
#include "wallclock.h"
#include "xmalloc.h"

#define WALLCLOCK_BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define WALLCLOCK_META_BOOT "boot_id" /* boot of the last start */

enum wallclock_stmt {
	WALLCLOCK_SPAN,
	WALLCLOCK_CORRECT,
	WALLCLOCK_FLAG,
	WALLCLOCK_WAITING_ANY,
	WALLCLOCK_NSTMT,
};

/*
 * Every statement reads the partial index readings_unsynced (synced = 0),
 * so their cost is the number of waiting rows, not the table's.
 */
static const char *const wallclock_sql[WALLCLOCK_NSTMT] = {
	/* How far the correction moves the rows, for the audit. */
	[WALLCLOCK_SPAN] =
	    ("SELECT count(*), min(?1 - (?2 - mono_ns) / 1e9 - ts), "
	     "max(?1 - (?2 - mono_ns) / 1e9 - ts) FROM readings "
	     "WHERE synced = 0 AND mono_ns IS NOT NULL AND "
	     "mono_ns <= ?2"),
	[WALLCLOCK_CORRECT] =
	    ("UPDATE readings SET ts = ?1 - (?2 - mono_ns) / "
	     "1e9, synced = 1 WHERE synced = 0 AND mono_ns IS "
	     "NOT NULL AND mono_ns <= ?2"),
	/*
	 * Rows of an earlier boot, and after a correction those left over
	 * (no monotonic time, or one from the future): uncorrectable.
	 */
	[WALLCLOCK_FLAG] =
	    ("UPDATE readings SET synced = 2, meta = CASE WHEN meta IS NULL "
	     "THEN '{\"clock\":\"unsynced\"}' WHEN json_valid(meta) THEN "
	     "json_set(meta, '$.clock', 'unsynced') ELSE meta END "
	     "WHERE synced = 0"),
	[WALLCLOCK_WAITING_ANY] = ("SELECT EXISTS (SELECT 1 FROM readings "
				   "WHERE synced = 0)"),
};

struct wallclock {
	struct store *store;
	sqlite3 *db;
	struct wallclock_opts opts;
	struct wallclock_source src;
	sqlite3_stmt *stmt[WALLCLOCK_NSTMT];
	char boot_id[WALLCLOCK_BOOT_ID_MAX];
	int recovered;	      /* rows of older boots flagged */
	int synced_once;      /* adjtimex said synchronised (sticky) */
	int trusted;	      /* cached for the reading path */
	int pending;	      /* stored rows may wait for a correction */
	int logged_untrusted; /* once per untrusted spell */
	struct event *timer;
	struct wallclock_stats stats;
};

static double
wallclock_sys_wall(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
wallclock_sys_mono_ns(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* adjtimex with no modes only reads; TIME_ERROR means unsynchronised. */
static int
wallclock_sys_kernel_synced(void *arg)
{
	struct timex tx;
	int rc;

	memset(&tx, 0, sizeof tx);
	rc = adjtimex(&tx);
	return rc != -1 && rc != TIME_ERROR && !(tx.status & STA_UNSYNC);
}

static double
wallclock_wall(const struct wallclock *c)
{
	return c->src.wall(c->src.arg);
}

static uint64_t
wallclock_mono_ns(const struct wallclock *c)
{
	return c->src.mono_ns(c->src.arg);
}

/*
 * Without /proc a random id still keeps this boot's monotonic ids apart
 * from another boot's; a restart then treats earlier rows as another
 * boot's (uncorrectable), which loses nothing.
 */
static void
wallclock_read_boot_id(char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];
	ssize_t n;
	size_t i;
	int fd;

	if ((fd = open(WALLCLOCK_BOOT_ID_PATH, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, len - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			if (buf[0] != '\0')
				return;
		}
	}
	memset(rnd, 0, sizeof rnd);
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) != -1) {
		if (read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd)
			log_warn("clock", "/dev/urandom: short read");
		close(fd);
	}
	for (i = 0; i < sizeof rnd && 2 * i + 2 < len; i++) {
		buf[2 * i] = hex[rnd[i] >> 4];
		buf[2 * i + 1] = hex[rnd[i] & 0xf];
		buf[2 * i + 2] = '\0';
	}
	log_warn("clock", "%s unreadable: using boot id %s for this run",
	    WALLCLOCK_BOOT_ID_PATH, buf);
}

static int
wallclock_step(struct wallclock *c, enum wallclock_stmt i)
{
	sqlite3_stmt *s = c->stmt[i];
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_error("clock", "%s", sqlite3_errmsg(c->db));
		return -1;
	}
	return 0;
}

static int
wallclock_any_waiting(struct wallclock *c)
{
	sqlite3_stmt *s = c->stmt[WALLCLOCK_WAITING_ANY];
	int n = -1;

	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	else
		log_error("clock", "%s", sqlite3_errmsg(c->db));
	sqlite3_reset(s);
	return n;
}

/*
 * Once per boot: rows an earlier boot stamped before its clock was trusted
 * can no longer be corrected (its monotonic clock is gone). They are kept
 * and uploaded as stamped, flagged in their meta, rather than dropped.
 */
static int
wallclock_recover(struct wallclock *c)
{
	char last[WALLCLOCK_BOOT_ID_MAX];
	struct json_out j;
	long long n = 0;
	int rc;

	rc = store_meta_get(c->store, WALLCLOCK_META_BOOT, last, sizeof last);
	if (rc == -1)
		return -1;
	if (rc == 0 && strcmp(last, c->boot_id) == 0)
		goto waiting;
	if (store_begin(c->store) == -1)
		return -1;
	if (wallclock_step(c, WALLCLOCK_FLAG) == -1)
		goto fail;
	n = sqlite3_changes(c->db);
	if (store_meta_set(c->store, WALLCLOCK_META_BOOT, c->boot_id) == -1)
		goto fail;
	if (n > 0) {
		json_out_init(&j);
		json_out_object_begin(&j, NULL);
		json_out_string(&j, "previous_boot_id", rc == 0 ? last : "");
		json_out_int(&j, "rows", n);
		json_out_object_end(&j);
		rc = store_audit(c->store, "clock_uncorrectable", j.buf);
		json_out_free(&j);
		if (rc == -1)
			goto fail;
	}
	if (store_commit(c->store) == -1)
		return -1;
	c->stats.uncorrectable += (unsigned long long)n;
	if (n > 0)
		log_warn("clock",
		    "%lld readings of an earlier boot were stamped before its "
		    "clock was trusted: kept uncorrected, flagged "
		    "\"clock\":\"unsynced\"",
		    n);
waiting:
	/* This boot's rows a crash or stop left waiting for a fix. */
	if ((rc = wallclock_any_waiting(c)) == -1)
		return -1;
	if (rc == 1) {
		c->pending = 1;
		c->stats.pending = 1;
	}
	c->recovered = 1;
	return 0;
fail:
	store_rollback(c->store);
	return -1;
}

/* The stored rows of this boot, in one transaction with its audit. */
static int
wallclock_correct(struct wallclock *c)
{
	sqlite3_stmt *s;
	struct json_out j;
	double now = wallclock_wall(c), min_shift = 0, max_shift = 0;
	uint64_t mono = wallclock_mono_ns(c);
	long long n = 0, orphans = 0;
	int i, rv = -1;

	json_out_init(&j);
	if (store_begin(c->store) == -1)
		goto out;
	s = c->stmt[WALLCLOCK_SPAN];
	sqlite3_bind_double(s, 1, now);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)mono);
	if (sqlite3_step(s) == SQLITE_ROW) {
		n = sqlite3_column_int64(s, 0);
		min_shift = sqlite3_column_double(s, 1);
		max_shift = sqlite3_column_double(s, 2);
	}
	sqlite3_reset(s);
	for (i = WALLCLOCK_CORRECT; i <= WALLCLOCK_FLAG; i++) {
		s = c->stmt[i];
		if (i == WALLCLOCK_CORRECT) {
			sqlite3_bind_double(s, 1, now);
			sqlite3_bind_int64(s, 2, (sqlite3_int64)mono);
		}
		if (wallclock_step(c, i) == -1)
			goto fail;
		if (i == WALLCLOCK_CORRECT)
			n = sqlite3_changes(c->db);
		else
			orphans = sqlite3_changes(c->db);
	}
	if (n + orphans > 0) {
		json_out_object_begin(&j, NULL);
		json_out_string(&j, "boot_id", c->boot_id);
		json_out_int(&j, "rows", n);
		json_out_double(&j, "min_shift_s", min_shift);
		json_out_double(&j, "max_shift_s", max_shift);
		json_out_int(&j, "uncorrectable", orphans);
		json_out_object_end(&j);
		if (store_audit(c->store, "clock_corrected", j.buf) == -1)
			goto fail;
	}
	if (store_commit(c->store) == -1)
		goto out;
	c->pending = 0;
	c->stats.pending = 0;
	c->stats.corrected += (unsigned long long)n;
	c->stats.uncorrectable += (unsigned long long)orphans;
	if (n + orphans > 0)
		log_info("clock",
		    "clock trusted: %lld readings of this boot corrected "
		    "(shifted by %.3f to %.3f s)%s",
		    n, min_shift, max_shift,
		    orphans > 0 ? "; some had no monotonic time" : "");
	rv = 0;
	goto out;
fail:
	store_rollback(c->store);
out:
	json_out_free(&j);
	return rv;
}

/* Trust as configured: the epoch, and adjtimex if asked (sticky). */
static int
wallclock_evaluate(struct wallclock *c)
{
	if (wallclock_wall(c) < c->opts.trusted_after_ts)
		return 0;
	if (!c->opts.require_sync)
		return 1;
	if (!c->synced_once && c->src.kernel_synced(c->src.arg))
		c->synced_once = 1;
	return c->synced_once;
}

static void
wallclock_set_trusted(struct wallclock *c, int trusted)
{
	if (trusted == c->trusted)
		return;
	c->trusted = trusted;
	c->stats.trusted = trusted;
	c->stats.trusted_since = wallclock_wall(c);
	if (trusted) {
		log_info("clock", "wall clock trusted (%.3f)",
		    c->stats.trusted_since);
		c->logged_untrusted = 0;
		return;
	}
	c->pending = 1;
	c->stats.pending = 1;
	if (!c->logged_untrusted) {
		log_warn("clock",
		    "wall clock not trusted yet (%.3f; trusted after %.0f%s): "
		    "readings are stamped unsynced and their upload waits",
		    c->stats.trusted_since, c->opts.trusted_after_ts,
		    c->opts.require_sync ? " and kernel synchronisation" : "");
		c->logged_untrusted = 1;
	}
}

int
wallclock_check(struct wallclock *c)
{
	if (!c->recovered && wallclock_recover(c) == -1)
		return c->trusted;
	wallclock_set_trusted(c, wallclock_evaluate(c));
	if (c->trusted && c->pending)
		wallclock_correct(c);
	return c->trusted;
}

static void
wallclock_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	wallclock_check(arg);
}

struct wallclock *
wallclock_new(struct store *st, const struct wallclock_opts *opts,
    const struct wallclock_source *src, const char *boot_id)
{
	struct wallclock *c = xcalloc(1, sizeof *c);
	int i;

	c->store = st;
	c->db = store_db(st);
	c->opts = *opts;
	if (src != NULL)
		c->src = *src;
	if (c->src.wall == NULL)
		c->src.wall = wallclock_sys_wall;
	if (c->src.mono_ns == NULL)
		c->src.mono_ns = wallclock_sys_mono_ns;
	if (c->src.kernel_synced == NULL)
		c->src.kernel_synced = wallclock_sys_kernel_synced;
	if (boot_id != NULL)
		xstrlcpy(c->boot_id, boot_id, sizeof c->boot_id);
	else
		wallclock_read_boot_id(c->boot_id, sizeof c->boot_id);
	for (i = 0; i < WALLCLOCK_NSTMT; i++) {
		if (sqlite3_prepare_v3(c->db, wallclock_sql[i], -1,
			SQLITE_PREPARE_PERSISTENT, &c->stmt[i],
			NULL) != SQLITE_OK) {
			/* Our SQL against our schema: failing is a bug. */
			log_error("clock", "prepare: %s: %s",
			    sqlite3_errmsg(c->db), wallclock_sql[i]);
			abort();
		}
	}
	/* Unknown until evaluated: start as trusted so that the first
	 * check logs a distrust. */
	c->trusted = 1;
	c->stats.trusted = 1;
	c->stats.trusted_since = wallclock_wall(c);
	wallclock_check(c);
	return c;
}

void
wallclock_free(struct wallclock *c)
{
	int i;

	if (c == NULL)
		return;
	if (c->timer != NULL)
		event_free(c->timer);
	for (i = 0; i < WALLCLOCK_NSTMT; i++)
		sqlite3_finalize(c->stmt[i]);
	free(c);
}

void
wallclock_set_opts(struct wallclock *c, const struct wallclock_opts *opts)
{
	struct timeval tv;

	c->opts = *opts;
	if (c->timer != NULL) {
		tv.tv_sec = (time_t)c->opts.check_interval_s;
		tv.tv_usec = (suseconds_t)((c->opts.check_interval_s -
					       (double)tv.tv_sec) *
		    1e6);
		evtimer_add(c->timer, &tv);
	}
	wallclock_check(c);
}

int
wallclock_start(struct wallclock *c, struct event_base *base)
{
	struct timeval tv;

	if (c->timer == NULL)
		c->timer =
		    event_new(base, -1, EV_PERSIST, wallclock_timer_cb, c);
	if (c->timer == NULL)
		return -1;
	tv.tv_sec = (time_t)c->opts.check_interval_s;
	tv.tv_usec =
	    (suseconds_t)((c->opts.check_interval_s - (double)tv.tv_sec) * 1e6);
	return evtimer_add(c->timer, &tv);
}

int
wallclock_trusted(const struct wallclock *c)
{
	return c->trusted;
}

int
wallclock_pending(const struct wallclock *c)
{
	return c->pending;
}

const char *
wallclock_boot_id(const struct wallclock *c)
{
	return c->boot_id;
}

void
wallclock_stats(const struct wallclock *c, struct wallclock_stats *out)
{
	*out = c->stats;
}

void
wallclock_stamp(struct wallclock *c, struct reading *r)
{
	r->unsynced = 0;
	if (!r->ts_local)
		return;
	if (c->trusted && r->ts >= c->opts.trusted_after_ts)
		return;
	r->unsynced = 1;
	c->stats.stamped_unsynced++;
	/* The rows this one joins wait for a correction. */
	c->pending = 1;
	c->stats.pending = 1;
}

void
wallclock_fix(const struct wallclock *c, struct reading *r)
{
	double now;
	uint64_t mono;

	if (!r->unsynced || !c->trusted)
		return;
	now = wallclock_wall(c);
	mono = wallclock_mono_ns(c);
	if (now < c->opts.trusted_after_ts || r->mono_ns == 0 ||
	    r->mono_ns > mono)
		return;
	r->ts = now - (double)(mono - r->mono_ns) / 1e9;
	r->unsynced = 0;
}

int
wallclock_parse_time(const char *s, double *out)
{
	struct tm tm;
	const char *end;
	char *e;
	double v;

	if (*s == '\0')
		return -1;
	errno = 0;
	v = strtod(s, &e);
	if (*e == '\0' && errno == 0 && isfinite(v) && v >= 0) {
		*out = v;
		return 0;
	}
	memset(&tm, 0, sizeof tm);
	if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return -1;
	if (*end == 'T' || *end == ' ') {
		if ((end = strptime(end + 1, "%H:%M:%S", &tm)) == NULL)
			return -1;
		if (*end == 'Z')
			end++;
	}
	if (*end != '\0')
		return -1;
	*out = (double)timegm(&tm);
	return 0;
}
