/* kv-v1: a small in-memory key-value server, version 1 of the example update pair.
 *
 * Protocol (one request per line, "\n" or "\r\n"):
 *   PUT <key> <value>   -> OK               (value = rest of the line, may hold spaces)
 *   GET <key>           -> VALUE <value> | NOTFOUND
 *   anything else       -> ERROR unknown command
 *   a line over 1 MiB   -> ERROR line too long, then the connection is closed
 *
 * kv-v2.c is this file plus typed values (the MVEDSUA running example); the two are kept
 * separate on purpose, as a real release pair would be: `diff kv-v1.c kv-v2.c` shows the update.
 *
 * Design choices made for multi-version execution (MVE), where the same inputs drive v1 and v2
 * and their system calls are compared:
 * - single thread, level-triggered epoll, exactly one read() per readiness event and one write()
 *   per batch of replies, with buffer sizes that depend only on the input, so both versions make
 *   the same calls for the same traffic;
 * - read()/write() rather than recv()/send(), the calls the mapping rules are written against;
 * - epoll user data is the fd number (identical in both versions), not a pointer;
 * - SIGTERM arrives through a signalfd, i.e. as an ordinary read at a well-defined point;
 * - connections are removed from epoll before close(): under MVE the same socket is also open in
 *   the other version, so close() alone would not drop the registration.
 *
 * Live update by handoff (runtime-c/dsu/mvr_dsu.h, docs/handoff.md): the top of the event loop
 * is the update point; the state image holds the listening socket (inherited by the new
 * version: both then accept on it), every key and value, and the open connections with their
 * buffers. After a plain handoff, connections open at the fork point stay with this process
 * (the new version checks and drops them); a new version that follows this one under MVE
 * (mvr_dsu_following()) restores them, with the epoll instance and signalfd, under the same
 * descriptor numbers. Without MVR_DSU_CTL_FD / MVR_DSU_STATE_FD in the environment the library
 * makes no system call, so the server behaves exactly as it does without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "mvr_dsu.h"

#define PROG "kv-v1"
#define DSU_NAME "kv" /* the program identity in state images, shared by all versions */
#define DSU_VERSION 1
#define IN_INITIAL 16384       /* first input buffer; grows only for longer lines */
#define MAX_LINE (1u << 20)    /* longest request line accepted */
#define OUT_HIGH (256u * 1024) /* stop executing pipelined requests above this much unsent output */
#define MAX_EVENTS 64
#define ACCEPT_BURST 16 /* accept at most this many clients per readiness event */

/* ---- errors: one convention, die() for fatal conditions, errno appended when it helps ---- */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die_errno(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": error: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void die_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": error: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", strerror(saved));
	va_end(ap);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count, size);
	if (!p)
		die("out of memory (%zu x %zu bytes)", count, size);
	return p;
}

static void *xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

/* ---- the store: chained hash table with incremental rehashing ----
 * Growth moves a few buckets per operation from the old table to the new one (as Redis does),
 * so that loading a million keys never stalls one request for a whole rehash. */

struct entry {
	struct entry *next;
	uint64_t hash;
	char *val;
	size_t vlen;
	size_t klen;
	char key[];
};

struct table {
	struct entry **buckets;
	size_t size; /* a power of two, or 0 when unused */
};

struct dict {
	struct table t[2]; /* t[1] is in use only while rehashing */
	size_t rehash_pos; /* next bucket of t[0] to move */
	bool rehashing;
	size_t count;
};

#define DICT_INITIAL 1024
#define REHASH_STEP 4 /* buckets moved per operation while growing */

