/*
 * The file adapter: follows the lines appended to a file (tail), across
 * rotation and truncation, keeping its position in the store in the same
 * transaction as the readings before it; or reads a small file every
 * interval (sample: sysfs, 1-wire). Value parsing is payload's.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/inotify.h>
#define FILE_HAVE_INOTIFY 1
#endif

#include <event2/event.h>

#include "adapter.h"
#include "json_out.h"
#include "log.h"
#include "payload.h"
#include "xmalloc.h"

#define FILE_CHUNK (64 * 1024) /* bytes read per loop turn */
#define FILE_HEAD_MAX 64       /* leading bytes that identify a file */
#define FILE_MAX_READINGS 64   /* per line */
#define FILE_BAD_LOG_S 60.0    /* one bad-line warning per window */

enum file_mode {
	FILE_TAIL,
	FILE_SAMPLE,
};

static const char *const file_mode_names[] = { "tail", "sample", NULL };
/* In the order of enum payload_format. */
static const char *const file_format_names[] = { "number", "json", "influx",
	"csv", NULL };
static const char *const file_from_names[] = { "end", "start", NULL };

struct file {
	/* Configuration. */
	char *path;
	char *dir;  /* the directory of path, watched for re-creation */
	char *base; /* the last component of path */
	enum file_mode mode;
	int from_start; /* tail, no stored position: start at 0 */
	double poll_interval_s;
	size_t max_line; /* bytes, without the newline */
	char *value_path;
	char *ts_path;
	struct payload_opts popts;
	char key[PIPELINE_OFFSET_KEY_MAX]; /* "file:<device>" */

	struct payload *payload;
	double last_ts; /* keeps stamps of one source distinct */

	/* Tail: the open file and how far it is handed over. */
	int fd;
	dev_t dev;
	ino_t ino;
	off_t off;	/* start of the next line not yet handed over */
	unsigned skip;	/* readings of the line at off already handed over */
	off_t bufoff;	/* file offset of buf[0] */
	char *buf;	/* a partial line, then what was read */
	size_t have;	/* bytes in buf */
	size_t cap;	/* FILE_CHUNK + max_line + 1 */
	int skipping;	/* discarding an over-long line up to its newline */
	int rotated;	/* path names another file: drain this one first */
	int missing;	/* path could not be opened (reported once) */
	size_t headlen; /* bytes hashed at the start of the file */
	uint64_t headhash;
	char saved[PIPELINE_OFFSET_VALUE_MAX]; /* the last position set */
	unsigned long long lines;	       /* lines handed over */
	unsigned long long bad_lines;
	unsigned long long blank_lines;
	double bad_logged;	      /* monotonic s of the last warning */
	unsigned long long bad_quiet; /* bad lines not logged since */
	unsigned long long samples;   /* sample: readings taken */

	/* Events. */
	int ifd;     /* inotify, or -1: poll */
	int wd_dir;  /* watch on dir */
	int wd_file; /* watch on the open file */
	int wd_next; /* watch on the file path names during a rotation */
	struct event *ev_inotify;
	struct event *ev_poll;	/* poll_interval (tail) or interval (sample) */
	struct event *ev_step;	/* next loop turn: more to read */
	struct event *ev_retry; /* after the pipeline refused a reading */
};

/* One line being decoded: where its readings go. */
struct file_line_ctx {
	struct adapter *a;
	unsigned idx;	    /* readings handed out so far */
	unsigned skip;	    /* the first skip of them were handed over before */
	int refused;	    /* the pipeline said no: stop, retry later */
	unsigned nonfinite; /* values dropped as not finite */
};

static void file_tail_step(struct adapter *);
static void file_poll_arm(struct adapter *);

static double
file_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* FNV-1a: enough to notice that a file now starts differently. */
static uint64_t
file_hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int
file_key_line(const struct cfg_device *dev, const char *key)
{
	const struct toml_value *v = toml_get(dev->table, key);

	return v != NULL && v->line > 0 ? v->line : dev->line;
}

/* A key that means nothing in this configuration is an error, not noise. */
static int
file_check_unused(struct config *cfg, const struct cfg_device *dev,
    const char *key, int present, int applies, const char *when)
{
	if (!present || applies)
		return 0;
	cfg_error(cfg, file_key_line(dev, key),
	    "[[device]] %s: '%s' applies only %s", dev->name, key, when);
	return -1;
}

