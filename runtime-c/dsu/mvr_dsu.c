/* mvr_dsu.c: the handoff library (see mvr_dsu.h for the protocol and docs/handoff.md). */
#include "mvr_dsu.h"
#include "mvr_agent_api.h"
#include "../include/mvr_abi.h" /* environment names and MVR_FD_BASE, shared with mvrc */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* Descriptor passing (common/mvr_fdpass.c) and the protocol's percent-encoding (common/mvr_pct.c)
 * have one implementation each, shared with the agent and the monitor. This library is compiled into the user's program from this one file (examples/kv,
 * test fixtures: no runtime object to link), so it takes the common source in directly and gives
 * it its system calls through libc (common/mvr_sys.h). */
#include "../common/mvr_fdpass.c"
#include "../common/mvr_pct.c" /* the protocol fields' percent-encoding, shared with the monitor */

#define IMAGE_MAGIC "MVRDSU\r\n"
#define IMAGE_FORMAT 1u
#define NAME_MAX_LEN 255u
#define MAX_KEEP 16    /* descriptors the program may hand to the new version */
#define MAX_CHILDREN 8 /* handoff children watched at once (the new versions live on) */
#define REQ_MAX 65536  /* longest request line */
#define MSG_LEN 512
#define MAX_PASSED 4   /* descriptors sent with one request */
#define MAX_REQ_ENV 64 /* env=K=V settings of one request */

long mvr_sys_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t r = sendmsg(fd, msg, flags);
	return r < 0 ? -errno : r;
}

long mvr_sys_recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t r = recvmsg(fd, msg, flags);
	return r < 0 ? -errno : r;
}

void mvr_sys_close(int fd)
{
	close(fd);
}

/* ---- errors: one convention: -1 and a message in g.err ---- */

static struct {
	const char *program;
	uint32_t version;
	mvr_dsu_save_fn save;
	mvr_dsu_load_fn load;
	void *app;
	int ctl; /* control channel, -1 if none */
	int ep;  /* internal epoll over ctl and the children's pidfds, -1 when inert */
	uint64_t points;
	int keep[MAX_KEEP];
	size_t nkeep;
	struct {
		pid_t pid;
		int pidfd;
	} child[MAX_CHILDREN];
	size_t nchild;
	bool poll_children; /* pidfd_open is unavailable: waitpid at every update point */
	char req[REQ_MAX];
	size_t reqlen;
	bool discarding;        /* skipping the rest of an over-long request line */
	int passed[MAX_PASSED]; /* descriptors received with the next request (SCM_RIGHTS) */
	size_t npassed;
	const mvr_agent_api *agent; /* the mvrc agent, when this process runs under it */
	bool followed;              /* a handoff follower that reached its first update point */
	char err[MSG_LEN];
} g = {.ctl = -1, .ep = -1};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g.err, sizeof g.err, fmt, ap);
	va_end(ap);
	return -1;
}

const char *mvr_dsu_error(void)
{
	return g.err;
}

/* ---- reports: one line, written without blocking (a controller that does not read must never
 * stall the server; such a controller loses reports) ---- */

static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int fd, const char *fmt, ...)
{
	if (fd < 0)
		return;
	char line[MSG_LEN * 3 + 128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	ssize_t w = send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w < 0 && errno == ENOTSOCK)
		w = write(fd, line, (size_t)n);
	(void)w;
}

/* Percent-encodes `s` so that it is one protocol field. */
static const char *encode(const char *s, char *out, size_t cap)
{
	mvr_pct_encode(out, cap, s);
	return out;
}

static void report_failed(int fd, const char *stage, const char *msg)
{
	char enc[MSG_LEN * 3 + 1];
	report(fd, "failed pid=%d stage=%s error=%s", (int)getpid(), stage, encode(msg, enc, sizeof enc));
}

/* ---- little helpers ---- */