static uint64_t hash_bytes(const char *s, size_t n)
{
	/* FNV-1a, 64 bit: simple and good enough for a test server (no hash-flooding defence). */
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void table_init(struct table *t, size_t size)
{
	t->buckets = xcalloc(size, sizeof *t->buckets);
	t->size = size;
}

static void dict_init(struct dict *d)
{
	memset(d, 0, sizeof *d);
	table_init(&d->t[0], DICT_INITIAL);
}

static void dict_rehash_step(struct dict *d)
{
	if (!d->rehashing)
		return;
	/* Visit a bounded number of buckets, empty ones included, so one step stays cheap. */
	for (int moved = 0, visited = 0; moved < REHASH_STEP && visited < REHASH_STEP * 10; visited++) {
		if (d->rehash_pos == d->t[0].size) {
			free(d->t[0].buckets);
			d->t[0] = d->t[1];
			d->t[1] = (struct table){0};
			d->rehashing = false;
			return;
		}
		struct entry *e = d->t[0].buckets[d->rehash_pos];
		d->t[0].buckets[d->rehash_pos++] = NULL;
		if (e)
			moved++;
		while (e) {
			struct entry *next = e->next;
			size_t i = e->hash & (d->t[1].size - 1);
			e->next = d->t[1].buckets[i];
			d->t[1].buckets[i] = e;
			e = next;
		}
	}
}

static struct entry *dict_find(struct dict *d, const char *key, size_t klen, uint64_t h)
{
	for (int ti = 0; ti < (d->rehashing ? 2 : 1); ti++) {
		struct table *t = &d->t[ti];
		for (struct entry *e = t->buckets[h & (t->size - 1)]; e; e = e->next)
			if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
				return e;
	}
	return NULL;
}

static struct entry *dict_get(struct dict *d, const char *key, size_t klen)
{
	dict_rehash_step(d);
	return dict_find(d, key, klen, hash_bytes(key, klen));
}

static void dict_put(struct dict *d, const char *key, size_t klen, const char *val, size_t vlen)
{
	dict_rehash_step(d);
	uint64_t h = hash_bytes(key, klen);
	struct entry *e = dict_find(d, key, klen, h);
	char *copy = xmalloc(vlen);
	memcpy(copy, val, vlen);
	if (e) {
		free(e->val);
		e->val = copy;
		e->vlen = vlen;
		return;
	}
	e = xmalloc(sizeof *e + klen);
	e->hash = h;
	e->val = copy;
	e->vlen = vlen;
	e->klen = klen;
	memcpy(e->key, key, klen);
	struct table *t = &d->t[d->rehashing ? 1 : 0];
	size_t i = h & (t->size - 1);
	e->next = t->buckets[i];
	t->buckets[i] = e;
	d->count++;
	/* Load factor 1: start growing; the move happens a few buckets per later operation. */
	if (!d->rehashing && d->count > d->t[0].size) {
		table_init(&d->t[1], d->t[0].size * 2);
		d->rehash_pos = 0;
		d->rehashing = true;
	}
}

static void dict_free(struct dict *d)
{
	for (int ti = 0; ti < 2; ti++) {
		for (size_t i = 0; i < d->t[ti].size; i++) {
			struct entry *e = d->t[ti].buckets[i];
			while (e) {
				struct entry *next = e->next;
				free(e->val);
				free(e);
				e = next;
			}
		}
		free(d->t[ti].buckets);
	}
	memset(d, 0, sizeof *d);
}

/* ---- connections ---- */

struct conn {
	int fd;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	bool want_write; /* registered for EPOLLOUT (and not EPOLLIN) until output drains */
	bool eof;        /* the peer has finished sending: answer what is buffered, then close */
	bool closing;    /* protocol error: close once the error reply is written */
};

static struct dict store;
static int listen_fd = -1;     /* saved in the state image, so that the new version inherits it */
static int inherited_lfd = -1; /* the listening socket named by a loaded state image */
static int epfd = -1;
static int sfd = -1;        /* the signalfd for SIGTERM and SIGINT */
static bool restored;       /* a follower's kv_load restored epfd, sfd and the connections */
static struct conn **conns; /* indexed by fd */
static size_t conns_cap;

static void out_append(struct conn *c, const char *s, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + n)
			cap *= 2;
		c->out = xrealloc(c->out, cap);
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
}

#define REPLY(c, lit) out_append((c), lit, sizeof(lit) - 1)

static void epoll_set(int fd, uint32_t events, int op)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (epoll_ctl(epfd, op, fd, &ev) < 0)
		die_errno("epoll_ctl(fd %d)", fd);
}

static void conn_close(struct conn *c)
{
	if (epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL) < 0)
		die_errno("epoll_ctl(DEL fd %d)", c->fd);
	close(c->fd);
	conns[c->fd] = NULL;
	free(c->in);
	free(c->out);
	free(c);
}