static int
file_configure(struct adapter *a, struct config *cfg,
    const struct cfg_device *dev, char **cause)
{
	struct file *f = xcalloc(1, sizeof *f);
	struct toml_table *t = dev->table;
	char *path, *value_path, *ts_path, *sep, *slash;
	long long column, max_line;
	int mode, format, from, bad = 0;
	int has_vp, has_ts, has_col, has_sep, has_from, has_poll;

	a->priv = f;
	f->fd = f->ifd = f->wd_dir = f->wd_file = f->wd_next = -1;
	/* Presence first: the readers write defaults into the tree. */
	has_vp = cfg_has(t, "value_path");
	has_ts = cfg_has(t, "ts_path");
	has_col = cfg_has(t, "column");
	has_sep = cfg_has(t, "separator");
	has_from = cfg_has(t, "from");
	has_poll = cfg_has(t, "poll_interval");

	bad |= cfg_get_string(cfg, t, "path", "", &path);
	bad |= cfg_get_enum(cfg, t, "mode", file_mode_names, FILE_TAIL, &mode);
	bad |= cfg_get_enum(
	    cfg, t, "format", file_format_names, PAYLOAD_NUMBER, &format);
	bad |= cfg_get_string(cfg, t, "value_path", "", &value_path);
	bad |= cfg_get_string(cfg, t, "ts_path", "", &ts_path);
	bad |= cfg_get_int(cfg, t, "column", 1, 1, 4096, &column);
	bad |= cfg_get_string(cfg, t, "separator", ",", &sep);
	bad |= cfg_get_double(
	    cfg, t, "scale", 1.0, -1e300, 1e300, &f->popts.scale);
	bad |= cfg_get_double(
	    cfg, t, "offset", 0.0, -1e300, 1e300, &f->popts.offset);
	bad |= cfg_get_enum(cfg, t, "from", file_from_names, 0, &from);
	bad |= cfg_get_double(
	    cfg, t, "poll_interval", 1.0, 0.001, 86400, &f->poll_interval_s);
	bad |=
	    cfg_get_int(cfg, t, "max_line_bytes", 4096, 16, 1048576, &max_line);
	if (bad != 0)
		return -1;

	if (path == NULL || *path == '\0') {
		cfg_error(cfg, dev->line, "[[device]] %s: 'path' is required",
		    dev->name);
		return -1;
	}
	if (*path != '/' || path[strlen(path) - 1] == '/') {
		cfg_error(cfg, file_key_line(dev, "path"),
		    "[[device]] %s: path must be an absolute file name: '%s'",
		    dev->name, path);
		return -1;
	}
	if (f->popts.scale == 0) {
		cfg_error(cfg, file_key_line(dev, "scale"),
		    "[[device]] %s: scale must not be 0", dev->name);
		return -1;
	}
	f->mode = (enum file_mode)mode;
	f->popts.format = (enum payload_format)format;
	bad |= file_check_unused(cfg, dev, "value_path", has_vp,
	    f->popts.format == PAYLOAD_JSON, "to format = \"json\"");
	bad |= file_check_unused(cfg, dev, "ts_path", has_ts,
	    f->popts.format == PAYLOAD_JSON, "to format = \"json\"");
	bad |= file_check_unused(cfg, dev, "column", has_col,
	    f->popts.format == PAYLOAD_CSV, "to format = \"csv\"");
	bad |= file_check_unused(cfg, dev, "separator", has_sep,
	    f->popts.format == PAYLOAD_CSV, "to format = \"csv\"");
	bad |= file_check_unused(cfg, dev, "from", has_from,
	    f->mode == FILE_TAIL, "to mode = \"tail\"");
	bad |= file_check_unused(cfg, dev, "poll_interval", has_poll,
	    f->mode == FILE_TAIL, "to mode = \"tail\"");
	if (strlen(sep) != 1) {
		cfg_error(cfg, file_key_line(dev, "separator"),
		    "[[device]] %s: separator must be one character: '%s'",
		    dev->name, sep);
		bad = -1;
	}
	if (has_vp && *value_path != '$') {
		cfg_error(cfg, file_key_line(dev, "value_path"),
		    "[[device]] %s: value_path must be a JSON path "
		    "starting with '$': '%s'",
		    dev->name, value_path);
		bad = -1;
	}
	if (has_ts && *ts_path != '$') {
		cfg_error(cfg, file_key_line(dev, "ts_path"),
		    "[[device]] %s: ts_path must be a JSON path "
		    "starting with '$': '%s'",
		    dev->name, ts_path);
		bad = -1;
	}
	if (strlen(dev->name) + sizeof "file:" > sizeof f->key) {
		xasprintf(cause, "device name too long for a file position");
		bad = -1;
	}
	if (bad != 0)
		return -1;

	f->path = xstrdup(path);
	f->dir = xstrdup(path);
	slash = strrchr(f->dir, '/');
	f->base = xstrdup(slash + 1);
	if (slash == f->dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	f->from_start = from == 1;
	f->max_line = (size_t)max_line;
	f->value_path = *value_path != '\0' ? xstrdup(value_path) : NULL;
	f->ts_path = *ts_path != '\0' ? xstrdup(ts_path) : NULL;
	f->popts.value_path = f->value_path;
	f->popts.ts_path = f->ts_path;
	f->popts.csv_column = (int)column;
	f->popts.csv_separator = *sep;
	f->popts.max_readings = FILE_MAX_READINGS;
	snprintf(f->key, sizeof f->key, "file:%s", dev->name);
	return 0;
}

/*
 * Counts a line that will never parse. Its text goes to last_error every
 * time, to the log once per window (a file of garbage must not flood
 * syslog), with the count of the quiet ones.
 */
static void
file_bad_line(struct adapter *a, const char *why)
{
	struct file *f = a->priv;
	double now = file_monotonic();

	f->bad_lines++;
	if (f->bad_logged > 0 && now - f->bad_logged < FILE_BAD_LOG_S) {
		a->errors++;
		snprintf(a->last_error, sizeof a->last_error,
		    "bad line skipped: %s", why);
		f->bad_quiet++;
		return;
	}
	if (f->bad_quiet > 0)
		adapter_error(a, "bad line skipped: %s (and %llu more before)",
		    why, f->bad_quiet);
	else
		adapter_error(a, "bad line skipped: %s", why);
	f->bad_logged = now;
	f->bad_quiet = 0;
}

/* Stamps of one source strictly increase: equal stamps, equal ids. */
static double
file_stamp(struct file *f)
{
	double now = adapter_now();

	if (now <= f->last_ts)
		now = nextafter(f->last_ts, INFINITY);
	f->last_ts = now;
	return now;
}

static int
file_reading_cb(void *arg, struct reading *r)
{
	struct file_line_ctx *ctx = arg;
	struct adapter *a = ctx->a;
	struct file *f = a->priv;

	if (ctx->idx < ctx->skip) {
		ctx->idx++;
		return 0;
	}
	if (!isfinite(r->value)) {
		ctx->nonfinite++;
		ctx->idx++;
		return 0;
	}
	if (r->ts == 0) {
		r->ts = file_stamp(f);
		r->ts_local = 1; /* our clock: corrected if not trusted */
	}
	if (adapter_submit(a, r, NULL, NULL) == -1) {
		/* The retry hands it over again. */
		ctx->refused = 1;
		return -1;
	}
	ctx->idx++;
	return 0;
}

/*
 * Decodes one line (without its newline) and hands its readings over;
 * -1 when the pipeline refused one (f->skip then counts those of the line
 * already handed over). A bad line is counted and dropped: it never parses.
 */
static int
file_line(struct adapter *a, char *line, size_t len)
{
	struct file *f = a->priv;
	struct file_line_ctx ctx;
	char err[128], why[160];
	long n;

	/* Before trimming: the limit must not depend on how reads split. */
	if (len > f->max_line) {
		snprintf(why, sizeof why, "longer than max_line_bytes (%zu)",
		    f->max_line);
		file_bad_line(a, why);
		return 0;
	}
	while (len > 0 &&
	    (line[len - 1] == '\r' || line[len - 1] == ' ' ||
		line[len - 1] == '\t'))
		len--;
	if (len == 0) {
		f->blank_lines++;
		return 0;
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.a = a;
	ctx.skip = f->skip;
	err[0] = '\0';
	n = payload_decode(f->payload, &f->popts, line, len, file_reading_cb,
	    &ctx, err, sizeof err);
	if (ctx.refused) {
		f->skip = ctx.idx;
		return -1;
	}
	if (n <= 0) {
		snprintf(
		    why, sizeof why, "%s", n == 0 ? "no reading in it" : err);
		file_bad_line(a, why);
		return 0;
	}
	if (ctx.nonfinite > 0) {
		file_bad_line(a, "value is not a finite number");
		if ((unsigned)n == ctx.nonfinite)
			return 0;
	}
	f->lines++;
	return 0;
}

/* Forgets the position in the open file: read it again from its start. */
static void
file_tail_rewind(struct file *f)
{
	f->off = 0;
	f->bufoff = 0;
	f->have = 0;
	f->skip = 0;
	f->skipping = 0;
	f->headlen = 0;
	f->headhash = 0;
}

/* Hash of the first len bytes of fd, or -1 if fewer can be read. */
static int
file_head(int fd, size_t len, uint64_t *out)
{
	char head[FILE_HEAD_MAX];
	ssize_t n;

	if (len > sizeof head)
		len = sizeof head;
	do
		n = pread(fd, head, len, 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)len)
		return -1;
	*out = file_hash(head, len);
	return 0;
}

/*
 * Records the position for the next start. Called after the readings of
 * every line before f->off were submitted, so the pipeline commits it in
 * the transaction holding them, or a later one.
 */
static void
file_tail_save(struct adapter *a)
{
	struct file *f = a->priv;
	char value[PIPELINE_OFFSET_VALUE_MAX];
	size_t want;

	if (f->fd == -1)
		return;
	want = f->off < FILE_HEAD_MAX ? (size_t)f->off : FILE_HEAD_MAX;
	if (want > f->headlen && file_head(f->fd, want, &f->headhash) == 0)
		f->headlen = want;
	snprintf(value, sizeof value, "%ju:%jd:%u:%zu:%016" PRIx64,
	    (uintmax_t)f->ino, (intmax_t)f->off, f->skip, f->headlen,
	    f->headhash);
	if (strcmp(value, f->saved) == 0)
		return;
	if (pipeline_src_set_offset(a->src, f->key, value) == -1) {
		/* Kept behind: the lines after the old one come again. */
		adapter_error(a, "position not saved (store failing)");
		return;
	}
	xstrlcpy(f->saved, value, sizeof f->saved);
}

#ifdef FILE_HAVE_INOTIFY
/* Watches the open file itself, not whatever path names by now. */
static int
file_watch_fd(struct file *f, int fd)
{
	char proc[64];
	uint32_t mask = IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB |
	    IN_CLOSE_WRITE;
	int wd;

	if (f->ifd == -1)
		return -1;
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	if ((wd = inotify_add_watch(f->ifd, proc, mask)) == -1)
		wd = inotify_add_watch(f->ifd, f->path, mask);
	return wd;
}

static void
file_unwatch(struct file *f, int *wd)
{
	if (*wd != -1 && f->ifd != -1)
		inotify_rm_watch(f->ifd, *wd);
	*wd = -1;
}
#else
static int
file_watch_fd(struct file *f, int fd)
{
	return -1;
}

static void
file_unwatch(struct file *f, int *wd)
{
	*wd = -1;
}
#endif

static void
file_tail_close(struct file *f)
{
	file_unwatch(f, &f->wd_file);
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	f->rotated = 0;
	f->saved[0] = '\0';
}

/* Opens name (path, or a rotated file found by inode); -1 with errno. */
static int
file_tail_attach(struct adapter *a, const char *name)
{
	struct file *f = a->priv;
	struct stat st;
	int fd, wd;

	if ((fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if ((wd = file_watch_fd(f, fd)) == -1 && f->ifd != -1) {
		/* The directory alone does not tell of appends. */
		log_info(a->name, "%s: no watch on the file, polling", name);
		file_poll_arm(a);
	}
	if (f->wd_next != -1 && f->wd_next != wd)
		file_unwatch(f, &f->wd_next);
	f->wd_next = -1;
	if (f->wd_file != -1 && f->wd_file != wd)
		file_unwatch(f, &f->wd_file);
	f->wd_file = wd;
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->rotated = 0;
	f->saved[0] = '\0';
	return 0;
}

/* Reports path missing once; the directory watch or the poll brings it. */
static void
file_tail_missing(struct adapter *a, int err)
{
	struct file *f = a->priv;

	if (f->missing)
		return;
	f->missing = 1;
	adapter_error(a, "%s: %s", f->path,
	    err == EINVAL ? "not a regular file" : strerror(err));
	adapter_set_state(a, ADAPTER_ERROR);
}

static void
file_tail_found(struct adapter *a)
{
	struct file *f = a->priv;

	if (a->state == ADAPTER_ERROR)
		adapter_set_state(a, ADAPTER_CONNECTING);
	if (f->missing)
		log_info(a->name, "%s: following again", f->path);
	f->missing = 0;
	adapter_set_state(a, ADAPTER_CONNECTED);
}

/*
 * "from = end": after the last newline, so the line being written now is
 * read whole once its newline comes.
 */
static void
file_tail_seek_end(struct file *f)
{
	struct stat st;
	off_t start;
	ssize_t n;

	file_tail_rewind(f);
	if (fstat(f->fd, &st) == -1 || st.st_size == 0)
		return;
	start = st.st_size > (off_t)(f->max_line + 1)
	    ? st.st_size - (off_t)(f->max_line + 1)
	    : 0;
	do
		n = pread(f->fd, f->buf, (size_t)(st.st_size - start), start);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return;
	while (n > 0 && f->buf[n - 1] != '\n')
		n--;
	if (n > 0)
		f->off = start + n;
	else if (start == 0)
		f->off = 0;
	else {
		/* Inside a line too long to keep: skip to its end. */
		f->off = st.st_size;
		f->skipping = 1;
	}
	f->bufoff = f->off;
}

/* Orders two files by their last write. */
static int
file_mtime_cmp(const struct stat *a, const struct stat *b)
{
	if (a->st_mtim.tv_sec != b->st_mtim.tv_sec)
		return a->st_mtim.tv_sec < b->st_mtim.tv_sec ? -1 : 1;
	if (a->st_mtim.tv_nsec != b->st_mtim.tv_nsec)
		return a->st_mtim.tv_nsec < b->st_mtim.tv_nsec ? -1 : 1;
	return 0;
}

/* Finds the file with inode ino in the directory (a rotated one). */
static char *
file_find_inode(struct file *f, uintmax_t ino)
{
	struct dirent *de;
	struct stat st;
	char *found = NULL;
	DIR *d;

	if ((d = opendir(f->dir)) == NULL)
		return NULL;
	while (found == NULL && (de = readdir(d)) != NULL) {
		if ((uintmax_t)de->d_ino != ino)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			0 &&
		    S_ISREG(st.st_mode) && (uintmax_t)st.st_ino == ino)
			xasprintf(&found, "%s/%s",
			    strcmp(f->dir, "/") == 0 ? "" : f->dir, de->d_name);
	}
	closedir(d);
	return found;
}

/*
 * Resumes from a stored position "<inode>:<offset>:<skip>:<headlen>:<hash>":
 * in path if it is still that file, else in the rotated file of that inode
 * in the same directory, drained before path is read from its start.
 * Returns 0 resumed, 1 nothing to resume (open path afresh), -1 path is
 * missing.
 */
static int
file_tail_resume(struct adapter *a, const char *value)
{
	struct file *f = a->priv;
	uintmax_t ino;
	intmax_t off;
	unsigned skip;
	size_t headlen;
	uint64_t hash, now;
	struct stat st;
	char *name = NULL;
	int rc = 1, end;

	if (sscanf(value, "%ju:%jd:%u:%zu:%" SCNx64 "%n", &ino, &off, &skip,
		&headlen, &hash, &end) != 5 ||
	    value[end] != '\0' || off < 0 || headlen > FILE_HEAD_MAX) {
		log_warn(a->name,
		    "stored position '%s' not understood: "
		    "starting afresh",
		    value);
		return 1;
	}
	if (stat(f->path, &st) == 0 && (uintmax_t)st.st_ino == ino)
		name = xstrdup(f->path);
	else if ((name = file_find_inode(f, ino)) == NULL) {
		log_warn(a->name,
		    "the file read before (inode %ju) is gone: lines "
		    "written to it after offset %jd were not read",
		    ino, off);
		return 1;
	}
	if (file_tail_attach(a, name) == -1)
		goto out;
	if (fstat(f->fd, &st) == -1 || st.st_size < (off_t)off ||
	    (headlen > 0 &&
		(file_head(f->fd, headlen, &now) == -1 || now != hash))) {
		if (strcmp(name, f->path) != 0) {
			/* Another file that got the inode: not ours. */
			log_warn(a->name,
			    "the file read before (inode %ju) is gone: lines "
			    "written to it after offset %jd were not read",
			    ino, off);
			file_tail_close(f);
			goto out;
		}
		log_info(a->name,
		    "%s changed while stopped: reading it "
		    "from the start",
		    name);
		file_tail_rewind(f);
		rc = 0;
		goto out;
	}
	file_tail_rewind(f);
	f->off = f->bufoff = (off_t)off;
	f->skip = skip;
	f->headlen = headlen;
	f->headhash = hash;
	if (strcmp(name, f->path) != 0) {
		log_info(
		    a->name, "draining rotated %s from offset %jd", name, off);
		f->rotated = 1;
	}
	rc = 0;
out:
	free(name);
	return rc;
}

/* The first open: the stored position, else from = end | start. */
static int
file_tail_open_first(struct adapter *a)
{
	struct file *f = a->priv;
	char value[PIPELINE_OFFSET_VALUE_MAX];
	int rc;

	rc = pipeline_src_get_offset(a->src, f->key, value, sizeof value);
	if (rc == -1) {
		adapter_error(a, "stored position unreadable");
		return -1;
	}
	if (rc == 0 && file_tail_resume(a, value) == 0) {
		file_tail_found(a);
		return 0;
	}
	if (file_tail_attach(a, f->path) == -1) {
		/* Whatever appears at path later is new: read it whole. */
		file_tail_missing(a, errno);
		return 0;
	}
	/* After a known position, path holds only lines not read yet. */
	if (f->from_start || rc == 0)
		file_tail_rewind(f);
	else
		file_tail_seek_end(f);
	file_tail_found(a);
	file_tail_save(a);
	return 0;
}

/* Opens path from its start: after a rotation, or once it appears. */
static int
file_tail_open_next(struct adapter *a)
{
	struct file *f = a->priv;

	if (file_tail_attach(a, f->path) == -1) {
		file_tail_missing(a, errno);
		return -1;
	}
	file_tail_rewind(f);
	file_tail_found(a);
	file_tail_save(a);
	return 0;
}

/*
 * Notices truncation (shorter than what was read, or different first
 * bytes: copytruncate and a new start) and rotation (path names another
 * file). Returns -1 if the file cannot be examined.
 */
static int
file_tail_check(struct adapter *a)
{
	struct file *f = a->priv;
	struct stat st;
	uint64_t now;

	if (fstat(f->fd, &st) == -1) {
		adapter_error(a, "%s: %s", f->path, strerror(errno));
		return -1;
	}
	if (st.st_size < f->bufoff + (off_t)f->have || st.st_size < f->off ||
	    (f->headlen > 0 &&
		(file_head(f->fd, f->headlen, &now) == -1 ||
		    now != f->headhash))) {
		log_info(a->name,
		    "%s truncated at %jd: reading it from the "
		    "start",
		    f->path, (intmax_t)f->off);
		file_tail_rewind(f);
	}
	if (stat(f->path, &st) == 0 && st.st_ino == f->ino &&
	    st.st_dev == f->dev) {
		f->rotated = 0;
		return 0;
	}
	if (!f->rotated) {
		log_info(a->name, "%s rotated: finishing the old file first",
		    f->path);
		f->rotated = 1;
	}
#ifdef FILE_HAVE_INOTIFY
	/* The new file's first write must wake us too. */
	if (f->wd_next == -1 && f->ifd != -1)
		f->wd_next = inotify_add_watch(
		    f->ifd, f->path, IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB);
#endif
	return 0;
}

/*
 * Hands over every complete line in buf and keeps the partial one; -1 when
 * the pipeline refused a reading (that line stays in buf, first).
 */
static int
file_tail_scan(struct adapter *a)
{
	struct file *f = a->priv;
	char *p = f->buf, *end = f->buf + f->have, *nl;
	size_t used;
	int rc = 0;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (f->skipping)
			f->skipping = 0;
		else if (file_line(a, p, (size_t)(nl - p)) == -1) {
			rc = -1;
			break;
		}
		p = nl + 1;
		f->off = f->bufoff + (p - f->buf);
		f->skip = 0;
	}
	used = (size_t)(p - f->buf);
	if (rc == 0 && f->skipping)
		used = f->have;
	else if (rc == 0 && f->have - used > f->max_line) {
		/* No newline can make it short enough: drop it as it comes. */
		char why[64];

		snprintf(why, sizeof why, "longer than max_line_bytes (%zu)",
		    f->max_line);
		file_bad_line(a, why);
		f->skipping = 1;
		used = f->have;
	}
	memmove(f->buf, f->buf + used, f->have - used);
	f->have -= used;
	f->bufoff += (off_t)used;
	return rc;
}

static void
file_tail_kick(struct file *f)
{
	struct timeval tv = { 0, 0 };

	if (f->ev_step != NULL && !evtimer_pending(f->ev_step, NULL))
		evtimer_add(f->ev_step, &tv);
}

/* The pipeline refused (the store is failing): keep the line, retry. */
static void
file_tail_refused(struct adapter *a)
{
	struct file *f = a->priv;
	struct timeval tv;

	adapter_error(a, "reading refused (store failing): retrying");
	adapter_set_state(a, ADAPTER_ERROR);
	tv.tv_sec = (time_t)f->poll_interval_s;
	tv.tv_usec =
	    (suseconds_t)((f->poll_interval_s - (double)tv.tv_sec) * 1e6);
	evtimer_add(f->ev_retry, &tv);
}

/*
 * The file rotated out after drained, if path was rotated more than once
 * before we got to it (while stopped, or behind a fast writer): the
 * oldest of the other regular files named "<base>.*" or "<base>-*", not
 * compressed, last written after drained was. NULL: none, go on to path.
 */
static char *
file_find_next_rotated(struct file *f, const struct stat *drained)
{
	static const char *const packed[] = { ".gz", ".bz2", ".xz", ".zst",
		".lz4", ".zip" };
	struct stat st, cur, best;
	struct dirent *de;
	size_t blen = strlen(f->base), nlen, i;
	char *found = NULL;
	DIR *d;

	memset(&best, 0, sizeof best);
	if (stat(f->path, &cur) == -1)
		memset(&cur, 0, sizeof cur);
	if ((d = opendir(f->dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		nlen = strlen(de->d_name);
		if (nlen <= blen + 1 ||
		    strncmp(de->d_name, f->base, blen) != 0 ||
		    (de->d_name[blen] != '.' && de->d_name[blen] != '-'))
			continue;
		for (i = 0; i < sizeof packed / sizeof *packed; i++)
			if (nlen > strlen(packed[i]) &&
			    strcmp(de->d_name + nlen - strlen(packed[i]),
				packed[i]) == 0)
				break;
		if (i < sizeof packed / sizeof *packed)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			-1 ||
		    !S_ISREG(st.st_mode) || st.st_ino == drained->st_ino ||
		    st.st_ino == cur.st_ino || st.st_size == 0)
			continue;
		if (file_mtime_cmp(&st, drained) <= 0)
			continue; /* older: read before, or not ours */
		if (found != NULL && file_mtime_cmp(&st, &best) >= 0)
			continue;
		free(found);
		xasprintf(&found, "%s/%s",
		    strcmp(f->dir, "/") == 0 ? "" : f->dir, de->d_name);
		best = st;
	}
	closedir(d);
	return found;
}

/*
 * The old file is drained; move to what path names now, if it has data
 * (a writer that still appends to the old file has not reopened yet; a
 * single writer appends to the new file only after its last old write).
 */
static int
file_tail_switch(struct adapter *a)
{
	struct file *f = a->priv;
	struct stat st, drained;
	char *next;
	int rc;

	if (stat(f->path, &st) == -1 || st.st_size == 0)
		return 0;
	/* A last line without a newline: its writer is done with it. */
	if (f->have > 0 && !f->skipping) {
		if (file_line(a, f->buf, f->have) == -1) {
			file_tail_refused(a);
			return -1;
		}
	}
	log_info(a->name, "%s: rotated file done at %jd, following the new one",
	    f->path, (intmax_t)(f->bufoff + (off_t)f->have));
	if (fstat(f->fd, &drained) == -1)
		memset(&drained, 0, sizeof drained);
	file_tail_close(f);
	if ((next = file_find_next_rotated(f, &drained)) != NULL) {
		rc = file_tail_attach(a, next);
		if (rc == 0) {
			log_info(a->name,
			    "draining %s, rotated out in between, first", next);
			file_tail_rewind(f);
			f->rotated = 1;
			file_tail_save(a);
		}
		free(next);
		if (rc == 0) {
			file_tail_kick(f);
			return 0;
		}
	}
	if (file_tail_open_next(a) == -1)
		return -1;
	file_tail_kick(f);
	return 0;
}

/* Reads at most FILE_CHUNK bytes and hands over the lines in them. */
static void
file_tail_step(struct adapter *a)
{
	struct file *f = a->priv;
	size_t budget = FILE_CHUNK, want;
	ssize_t n;
	int eof = 0;

	if (f->ev_retry != NULL && evtimer_pending(f->ev_retry, NULL))
		return;
	if (f->fd == -1) {
		if (file_tail_open_next(a) == -1)
			return;
	}
	if (file_tail_check(a) == -1)
		return;
	for (;;) {
		if (file_tail_scan(a) == -1) {
			file_tail_refused(a);
			goto save;
		}
		if (budget == 0)
			break;
		want = f->cap - f->have < budget ? f->cap - f->have : budget;
		n = pread(
		    f->fd, f->buf + f->have, want, f->bufoff + (off_t)f->have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			adapter_error(a, "%s: %s", f->path, strerror(errno));
			adapter_set_state(a, ADAPTER_ERROR);
			goto save;
		}
		if (n == 0) {
			eof = 1;
			break;
		}
		f->have += (size_t)n;
		budget -= (size_t)n;
	}
	if (a->state != ADAPTER_CONNECTED)
		file_tail_found(a);
	if (!eof)
		file_tail_kick(f);
	else if (f->rotated)
		file_tail_switch(a);
save:
	file_tail_save(a);
}

static void
file_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct adapter *a = arg;
	struct file *f = a->priv;

	if (f->mode == FILE_TAIL)
		file_tail_step(a);
}

#ifdef FILE_HAVE_INOTIFY
/* Anything about our file or its name: look again. */
static void
file_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct adapter *a = arg;
	struct file *f = a->priv;
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;
	int wake = 0, lost_dir = 0;

	while ((n = read(f->ifd, buf, sizeof buf)) > 0) {
		for (p = buf; p < buf + n; p += sizeof *ev + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				wake = 1;
			else if (ev->wd == f->wd_dir) {
				if (ev->mask & IN_IGNORED) {
					f->wd_dir = -1;
					lost_dir = 1;
				} else if (ev->len > 0 &&
				    strcmp(ev->name, f->base) == 0)
					wake = 1;
			} else {
				if ((ev->mask & IN_IGNORED) &&
				    ev->wd == f->wd_file)
					f->wd_file = -1;
				if ((ev->mask & IN_IGNORED) &&
				    ev->wd == f->wd_next)
					f->wd_next = -1;
				wake = 1;
			}
		}
	}
	if (lost_dir) {
		log_warn(a->name, "%s: directory watch lost, polling", f->dir);
		file_poll_arm(a);
	}
	if (wake || lost_dir)
		file_tail_step(a);
}
#endif