static int parse_fd(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < 0 || v > INT_MAX)
		return -1;
	if (fcntl((int)v, F_GETFD) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* Reads and removes an fd-valued environment variable: 0 if unset, 1 if set (in *fd), -1 if bad. */
static int take_env_fd(const char *name, int *fd)
{
	const char *v = getenv(name);
	if (!v)
		return 0;
	int rc = parse_fd(v, fd) < 0 ? fail("%s=%s is not an open file descriptor", name, v) : 1;
	unsetenv(name);
	return rc;
}

/* ---- under the mvrc agent (mvr_agent_api.h): the library's own calls are the runtime's, never
 * recorded or compared; requests are announced in shared memory, so an update point makes no
 * system call; the fork is the agent's handoff fork ---- */

static const mvr_agent_api *find_agent(void)
{
	const mvr_agent_api *a = (const mvr_agent_api *)dlsym(RTLD_DEFAULT, "mvr_agent");
	return a && a->version == MVR_AGENT_API_VERSION && a->active() ? a : NULL;
}

static void own_calls(bool on)
{
	if (g.agent)
		g.agent->passthrough(on);
}

int mvr_dsu_following(void)
{
	return g.agent && g.agent->following();
}

static int set_cloexec(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC)) < 0)
		return fail("fcntl(fd %d): %s", fd, strerror(errno));
	return 0;
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

static void le32(unsigned char *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static void le64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

/* ---- writer: buffered writes into the image file, checksum computed on the way ---- */

struct mvr_dsu_writer {
	int fd;
	bool failed;
	uint64_t total; /* payload bytes written */
	uint64_t hash;
	size_t len;
	unsigned char buf[1 << 16];
	char err[MSG_LEN];
};

void mvr_dsu_writer_fail(mvr_dsu_writer *w, const char *fmt, ...)
{
	if (w->failed)
		return;
	w->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof w->err, fmt, ap);
	va_end(ap);
}