/* Makes room in conns[] for descriptor fd. */
static void conns_reserve(int fd)
{
	if ((size_t)fd < conns_cap)
		return;
	size_t cap = conns_cap ? conns_cap : 64;
	while (cap <= (size_t)fd)
		cap *= 2;
	conns = xrealloc(conns, cap * sizeof *conns);
	memset(conns + conns_cap, 0, (cap - conns_cap) * sizeof *conns);
	conns_cap = cap;
}

static void conn_open(int fd)
{
	conns_reserve(fd);
	struct conn *c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->in_cap = IN_INITIAL;
	c->in = xmalloc(c->in_cap);
	conns[fd] = c;
	epoll_set(fd, EPOLLIN, EPOLL_CTL_ADD);
}

/* ---- requests ---- */

static bool has_space(const char *s, size_t n)
{
	return memchr(s, ' ', n) != NULL;
}

static void cmd_put(struct conn *c, const char *args, size_t n)
{
	const char *sp = memchr(args, ' ', n);
	if (!sp || sp == args) {
		REPLY(c, "ERROR unknown command\n");
		return;
	}
	size_t klen = (size_t)(sp - args);
	dict_put(&store, args, klen, sp + 1, n - klen - 1);
	REPLY(c, "OK\n");
}

static void cmd_get(struct conn *c, const char *key, size_t klen)
{
	if (klen == 0 || has_space(key, klen)) {
		REPLY(c, "ERROR unknown command\n");
		return;
	}
	struct entry *e = dict_get(&store, key, klen);
	if (!e) {
		REPLY(c, "NOTFOUND\n");
		return;
	}
	REPLY(c, "VALUE ");
	out_append(c, e->val, e->vlen);
	REPLY(c, "\n");
}

static void execute(struct conn *c, const char *line, size_t n)
{
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n >= 4 && memcmp(line, "PUT ", 4) == 0)
		cmd_put(c, line + 4, n - 4);
	else if (n >= 4 && memcmp(line, "GET ", 4) == 0)
		cmd_get(c, line + 4, n - 4);
	else
		REPLY(c, "ERROR unknown command\n");
}

/* Executes the complete lines in the input buffer, stopping early when much output is pending
 * (a client that pipelines without reading must not make us buffer without bound). */
static void conn_process(struct conn *c)
{
	size_t start = 0;
	while (!c->closing && c->out_len - c->out_off < OUT_HIGH) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (!nl)
			break;
		size_t n = (size_t)(nl - (c->in + start));
		execute(c, c->in + start, n);
		start += n + 1;
	}
	if (start > 0) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	/* A buffer grown for one long line goes back to its first size once that line is done. */
	if (c->in_cap > IN_INITIAL && c->in_len <= IN_INITIAL / 2) {
		c->in_cap = IN_INITIAL;
		c->in = xrealloc(c->in, c->in_cap);
	}
	/* A full buffer without a newline: grow it, up to the line limit. */
	if (!c->closing && c->in_len == c->in_cap && !memchr(c->in, '\n', c->in_len)) {
		if (c->in_cap >= MAX_LINE) {
			REPLY(c, "ERROR line too long\n");
			c->closing = true;
			c->in_len = 0;
		} else {
			c->in_cap *= 2;
			c->in = xrealloc(c->in, c->in_cap);
		}
	}
}

static bool has_complete_line(const struct conn *c)
{
	return memchr(c->in, '\n', c->in_len) != NULL;
}

static void want_output_space(struct conn *c, bool on)
{
	if (c->want_write != on) {
		c->want_write = on;
		epoll_set(c->fd, on ? EPOLLOUT : EPOLLIN, EPOLL_CTL_MOD);
	}
}

/* Runs buffered requests and writes their replies (one write() per batch) until the input holds
 * no complete line or the socket is full. Closes the connection when it is finished. */