static void
file_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct adapter *a = arg;

	file_tail_step(a);
}

static void
file_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct adapter *a = arg;

	file_tail_step(a);
}

static int
file_timer_add(struct event *ev, double s)
{
	struct timeval tv;

	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return evtimer_add(ev, &tv);
}

static void
file_poll_arm(struct adapter *a)
{
	struct file *f = a->priv;

	if (f->ev_poll == NULL)
		f->ev_poll =
		    event_new(a->base, -1, EV_PERSIST, file_poll_cb, a);
	if (f->ev_poll != NULL && !evtimer_pending(f->ev_poll, NULL))
		file_timer_add(f->ev_poll, f->poll_interval_s);
}

/* inotify on the directory (re-creation) and the file; else a timer. */
static void
file_tail_watch(struct adapter *a)
{
	struct file *f = a->priv;

#ifdef FILE_HAVE_INOTIFY
	f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->ifd != -1)
		f->wd_dir = inotify_add_watch(f->ifd, f->dir,
		    IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM |
			IN_ONLYDIR);
	if (f->ifd != -1 && f->wd_dir != -1) {
		f->ev_inotify = event_new(
		    a->base, f->ifd, EV_READ | EV_PERSIST, file_inotify_cb, a);
		if (f->ev_inotify != NULL &&
		    event_add(f->ev_inotify, NULL) == 0) {
			log_debug(a->name, "watching %s with inotify", f->path);
			return;
		}
	}
	if (f->ifd != -1)
		close(f->ifd);
	f->ifd = -1;
	f->wd_dir = -1;