static void writer_flush(mvr_dsu_writer *w)
{
	size_t off = 0;
	while (!w->failed && off < w->len) {
		ssize_t n = write(w->fd, w->buf + off, w->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			mvr_dsu_writer_fail(w, "writing the state image: %s", n < 0 ? strerror(errno) : "short write");
		else
			off += (size_t)n;
	}
	w->len = 0;
}

static void writer_append(mvr_dsu_writer *w, const void *p, size_t n)
{
	const unsigned char *b = p;
	w->hash = fnv1a(w->hash, b, n);
	w->total += n;
	while (n > 0 && !w->failed) {
		if (w->len == sizeof w->buf)
			writer_flush(w);
		size_t k = sizeof w->buf - w->len;
		if (k > n)
			k = n;
		memcpy(w->buf + w->len, b, k);
		w->len += k;
		b += k;
		n -= k;
	}
}

void mvr_dsu_put_u32(mvr_dsu_writer *w, uint32_t v)
{
	unsigned char b[4];
	le32(b, v);
	if (!w->failed)
		writer_append(w, b, sizeof b);
}

void mvr_dsu_put_u64(mvr_dsu_writer *w, uint64_t v)
{
	unsigned char b[8];
	le64(b, v);
	if (!w->failed)
		writer_append(w, b, sizeof b);
}

void mvr_dsu_put_bytes(mvr_dsu_writer *w, const void *p, size_t n)
{
	mvr_dsu_put_u64(w, n);
	if (!w->failed && n > 0)
		writer_append(w, p, n);
}

/* ---- reader: a bounds-checked cursor over bytes in memory ---- */

struct mvr_dsu_reader {
	const unsigned char *p;
	size_t len, off;
	bool failed;
	char err[MSG_LEN];
};

void mvr_dsu_reader_fail(mvr_dsu_reader *r, const char *fmt, ...)
{
	if (r->failed)
		return;
	r->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
}

int mvr_dsu_reader_ok(const mvr_dsu_reader *r)
{
	return !r->failed;
}

size_t mvr_dsu_reader_left(const mvr_dsu_reader *r)
{
	return r->failed ? 0 : r->len - r->off;
}

/* The next n bytes, or NULL (sticky failure) when fewer are left. */
static const unsigned char *take(mvr_dsu_reader *r, uint64_t n, const char *what)
{
	if (r->failed)
		return NULL;
	if (n > r->len - r->off) {
		mvr_dsu_reader_fail(r, "truncated image: %s needs %llu bytes at offset %zu, %zu left", what,
				    (unsigned long long)n, r->off, r->len - r->off);
		return NULL;
	}
	const unsigned char *p = r->p + r->off;
	r->off += (size_t)n;
	return p;
}

static uint32_t rd32(const unsigned char *b)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static uint64_t rd64(const unsigned char *b)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

uint32_t mvr_dsu_get_u32(mvr_dsu_reader *r)
{
	const unsigned char *b = take(r, 4, "a u32");
	return b ? rd32(b) : 0;
}

uint64_t mvr_dsu_get_u64(mvr_dsu_reader *r)
{
	const unsigned char *b = take(r, 8, "a u64");
	return b ? rd64(b) : 0;
}

const void *mvr_dsu_get_bytes(mvr_dsu_reader *r, size_t *n)
{
	*n = 0;
	uint64_t len = mvr_dsu_get_u64(r);
	const unsigned char *b = take(r, len, "a byte string");
	if (b)
		*n = (size_t)len;
	return b;
}

uint64_t mvr_dsu_get_count(mvr_dsu_reader *r, size_t min_each)
{
	uint64_t n = mvr_dsu_get_u64(r);
	if (r->failed)
		return 0;
	size_t left = r->len - r->off;
	if (min_each > 0 && n > left / min_each) {
		mvr_dsu_reader_fail(
			r,
			"corrupt image: a count of %llu items of at least %zu bytes each at offset %zu, but only %zu bytes left",
			(unsigned long long)n, min_each, r->off - 8, left);
		return 0;
	}
	return n;
}

/* ---- loading (the new version, in mvr_dsu_init) ---- */

#define HEADER_FIXED (8 + 4 + 4 + 4 + 8 + 8 + 8) /* without the program name */

/* Reads the whole image from fd into memory (closing fd), verifies its header and checksum, and
 * runs load_fn over the payload. 0 on success, -1 with g.err set. */
static int load_image(int fd, uint64_t *bytes, int64_t *entries, uint32_t *from)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return fail("cannot stat the state image (fd %d): %s", fd, strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail("the state image (fd %d) is not a memfd or regular file", fd);
	}
	if (st.st_size < HEADER_FIXED + 1) {
		close(fd);
		return fail("truncated image: %lld bytes, shorter than any header", (long long)st.st_size);
	}
	if ((uint64_t)st.st_size > SIZE_MAX / 2) {
		close(fd);
		return fail("the state image is too large (%lld bytes)", (long long)st.st_size);
	}
	size_t size = (size_t)st.st_size;
	unsigned char *buf = malloc(size);
	if (!buf) {
		close(fd);
		return fail("out of memory reading the state image (%zu bytes)", size);
	}
	size_t got = 0;
	int read_errno = 0;
	while (got < size) {
		ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			read_errno = n < 0 ? errno : 0;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	int rc = -1;
	if (got < size) {
		fail("cannot read the state image: %s",
		     read_errno ? strerror(read_errno) : "it shrank while being read");
		goto out;
	}

	mvr_dsu_reader hr = {.p = buf, .len = size};
	const unsigned char *magic = take(&hr, 8, "the magic");
	if (!magic || memcmp(magic, IMAGE_MAGIC, 8) != 0) {
		fail("not a state image (bad magic)");
		goto out;
	}
	uint32_t format = mvr_dsu_get_u32(&hr);
	if (format != IMAGE_FORMAT) {
		fail("image format %u, this library reads format %u", format, IMAGE_FORMAT);
		goto out;
	}
	*from = mvr_dsu_get_u32(&hr);
	uint32_t name_len = mvr_dsu_get_u32(&hr);
	if (name_len == 0 || name_len > NAME_MAX_LEN) {
		fail("corrupt image header: program name of %u bytes", name_len);
		goto out;
	}
	const unsigned char *name = take(&hr, name_len, "the program name");
	uint64_t payload_len = mvr_dsu_get_u64(&hr);
	uint64_t nentries = mvr_dsu_get_u64(&hr);
	uint64_t sum = mvr_dsu_get_u64(&hr);
	if (!name || hr.failed) {
		fail("truncated image header (%zu bytes)", size);
		goto out;
	}
	if (strlen(g.program) != name_len || memcmp(name, g.program, name_len) != 0) {
		char enc[3 * NAME_MAX_LEN + 1], tmp[NAME_MAX_LEN + 1];
		memcpy(tmp, name, name_len);
		tmp[name_len] = '\0';
		fail("image of program '%s', this is '%s'", encode(tmp, enc, sizeof enc), g.program);
		goto out;
	}
	size_t left = hr.len - hr.off;
	if (payload_len != left) {
		fail("%s image: the header announces %llu payload bytes, the file holds %zu",
		     payload_len > left ? "truncated" : "corrupt", (unsigned long long)payload_len, left);
		goto out;
	}
	if (fnv1a(FNV_INIT, buf + hr.off, left) != sum) {
		fail("corrupt image: checksum mismatch");
		goto out;
	}
	(void)nentries; /* the writer's count: informative only, a transformation may change it */

	mvr_dsu_reader r = {.p = buf + hr.off, .len = left};
	own_calls(false); /* the program's transformation: its calls are its own */
	int64_t n = g.load(&r, g.app, *from);
	own_calls(true);
	if (r.failed) {
		fail("cannot load the state of version %u: %s", *from, r.err);
		goto out;
	}
	if (n < 0) {
		fail("cannot load the state of version %u: the load function failed", *from);
		goto out;
	}
	if (r.off != r.len) {
		fail("cannot load the state of version %u: %zu bytes left unread (image and loader disagree)", *from,
		     r.len - r.off);
		goto out;
	}
	*bytes = size;
	*entries = n;
	rc = 0;
out:
	free(buf);
	return rc;
}

/* ---- init ---- */

static int init_channels(uint32_t version);

int mvr_dsu_init(const char *program, uint32_t version, mvr_dsu_save_fn save, mvr_dsu_load_fn load, void *app)
{
	g.program = program;
	g.version = version;
	g.save = save;
	g.load = load;
	g.app = app;
	g.agent = find_agent();
	own_calls(true);
	int rc = init_channels(version);
	own_calls(false);
	return rc;
}

static int init_channels(uint32_t version)
{
	int state_fd = -1, report_fd = -1;
	int have_ctl = take_env_fd(MVR_ENV_DSU_CTL_FD, &g.ctl);
	char ctl_err[MSG_LEN] = "";
	if (have_ctl < 0) {
		memcpy(ctl_err, g.err, sizeof ctl_err);
		g.ctl = -1;
	}
	int have_state = take_env_fd(MVR_ENV_DSU_STATE_FD, &state_fd);
	int have_report = take_env_fd(MVR_ENV_DSU_REPORT_FD, &report_fd);

	if (have_state != 0) {
		uint64_t bytes = 0;
		int64_t entries = 0;
		uint32_t from = 0;
		int rc = have_state < 0 ? -1 : load_image(state_fd, &bytes, &entries, &from);
		if (have_report <= 0)
			report_fd = g.ctl; /* no (usable) requester channel: report on our own, if any */
		if (rc < 0) {
			/* A new version that cannot load must not serve with a partial state: say why, exit. */
			fprintf(stderr, "%s: dsu: error: %s\n", program_invocation_short_name, g.err);
			report_failed(report_fd, "load", g.err);
			exit(MVR_DSU_EXIT_LOAD);
		}
		report(report_fd, "loaded pid=%d version=%u from=%u bytes=%llu entries=%lld", (int)getpid(), version,
		       from, (unsigned long long)bytes, (long long)entries);
		/* The report channel belongs to the requester; this version keeps only its own control. */
		if (have_report > 0 && report_fd != g.ctl)
			close(report_fd);
	}
	if (have_ctl < 0) {
		memcpy(g.err, ctl_err, sizeof g.err);
		return -1;
	}
	if (g.ctl >= 0) {
		/* Keep the channel out of unrelated exec'd programs; a handoff child clears this. */
		if (set_cloexec(g.ctl, true) < 0)
			return -1;
		g.ep = epoll_create1(EPOLL_CLOEXEC);
		if (g.ep < 0)
			return fail("epoll_create1: %s", strerror(errno));
		if (g.agent) {
			/* Under mvrc the program's descriptor numbers are compared between versions and the
			 * leader's new ones are installed in the follower under the same numbers: the
			 * library's own descriptor lives with the runtime's, above the program's. */
			int high = fcntl(g.ep, F_DUPFD_CLOEXEC, MVR_FD_BASE);
			if (high >= 0) {
				close(g.ep);
				g.ep = high;
			}
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
		if (epoll_ctl(g.ep, EPOLL_CTL_ADD, g.ctl, &ev) < 0)
			return fail("epoll_ctl(control fd %d): %s", g.ctl, strerror(errno));
	}
	return have_state > 0 ? 1 : 0;
}

int mvr_dsu_fd(void)
{
	/* Under the agent the program must not poll it (that would be an event of its own): the
	 * monitor announces requests in shared memory and interrupts a blocking call instead. */
	return g.agent ? -1 : g.ep;
}

int mvr_dsu_keep_fd(int fd)
{
	for (size_t i = 0; i < g.nkeep; i++)
		if (g.keep[i] == fd)
			return 0;
	if (fd < 0)
		return fail("mvr_dsu_keep_fd: bad descriptor %d", fd);
	if (g.nkeep == MAX_KEEP)
		return fail("mvr_dsu_keep_fd: more than %d descriptors", MAX_KEEP);
	g.keep[g.nkeep++] = fd;
	return 0;
}

/* ---- the handoff child ---- */

static void child_fail(const char *stage, int status, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
static void child_fail(const char *stage, int status, const char *fmt, ...)
{
	char msg[MSG_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	report_failed(g.ctl, stage, msg);
	_exit(status);
}

/* A request's settings for the new version (see handle_request). */
typedef struct request {
	char **argv;
	const char *env[MAX_REQ_ENV];
	size_t nenv;
	int fd_at[MAX_PASSED]; /* fd=N: where each descriptor sent along goes */
	size_t nfd_at;
} request;

/* Runs in the forked child: writes the image and execs the new version; never returns. */
static void handoff_child(const request *rq, int sync_fd, int new_ctl)
{
	char **argv = rq->argv;
	/* Wait until the parent has reported the fork point, so that "forked" precedes our reports. */
	char c;
	while (read(sync_fd, &c, 1) < 0 && errno == EINTR)
		;
	close(sync_fd);

	int fd = memfd_create("mvr-dsu-state", MFD_CLOEXEC);
	if (fd < 0)
		child_fail("save", 126, "memfd_create: %s", strerror(errno));
	size_t name_len = strlen(g.program);
	if (name_len == 0 || name_len > NAME_MAX_LEN)
		child_fail("save", 126, "program name of %zu bytes (1..%u allowed)", name_len, NAME_MAX_LEN);
	size_t header_len = HEADER_FIXED + name_len;
	if (lseek(fd, (off_t)header_len, SEEK_SET) < 0)
		child_fail("save", 126, "lseek: %s", strerror(errno));

	static mvr_dsu_writer w; /* 64 KiB: not on the stack */
	w.fd = fd;
	w.hash = FNV_INIT;
	int64_t entries = g.save(&w, g.app);
	writer_flush(&w);
	if (w.failed)
		child_fail("save", 126, "%s", w.err);
	if (entries < 0)
		child_fail("save", 126, "the save function failed");

	unsigned char hdr[HEADER_FIXED + NAME_MAX_LEN], *h = hdr;
	memcpy(h, IMAGE_MAGIC, 8), h += 8;
	le32(h, IMAGE_FORMAT), h += 4;
	le32(h, g.version), h += 4;
	le32(h, (uint32_t)name_len), h += 4;
	memcpy(h, g.program, name_len), h += name_len;
	le64(h, w.total), h += 8;
	le64(h, (uint64_t)entries), h += 8;
	le64(h, w.hash), h += 8;
	if (pwrite(fd, hdr, header_len, 0) != (ssize_t)header_len)
		child_fail("save", 126, "writing the image header: %s", strerror(errno));

	/* What the new version inherits: the image, the requester's channel for its report, its own
	 * control channel if one was passed, and the descriptors the program asked to keep. */
	char num[3][16];
	snprintf(num[0], sizeof num[0], "%d", fd);
	snprintf(num[1], sizeof num[1], "%d", g.ctl);
	snprintf(num[2], sizeof num[2], "%d", new_ctl);
	if (set_cloexec(fd, false) < 0 || set_cloexec(g.ctl, false) < 0 ||
	    (new_ctl >= 0 && set_cloexec(new_ctl, false) < 0))
		child_fail("save", 126, "%s", g.err);
	for (size_t i = 0; i < g.nkeep; i++)
		if (set_cloexec(g.keep[i], false) < 0)
			child_fail("save", 126, "%s", g.err);
	if (setenv(MVR_ENV_DSU_STATE_FD, num[0], 1) < 0 || setenv(MVR_ENV_DSU_REPORT_FD, num[1], 1) < 0 ||
	    (new_ctl >= 0 ? setenv(MVR_ENV_DSU_CTL_FD, num[2], 1) : unsetenv(MVR_ENV_DSU_CTL_FD)) < 0)
		child_fail("save", 126, "setenv: %s", strerror(errno));
	/* fd=N: the descriptors sent along are placed at the numbers asked for (first moved above
	 * them all, so that one never lands on another before it is placed). */
	int top = 0;
	for (size_t i = 0; i < rq->nfd_at; i++)
		top = rq->fd_at[i] > top ? rq->fd_at[i] : top;
	int moved[MAX_PASSED];
	for (size_t i = 0; i < rq->nfd_at; i++) {
		moved[i] = fcntl(g.passed[i], F_DUPFD_CLOEXEC, top + 1);
		if (moved[i] < 0)
			child_fail("save", 126, "cannot move descriptor %d above %d: %s", g.passed[i], top,
				   strerror(errno));
	}
	for (size_t i = 0; i < rq->nfd_at; i++)
		if (rq->fd_at[i] == fd || rq->fd_at[i] == g.ctl || dup2(moved[i], rq->fd_at[i]) < 0)
			child_fail("save", 126, "cannot place a descriptor at %d: %s", rq->fd_at[i],
				   rq->fd_at[i] == fd || rq->fd_at[i] == g.ctl
					   ? "the image or the report channel is there"
					   : strerror(errno));
	for (size_t i = 0; i < rq->nenv; i++) {
		char kv[512];
		snprintf(kv, sizeof kv, "%s", rq->env[i]);
		char *eq = strchr(kv, '=');
		if (!eq || eq == kv || setenv((*eq = '\0', kv), eq + 1, 1) < 0)
			child_fail("save", 126, "bad env setting '%s'", rq->env[i]);
	}
	/* The program's blocked signals (kv blocks SIGTERM for its signalfd) are its own business;
	 * the new version starts with none blocked, as a freshly started program would. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	child_fail("exec", 127, "cannot run %s: %s", argv[0], strerror(errno));
}

/* ---- the old version: requests and children ---- */

static void watch_child(pid_t pid)
{
	if (g.nchild == MAX_CHILDREN)
		return; /* cannot happen: requests are refused when full */
	int pidfd = g.poll_children ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		set_cloexec(pidfd, true);
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)pid};
		if (epoll_ctl(g.ep, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
			close(pidfd);
			pidfd = -1;
		}
	}
	if (pidfd < 0)
		g.poll_children = true; /* no pidfd (old kernel): reap by polling at update points */
	g.child[g.nchild].pid = pid;
	g.child[g.nchild].pidfd = pidfd;
	g.nchild++;
}

/* Reaps the handoff children that ended and reports how. */
static void reap_children(void)
{
	for (size_t i = 0; i < g.nchild;) {
		int status;
		pid_t r = waitpid(g.child[i].pid, &status, WNOHANG);
		if (r == 0 || (r < 0 && errno == EINTR)) {
			i++;
			continue;
		}
		if (r > 0) {
			if (WIFSIGNALED(status))
				report(g.ctl, "killed pid=%d signal=%d", (int)r, WTERMSIG(status));
			else
				report(g.ctl, "exited pid=%d status=%d", (int)r, WEXITSTATUS(status));
		}
		if (g.child[i].pidfd >= 0)
			close(g.child[i].pidfd); /* also drops it from the epoll set */
		g.child[i] = g.child[--g.nchild];
	}
}

/* Executes one request line (NUL-terminated, without its newline). Returns 1 if it forked.
 *   update ARG0 ARG1 ...                       the first descriptor sent along is the new
 *                                              version's own control channel
 *   update [env=K=V]... [fd=N]... -- ARG0 ...  (the first field is `--`, env= or fd=): settings
 *                                              for the new version's environment, and the numbers
 *                                              at which it gets the descriptors sent along, in
 *                                              order (then none is its control channel) */
static int handle_request(char *line)
{
	request rq = {0};
	int new_ctl = -1;
	size_t n = strlen(line);
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	int rc = -1;
	size_t argc = 0;
	char **argv = NULL;
	if (strncmp(line, "update ", 7) != 0) {
		fail("unknown request '%.64s' (expected: update ARGV...)", line); /* encoded when reported */
		goto refuse;
	}
	char *first = line + 7, *args = first;
	if (!strncmp(first, "-- ", 3) || !strncmp(first, "env=", 4) || !strncmp(first, "fd=", 3)) {
		char *p = first;
		for (;;) {
			char *sp = strchr(p, ' ');
			if (!sp) {
				fail("update: settings without '--' and a command");
				goto refuse;
			}
			*sp = '\0';
			if (!strcmp(p, "--")) {
				args = sp + 1;
				break;
			}
			if (mvr_pct_decode(p) < 0) {
				fail("bad percent escape in setting '%.64s'", p);
				goto refuse;
			}
			if (!strncmp(p, "env=", 4) && strchr(p + 4, '=') && p[4] != '=' && rq.nenv < MAX_REQ_ENV) {
				rq.env[rq.nenv++] = p + 4;
			} else if (!strncmp(p, "fd=", 3) && rq.nfd_at < MAX_PASSED) {
				char *end;
				long v = strtol(p + 3, &end, 10);
				if (*end || end == p + 3 || v < 0 || v > 65535) {
					fail("update: bad setting '%.64s'", p);
					goto refuse;
				}
				rq.fd_at[rq.nfd_at++] = (int)v;
			} else {
				fail("update: bad setting '%.64s' (expected env=K=V, fd=N or --)", p);
				goto refuse;
			}
			p = sp + 1;
		}
		if (rq.nfd_at > g.npassed) {
			fail("update: %zu fd= settings but %zu descriptors sent along", rq.nfd_at, g.npassed);
			goto refuse;
		}
	} else if (g.npassed > 0) {
		new_ctl = g.passed[0];
		g.passed[0] = -1;
	}
	for (char *p = args - 1; p; p = strchr(p + 1, ' '))
		argc++;
	argv = calloc(argc + 1, sizeof *argv);
	if (!argv) {
		fail("out of memory");
		goto refuse;
	}
	size_t i = 0;
	for (char *p = args;; p++) {
		argv[i] = p;
		char *sp = strchr(p, ' ');
		if (sp)
			*sp = '\0';
		if (mvr_pct_decode(argv[i]) < 0) {
			fail("bad percent escape in argument %zu", i);
			goto refuse;
		}
		i++;
		if (!sp)
			break;
		p = sp;
	}
	if (argv[0][0] == '\0') {
		fail("update: empty program name");
		goto refuse;
	}
	if (g.nchild == MAX_CHILDREN) {
		fail("update: %d handoff children still running", MAX_CHILDREN);
		goto refuse;
	}
	rq.argv = argv;
	/* Under the agent the fork point starts the new version's event stream (mvr_agent_api.h). */
	if (g.agent) {
		char why[MSG_LEN];
		if (g.agent->handoff_prepare(why, sizeof why) < 0) {
			fail("%s", why);
			report_failed(g.ctl, "fork", g.err);
			goto out;
		}
	}
	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0) {
		fail("pipe2: %s", strerror(errno));
		report_failed(g.ctl, "fork", g.err);
		goto out;
	}
	pid_t pid = fork();
	if (pid < 0) {
		fail("fork: %s", strerror(errno));
		report_failed(g.ctl, "fork", g.err);
		close(sync[0]);
		close(sync[1]);
		goto out;
	}
	if (pid == 0) {
		close(sync[1]);
		handoff_child(&rq, sync[0], new_ctl);
	}
	close(sync[0]);
	report(g.ctl, "forked pid=%d point=%llu version=%u", (int)pid, (unsigned long long)g.points, g.version);
	close(sync[1]); /* lets the child go on */
	if (!g.agent)
		watch_child(pid); /* under the agent the child is the monitor's (it reports its end) */
	rc = 1;
	goto out;
refuse:
	report_failed(g.ctl, "request", g.err);
out:
	if (new_ctl >= 0)
		close(new_ctl); /* the child has its copy */
	for (size_t i = 0; i < g.npassed; i++)
		if (g.passed[i] >= 0)
			close(g.passed[i]);
	g.npassed = 0;
	free(argv);
	return rc;
}

static void close_ctl(void)
{
	epoll_ctl(g.ep, EPOLL_CTL_DEL, g.ctl, NULL);
	close(g.ctl);
	g.ctl = -1;
}

/* Reads what the control channel has (without blocking) and executes complete request lines. */
static int read_requests(void)
{
	int fds[MVR_FDPASS_MAX];
	unsigned nfds = 0;
	ssize_t n = mvr_fd_recv(g.ctl, g.req + g.reqlen, sizeof g.req - 1 - g.reqlen, fds, MVR_FDPASS_MAX, &nfds, NULL,
				MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -ENOTSOCK) /* a pipe carries requests too, just no descriptors */
		n = read(g.ctl, g.req + g.reqlen, sizeof g.req - 1 - g.reqlen);
	else if (n < 0)
		errno = (int)-n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		close_ctl(); /* the controller is gone (or the channel broke): nothing more will be asked */
		return 0;
	}
	for (unsigned j = 0; j < nfds; j++) {
		if (g.npassed < MAX_PASSED)
			g.passed[g.npassed++] = fds[j];
		else
			close(fds[j]); /* more than a request can use */
	}
	g.reqlen += (size_t)n;
	int rc = 0;
	size_t start = 0;
	for (;;) {
		char *nl = memchr(g.req + start, '\n', g.reqlen - start);
		if (!nl)
			break;
		*nl = '\0';
		if (!g.discarding) {
			int r = handle_request(g.req + start);
			if (r < 0)
				rc = -1;
			else if (r > 0 && rc == 0)
				rc = 1;
		}
		g.discarding = false;
		start = (size_t)(nl - g.req) + 1;
	}
	memmove(g.req, g.req + start, g.reqlen - start);
	g.reqlen -= start;
	if (g.reqlen == sizeof g.req - 1) {
		g.discarding = true;
		g.reqlen = 0;
		fail("request line longer than %d bytes", REQ_MAX - 1);
		report_failed(g.ctl, "request", g.err);
		rc = -1;
	}
	return rc;
}

static int poll_channel(void);

int mvr_dsu_update_point(void)
{
	g.points++;
	if (g.agent) {
		if (!g.followed && g.agent->following()) {
			/* The new version of a handoff reached the point where the old one forked: from
			 * here on its calls are compared with the old version's. */
			g.followed = true;
			g.agent->follow();
		}
		if (g.ep < 0 || !g.agent->update_pending())
			return 0;
		own_calls(true);
		int rc = poll_channel();
		own_calls(false);
		return rc;
	}
	return poll_channel();
}

static int poll_channel(void)
{
	if (g.ep < 0)
		return 0; /* inert: no control channel */
	struct epoll_event evs[MAX_CHILDREN + 1];
	int n = epoll_wait(g.ep, evs, MAX_CHILDREN + 1, 0);
	int rc = 0;
	bool children = g.poll_children && g.nchild > 0;
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 != 0)
			children = true;
		else if (g.ctl >= 0)
			rc = read_requests();
	}
	if (children)
		reap_children();
	return rc;
}