static void conn_pump(struct conn *c)
{
	for (;;) {
		conn_process(c);
		if (c->out_off < c->out_len) {
			ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				conn_close(c); /* the peer is gone (EPIPE, ECONNRESET): nothing left to say */
				return;
			}
			if (w > 0)
				c->out_off += (size_t)w;
			if (c->out_off < c->out_len) {
				want_output_space(c, true);
				return;
			}
		}
		c->out_off = c->out_len = 0;
		if (c->out_cap > OUT_HIGH) { /* do not keep a large reply's buffer for the idle connection */
			free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
		bool more = has_complete_line(c);
		if (c->closing || (c->eof && !more)) {
			conn_close(c); /* a partial last line before EOF is dropped: it is no request */
			return;
		}
		if (!more) {
			want_output_space(c, false);
			return;
		}
		/* Stopped at OUT_HIGH with requests left: the output has drained, run the rest. */
	}
}

static void conn_event(struct conn *c, uint32_t events)
{
	if (c->want_write) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
	} else {
		ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(c);
			return;
		}
		if (r == 0)
			c->eof = true; /* requests already read are still answered */
		else
			c->in_len += (size_t)r;
	}
	conn_pump(c);
}

/* ---- live update: the state image ----
 * u32 listening fd (UINT32_MAX: none) | u64 count | count x (bytes key, bytes value)
 * | u32 epoll fd | u32 signalfd | u64 nconn | nconn x (u32 fd | u32 flags | u32 in_cap
 *   | bytes input (c->in[0..in_len]) | bytes pending output (c->out[out_off..out_len]))
 * Version 2 adds a u32 type after each value; v1 loading a v2 image (a rollback) keeps every
 * value as it is and drops the type, which v1 cannot express: GET answers as v2 did.
 * flags: bit 0 want_write, bit 1 eof, bit 2 closing. The connection section (from the epoll fd
 * on) is the same in both versions; kv_save always writes it, kv_load reads it when the image
 * goes on after the entries (older images end there). */

#define NO_FD UINT32_MAX

/* The connection section: what the old version holds besides the store at the update point.
 * A plain handoff reads and checks it, then drops it (connections stay with the old version); a
 * follower (mvr_dsu_following()) restores it, so that its state mirrors the old version's. */

#define CF_WANT_WRITE 1u /* flags of a saved connection */
#define CF_EOF 2u
#define CF_CLOSING 4u
#define CF_ALL (CF_WANT_WRITE | CF_EOF | CF_CLOSING)
#define FD_LIMIT (1u << 20) /* descriptor numbers an image may name (Linux's default nr_open) */
#define OUT_LIMIT                                                                                                      \
	(OUT_HIGH + MAX_LINE + 16) /* most output pending at an update point: execution
					      * stops at OUT_HIGH, after one reply of at most a line */
#define SAVED_CONN_MIN 28          /* fd, flags, in_cap (4 each) and two byte-string lengths (8 each) */

struct saved_conn {
	int fd;
	uint32_t flags;
	size_t in_cap;
	const char *in, *out; /* into the image: valid while kv_load runs */
	size_t in_len, out_len;
};

struct saved_conns {
	int epfd, sfd;
	size_t n;
	struct saved_conn *c;
};

static void save_conns(mvr_dsu_writer *w)
{
	mvr_dsu_put_u32(w, epfd >= 0 ? (uint32_t)epfd : NO_FD);
	mvr_dsu_put_u32(w, sfd >= 0 ? (uint32_t)sfd : NO_FD);
	uint64_t n = 0;
	for (size_t fd = 0; fd < conns_cap; fd++)
		n += conns[fd] != NULL;
	mvr_dsu_put_u64(w, n);
	for (size_t fd = 0; fd < conns_cap; fd++) {
		const struct conn *c = conns[fd];
		if (!c)
			continue;
		mvr_dsu_put_u32(w, (uint32_t)c->fd);
		mvr_dsu_put_u32(w, (c->want_write ? CF_WANT_WRITE : 0) | (c->eof ? CF_EOF : 0) |
					   (c->closing ? CF_CLOSING : 0));
		mvr_dsu_put_u32(w, (uint32_t)c->in_cap);
		mvr_dsu_put_bytes(w, c->in, c->in_len);
		size_t pending = c->out_len - c->out_off;
		mvr_dsu_put_bytes(w, pending ? c->out + c->out_off : "", pending);
	}
}

/* A capacity conn_process can give the input buffer: IN_INITIAL doubled, at most MAX_LINE. */
static bool valid_in_cap(uint32_t cap)
{
	for (size_t c = IN_INITIAL; c <= MAX_LINE; c *= 2)
		if (cap == c)
			return true;
	return false;
}