#endif
	log_info(
	    a->name, "polling %s every %.3f s", f->path, f->poll_interval_s);
	file_poll_arm(a);
}

static int
file_tail_start(struct adapter *a)
{
	struct file *f = a->priv;

	f->cap = FILE_CHUNK + f->max_line + 1;
	f->buf = xmalloc(f->cap);
	f->ev_step = evtimer_new(a->base, file_step_cb, a);
	f->ev_retry = evtimer_new(a->base, file_retry_cb, a);
	if (f->ev_step == NULL || f->ev_retry == NULL)
		return -1;
	adapter_set_state(a, ADAPTER_CONNECTING);
	file_tail_watch(a);
	if (file_tail_open_first(a) == -1)
		return -1;
	file_tail_kick(f);
	return 0;
}

/* Reads the whole (small) file and submits what it holds. */
static void
file_sample(struct adapter *a)
{
	struct file *f = a->priv;
	struct file_line_ctx ctx;
	char err[128];
	size_t len = 0;
	ssize_t n;
	long got;
	int fd;

	if ((fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		adapter_error(a, "%s: %s", f->path, strerror(errno));
		goto fail;
	}
	for (;;) {
		n = read(fd, f->buf + len, f->cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == f->cap)
			break;
	}
	if (n == -1) {
		adapter_error(a, "%s: %s", f->path, strerror(errno));
		close(fd);
		goto fail;
	}
	close(fd);
	while (len > 0 &&
	    (f->buf[len - 1] == '\n' || f->buf[len - 1] == '\r' ||
		f->buf[len - 1] == ' ' || f->buf[len - 1] == '\t'))
		len--;
	if (len > f->max_line) {
		adapter_error(a, "%s: more than max_line_bytes (%zu)", f->path,
		    f->max_line);
		goto fail;
	}
	if (len == 0) {
		adapter_error(a, "%s: empty", f->path);
		goto fail;
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.a = a;
	err[0] = '\0';
	got = payload_decode(f->payload, &f->popts, f->buf, len,
	    file_reading_cb, &ctx, err, sizeof err);
	if (ctx.refused) {
		adapter_error(a, "reading refused (store failing)");
		goto fail;
	}
	if (got <= 0 || (unsigned)got == ctx.nonfinite) {
		adapter_error(a, "%s: %s", f->path,
		    got == -1 ? err : "no finite value in it");
		goto fail;
	}
	f->samples++;
	if (a->state == ADAPTER_ERROR)
		adapter_set_state(a, ADAPTER_CONNECTING);
	adapter_set_state(a, ADAPTER_CONNECTED);
	return;
fail:
	adapter_set_state(a, ADAPTER_ERROR);
}

static void
file_sample_cb(evutil_socket_t fd, short what, void *arg)
{
	file_sample(arg);
}

static int
file_sample_start(struct adapter *a)
{
	struct file *f = a->priv;
	struct timeval tv = { 0, 0 };

	/* Room for max_line_bytes and one more, to tell "too big". */
	f->cap = f->max_line + 1;
	f->buf = xmalloc(f->cap);
	f->ev_poll = event_new(a->base, -1, EV_PERSIST, file_sample_cb, a);
	f->ev_step = evtimer_new(a->base, file_sample_cb, a);
	if (f->ev_poll == NULL || f->ev_step == NULL)
		return -1;
	if (file_timer_add(f->ev_poll, a->dev->interval_s) == -1)
		return -1;
	/* The first sample now, not one interval late. */
	return evtimer_add(f->ev_step, &tv);
}

static int
file_start(struct adapter *a)
{
	struct file *f = a->priv;

	if (f->payload == NULL)
		f->payload = payload_new();
	if (f->mode == FILE_SAMPLE)
		return file_sample_start(a);
	return file_tail_start(a);
}

static void
file_event_free(struct event **ev)
{
	if (*ev != NULL)
		event_free(*ev);
	*ev = NULL;
}

static void
file_stop(struct adapter *a)
{
	struct file *f = a->priv;

	if (f == NULL)
		return;
	/* The position already set commits with the readings before it. */
	file_event_free(&f->ev_inotify);
	file_event_free(&f->ev_poll);
	file_event_free(&f->ev_step);
	file_event_free(&f->ev_retry);
	file_tail_close(f);
	file_unwatch(f, &f->wd_next);
	file_unwatch(f, &f->wd_dir);
	if (f->ifd != -1)
		close(f->ifd);
	f->ifd = -1;
}

static void
file_free(struct adapter *a)
{
	struct file *f = a->priv;

	if (f == NULL)
		return;
	file_stop(a);
	payload_free(f->payload);
	free(f->buf);
	free(f->path);
	free(f->dir);
	free(f->base);
	free(f->value_path);
	free(f->ts_path);
	free(f);
	a->priv = NULL;
}

static void
file_status(const struct adapter *a, struct json_out *j)
{
	const struct file *f = a->priv;

	json_out_string(j, "path", f->path);
	json_out_string(j, "mode", file_mode_names[f->mode]);
	json_out_string(j, "format", file_format_names[f->popts.format]);
	if (f->mode == FILE_SAMPLE) {
		json_out_double(j, "interval_s", a->dev->interval_s);
		json_out_int(j, "samples", (long long)f->samples);
		json_out_int(j, "errors", (long long)a->errors);
		return;
	}
	json_out_string(j, "watch", f->ifd != -1 ? "inotify" : "poll");
	json_out_int(j, "offset", (long long)f->off);
	if (f->fd != -1)
		json_out_int(j, "inode", (long long)f->ino);
	else
		json_out_null(j, "inode");
	json_out_bool(j, "rotated", f->rotated);
	json_out_int(j, "lines", (long long)f->lines);
	json_out_int(j, "bad_lines", (long long)f->bad_lines);
	json_out_int(j, "blank_lines", (long long)f->blank_lines);
	json_out_int(j, "errors", (long long)a->errors);
}

const struct adapter_ops adapter_file_ops = {
	.type = "file",
	.configure = file_configure,
	.start = file_start,
	.stop = file_stop,
	.free = file_free,
	.status = file_status,
};