static int by_fd(const void *a, const void *b)
{
	const struct saved_conn *x = a, *y = b;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* Checks one saved connection against what the event loop leaves at its top, where the image is
 * taken: output is pending exactly when the connection waits for EPOLLOUT, a finished or failed
 * connection (eof, closing) is still there only because its output is pending, a connection
 * waiting for input holds no complete line, and a failed one no input. */
static bool valid_saved_conn(mvr_dsu_reader *r, const struct saved_conn *c, uint32_t in_cap)
{
	const char *why = NULL;
	bool ww = c->flags & CF_WANT_WRITE;
	if (c->flags & ~CF_ALL)
		why = "unknown flags";
	else if (!valid_in_cap(in_cap))
		why = "an input buffer capacity the server never uses";
	else if (c->in_len > in_cap)
		why = "more input than its buffer holds";
	else if (c->out_len > OUT_LIMIT)
		why = "more pending output than the server ever buffers";
	else if (ww != (c->out_len > 0))
		why = ww ? "no pending output while waiting to write" : "pending output while not waiting to write";
	else if ((c->flags & (CF_EOF | CF_CLOSING)) && !ww)
		why = "finished but still open without pending output";
	else if ((c->flags & CF_CLOSING) && c->in_len > 0)
		why = "input buffered after a protocol error";
	else if (!ww && memchr(c->in, '\n', c->in_len))
		why = "a complete request left unexecuted";
	if (why)
		mvr_dsu_reader_fail(r, "connection on descriptor %d (flags 0x%x, input %zu of %u, output %zu): %s",
				    c->fd, c->flags, c->in_len, in_cap, c->out_len, why);
	return !why;
}

/* Reads and checks the connection section. 0 when the image ends before it (written by an older
 * kv), 1 when read into *s (free s->c), -1 after mvr_dsu_reader_fail. No system call. */
static int read_conns(mvr_dsu_reader *r, int lfd, struct saved_conns *s)
{
	if (mvr_dsu_reader_left(r) == 0)
		return 0;
	uint32_t ep = mvr_dsu_get_u32(r), sf = mvr_dsu_get_u32(r);
	uint64_t n = mvr_dsu_get_count(r, SAVED_CONN_MIN);
	if (!mvr_dsu_reader_ok(r))
		return -1;
	if (ep >= FD_LIMIT || sf >= FD_LIMIT || ep == sf ||
	    (lfd >= 0 && (ep == (uint32_t)lfd || sf == (uint32_t)lfd))) {
		mvr_dsu_reader_fail(
			r, "epoll descriptor %u and signalfd %u named by the image: out of range or not distinct", ep,
			sf);
		return -1;
	}
	s->epfd = (int)ep;
	s->sfd = (int)sf;
	s->n = 0;
	s->c = xcalloc(n ? (size_t)n : 1, sizeof *s->c); /* n is bounded by the image's size */
	for (uint64_t i = 0; i < n; i++) {
		struct saved_conn *c = &s->c[i];
		uint32_t fd = mvr_dsu_get_u32(r);
		c->flags = mvr_dsu_get_u32(r);
		uint32_t in_cap = mvr_dsu_get_u32(r);
		c->in = mvr_dsu_get_bytes(r, &c->in_len);
		c->out = mvr_dsu_get_bytes(r, &c->out_len);
		if (!mvr_dsu_reader_ok(r))
			return -1;
		if (fd >= FD_LIMIT || fd == ep || fd == sf || (lfd >= 0 && fd == (uint32_t)lfd)) {
			mvr_dsu_reader_fail(
				r,
				"connection %llu on descriptor %u: out of range, or the listening socket, epoll or signalfd",
				(unsigned long long)i, fd);
			return -1;
		}
		c->fd = (int)fd;
		c->in_cap = in_cap;
		s->n++;
		if (!valid_saved_conn(r, c, in_cap))
			return -1;
	}
	qsort(s->c, s->n, sizeof *s->c, by_fd);
	for (size_t i = 1; i < s->n; i++) {
		if (s->c[i].fd == s->c[i - 1].fd) {
			mvr_dsu_reader_fail(r, "two connections on descriptor %d", s->c[i].fd);
			return -1;
		}
	}
	return 1;
}

static bool restore_watch(mvr_dsu_reader *r, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		mvr_dsu_reader_fail(r, "epoll_ctl(ADD fd %d): %s", fd, strerror(errno));
		return false;
	}
	return true;
}

/* Rebuilds a connection exactly as the old version has it: same descriptor, flags, input buffer
 * capacity (later reads ask for the same sizes), input and pending output, same registration. */
static bool restore_conn(mvr_dsu_reader *r, const struct saved_conn *s)
{
	if (fcntl(s->fd, F_SETFD, FD_CLOEXEC) < 0) { /* as accept4(SOCK_CLOEXEC) left it */
		mvr_dsu_reader_fail(r, "fcntl(connection %d): %s", s->fd, strerror(errno));
		return false;
	}
	conns_reserve(s->fd);
	struct conn *c = xcalloc(1, sizeof *c);
	c->fd = s->fd;
	c->in_cap = s->in_cap;
	c->in = xmalloc(c->in_cap);
	memcpy(c->in, s->in, s->in_len);
	c->in_len = s->in_len;
	if (s->out_len > 0) {
		size_t cap = 4096; /* as out_append grows it */
		while (cap < s->out_len)
			cap *= 2;
		c->out = xmalloc(cap);
		c->out_cap = cap;
		memcpy(c->out, s->out, s->out_len);
		c->out_len = s->out_len;
	}
	c->want_write = s->flags & CF_WANT_WRITE;
	c->eof = s->flags & CF_EOF;
	c->closing = s->flags & CF_CLOSING;
	conns[c->fd] = c;
	return restore_watch(r, c->fd, c->want_write ? EPOLLOUT : EPOLLIN);
}

static bool check_inherited(mvr_dsu_reader *r, int fd, const char *what, bool socket)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);
	const char *why = fl < 0                             ? "is not open"
			  : fstat(fd, &st) < 0               ? "cannot be examined"
			  : (S_ISSOCK(st.st_mode) != socket) ? (socket ? "is not a socket" : "is a socket")
			  : socket && !(fl & O_NONBLOCK)     ? "is blocking"
							     : NULL;
	if (why)
		mvr_dsu_reader_fail(r,
				    "%s %d named by the image %s (a follower inherits the old version's descriptors)",
				    what, fd, why);
	return !why;
}

/* Follow mode: the old version's epoll instance (an empty one of the same number), its signalfd
 * and its connections become this process's, registered as the event loop had them. Only calls
 * with a local effect (fcntl, fstat, epoll_create1, dup3, close, epoll_ctl) until the first
 * update point: from there on, this process's calls are compared with the old version's. */
static bool follow_restore(mvr_dsu_reader *r, int lfd, const struct saved_conns *s)
{
	if (lfd < 0) {
		mvr_dsu_reader_fail(r, "a follower needs the listening socket, the image names none");
		return false;
	}
	if (s->epfd == sfd || s->sfd == sfd) {
		mvr_dsu_reader_fail(r, "the image names descriptor %d, which this process opened itself", sfd);
		return false;
	}
	if (!check_inherited(r, s->epfd, "epoll descriptor", false) || !check_inherited(r, s->sfd, "signalfd", false))
		return false;
	for (size_t i = 0; i < s->n; i++) {
		if (s->c[i].fd == sfd) {
			mvr_dsu_reader_fail(r, "the image names descriptor %d, which this process opened itself", sfd);
			return false;
		}
		if (!check_inherited(r, s->c[i].fd, "connection", true))
			return false;
	}
	int tmp = epoll_create1(EPOLL_CLOEXEC);
	if (tmp < 0) {
		mvr_dsu_reader_fail(r, "epoll_create1: %s", strerror(errno));
		return false;
	}
	/* The inherited descriptor must be an epoll instance (the runtime's empty replacement): a
	 * DEL of an unregistered descriptor then fails with ENOENT, on anything else with EINVAL. */
	if (epoll_ctl(s->epfd, EPOLL_CTL_DEL, tmp, NULL) == 0 || errno != ENOENT) {
		mvr_dsu_reader_fail(r, "epoll descriptor %d named by the image is not an epoll instance", s->epfd);
		close(tmp);
		return false;
	}
	if (dup3(tmp, s->epfd, O_CLOEXEC) < 0) {
		mvr_dsu_reader_fail(r, "dup3(%d, %d): %s", tmp, s->epfd, strerror(errno));
		close(tmp);
		return false;
	}
	close(tmp);
	epfd = s->epfd;
	close(sfd); /* main's own signalfd: the old version's takes its place */
	sfd = s->sfd;
	if (fcntl(sfd, F_SETFD, FD_CLOEXEC) < 0) {
		mvr_dsu_reader_fail(r, "fcntl(signalfd %d): %s", sfd, strerror(errno));
		return false;
	}
	if (!restore_watch(r, lfd, EPOLLIN) || !restore_watch(r, sfd, EPOLLIN))
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (!restore_conn(r, &s->c[i]))
			return false;
	return true;
}

static int64_t kv_save(mvr_dsu_writer *w, void *app)
{
	(void)app;
	mvr_dsu_put_u32(w, listen_fd >= 0 ? (uint32_t)listen_fd : NO_FD);
	mvr_dsu_put_u64(w, store.count);
	for (int ti = 0; ti < 2; ti++) {
		for (size_t i = 0; i < store.t[ti].size; i++) {
			for (struct entry *e = store.t[ti].buckets[i]; e; e = e->next) {
				mvr_dsu_put_bytes(w, e->key, e->klen);
				mvr_dsu_put_bytes(w, e->val, e->vlen);
			}
		}
	}
	save_conns(w);
	return (int64_t)store.count;
}

/* Checks what a request could have stored: a key is non-empty without space or newline, a value
 * has no newline. A transformation that accepts anything would hide a corrupt image. */
static bool valid_entry(mvr_dsu_reader *r, const char *key, size_t klen, const char *val, size_t vlen)
{
	if (klen == 0 || memchr(key, ' ', klen) || memchr(key, '\n', klen) || memchr(val, '\n', vlen)) {
		mvr_dsu_reader_fail(r, "an entry that no request can store (empty key, or a space or newline in it)");
		return false;
	}
	if (dict_find(&store, key, klen, hash_bytes(key, klen))) {
		mvr_dsu_reader_fail(r, "a key stored twice");
		return false;
	}
	return true;
}

static int inherited_listener(mvr_dsu_reader *r, uint32_t fd)
{
	if (fd == NO_FD)
		return -1;
	int on = 0;
	socklen_t len = sizeof on;
	if (fd > INT32_MAX || getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on) {
		mvr_dsu_reader_fail(r, "descriptor %u named by the image is not a listening socket", fd);
		return -1;
	}
	return (int)fd;
}

static int64_t kv_load(mvr_dsu_reader *r, void *app, uint32_t from)
{
	(void)app;
	if (from != 1 && from != 2) {
		mvr_dsu_reader_fail(r, "this is kv version %d; it loads the state of versions 1 and 2", DSU_VERSION);
		return -1;
	}
	int lfd = inherited_listener(r, mvr_dsu_get_u32(r));
	/* the smallest entry: two 8-byte lengths (and a 4-byte type in version 2) */
	uint64_t n = mvr_dsu_get_count(r, from == 1 ? 16 : 20);
	for (uint64_t i = 0; i < n && mvr_dsu_reader_ok(r); i++) {
		size_t klen, vlen;
		const char *key = mvr_dsu_get_bytes(r, &klen);
		const char *val = mvr_dsu_get_bytes(r, &vlen);
		uint32_t type = from == 2 ? mvr_dsu_get_u32(r) : 0;
		if (!mvr_dsu_reader_ok(r))
			break;
		if (type > 2) {
			mvr_dsu_reader_fail(r, "entry %llu has type %u (version 2 knows 0..2)", (unsigned long long)i,
					    type);
			break;
		}
		if (!valid_entry(r, key, klen, val, vlen))
			break;
		dict_put(&store, key, klen, val, vlen);
	}
	if (!mvr_dsu_reader_ok(r))
		return -1;
	struct saved_conns saved = {0};
	int have = read_conns(r, lfd, &saved);
	if (have >= 0 && mvr_dsu_following()) {
		if (have == 0)
			mvr_dsu_reader_fail(r, "a follower needs the connection section, the image has none");
		else
			restored = follow_restore(r, lfd, &saved);
	}
	free(saved.c); /* a plain handoff: the connections stay with the old version */
	if (!mvr_dsu_reader_ok(r))
		return -1;
	inherited_lfd = lfd;
	return (int64_t)n;
}

/* ---- start-up and the event loop ---- */

static void usage(void)
{
	fprintf(stderr, "usage: " PROG " [--port N]   (N = 0 picks a free port; default 0)\n");
	exit(2);
}

static int parse_port(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < 0 || v > 65535)
		die("bad port '%s' (expected 0..65535)", s);
	return (int)v;
}

static int listen_on(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die_errno("socket");
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		die_errno("setsockopt(SO_REUSEADDR)");
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
		die_errno("bind 127.0.0.1:%d", port);
	if (listen(fd, 511) < 0)
		die_errno("listen");
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof addr;
	if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
		die_errno("getsockname");
	return ntohs(addr.sin_port);
}

static void accept_clients(int lfd)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* EAGAIN: no more pending; ECONNABORTED etc.: that client is gone; EMFILE: try later. */
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED && errno != EMFILE &&
			    errno != ENFILE && errno != EPROTO)
				die_errno("accept4");
			return;
		}
		/* Replies are small and written as soon as they are ready: without TCP_NODELAY, Nagle's
		 * algorithm holds a reply back until the previous one is acknowledged, and the client's
		 * delayed ACK turns pipelined loads into 40 ms stalls. A failure (the client already
		 * reset the connection) costs nothing: the next read reports it. */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		conn_open(fd);
	}
}

int main(int argc, char **argv)
{
	int port = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = parse_port(argv[++i]);
		else if (strncmp(argv[i], "--port=", 7) == 0)
			port = parse_port(argv[i] + 7);
		else
			usage();
	}

	/* Writes to a client that went away must fail with EPIPE, not kill the server. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die_errno("signal(SIGPIPE)");
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	if (sigprocmask(SIG_BLOCK, &term, NULL) < 0)
		die_errno("sigprocmask");
	sfd = signalfd(-1, &term, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		die_errno("signalfd");

	dict_init(&store);
	/* Started by a handoff: loads the old version's state (or exits with a message). */
	if (mvr_dsu_init(DSU_NAME, DSU_VERSION, kv_save, kv_load, NULL) < 0)
		die("dsu: %s", mvr_dsu_error());
	int lfd = inherited_lfd >= 0 ? inherited_lfd : listen_on(port);
	listen_fd = lfd;
	if (mvr_dsu_keep_fd(lfd) < 0)
		die("dsu: %s", mvr_dsu_error());
	if (!restored) { /* a follower's kv_load did this, as the old version had it */
		epfd = epoll_create1(EPOLL_CLOEXEC);
		if (epfd < 0)
			die_errno("epoll_create1");
		epoll_set(lfd, EPOLLIN, EPOLL_CTL_ADD);
		epoll_set(sfd, EPOLLIN, EPOLL_CTL_ADD);
	}
	/* Readable when an update request (or the end of a handoff child) is waiting; the update
	 * point at the top of the loop handles it, so the event itself needs no branch below. */
	if (mvr_dsu_fd() >= 0)
		epoll_set(mvr_dsu_fd(), EPOLLIN, EPOLL_CTL_ADD);

	/* The first stdout line is the contract with scripts and tests that start us on port 0. */
	printf("listening on %d\n", bound_port(lfd));
	fflush(stdout);

	struct epoll_event evs[MAX_EVENTS];
	for (bool running = true; running;) {
		mvr_dsu_update_point(); /* a safe point: no request half-executed */
		int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die_errno("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == sfd) {
				running = false;
			} else if (fd == lfd) {
				accept_clients(lfd);
			} else if ((size_t)fd < conns_cap && conns[fd]) {
				conn_event(conns[fd], evs[i].events);
			}
		}
	}

	/* Clean shutdown: drop every client, free the store (so leak checkers see a clean exit). */
	for (size_t fd = 0; fd < conns_cap; fd++)
		if (conns[fd])
			conn_close(conns[fd]);
	free(conns);
	dict_free(&store);
	close(lfd);
	close(sfd);
	close(epfd);
	return 0;
}
