/* kv-load: a closed-loop load generator for the kv servers (and, with --resp, for Redis), used by
 * bench/runtime-bench.mjs. Each of --clients connections sends one request, waits for its answer,
 * records the round-trip time and sends the next, for --seconds after a --warmup period. Requests
 * are PUT (SET) and GET in equal parts on --keys random keys, so the server does real work.
 * With --memcache it speaks memcached's text protocol (set/get) instead, for bench/memcached-bench.mjs:
 * every key is set first (on the first connection), and a key's value is always the same, so that
 * what a get answers never depends on which of two connections' requests on a key came first
 * (which a multi-threaded server decides in its memory: a second version could not answer the same).
 * With --http PATH it sends keep-alive HTTP/1.1 GETs of PATH (for bench/nginx-bench.mjs) and checks
 * each answer: status 200 and, with --body FILE, a body equal to FILE's bytes.
 * Prints one JSON line: requests, seconds, rps, p50_us, p99_us, max_us, errors.
 * Written in C rather than in the Node bench so that the client costs far less per request than
 * the server under test: a slow client would hide the server's overhead in the ratios.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define PROG "kv-load"

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": error: ");
	vfprintf(stderr, fmt, ap);
	/* A message ending in ':' asks for the errno text. */
	if (fmt[0] && fmt[strlen(fmt) - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
	/* xorshift64*: deterministic per seed, cheap. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

struct client {
	int fd;
	bool alive;
	char req[256];
	size_t req_len, req_off;
	char in[4096];
	size_t in_len;
	uint64_t sent_at;
};

static bool resp_mode, mc_mode;
static unsigned nkeys = 10000;
static const char *http_path; /* --http: GET this path */
static char *http_body;       /* --body: what each answer's body must be (NULL: not checked) */
static size_t http_body_len;

static void make_request(struct client *c)
{
	unsigned key = (unsigned)(rnd() % nkeys);
	bool put = rnd() & 1;
	char k[32], v[32];
	int kl = snprintf(k, sizeof k, "key:%u", key);
	int vl = mc_mode ? snprintf(v, sizeof v, "value-%016llx", (unsigned long long)key * 0x9e3779b97f4a7c15ull)
			 : snprintf(v, sizeof v, "value-%016llx", (unsigned long long)rnd());
	int n;
	if (http_path)
		n = snprintf(c->req, sizeof c->req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", http_path);
	else if (mc_mode)
		n = put ? snprintf(c->req, sizeof c->req, "set %s 0 0 %d\r\n%s\r\n", k, vl, v)
			: snprintf(c->req, sizeof c->req, "get %s\r\n", k);
	else if (!resp_mode)
		n = put ? snprintf(c->req, sizeof c->req, "PUT %s %s\n", k, v)
			: snprintf(c->req, sizeof c->req, "GET %s\n", k);
	else if (put)
		n = snprintf(c->req, sizeof c->req, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", kl, k, vl, v);
	else
		n = snprintf(c->req, sizeof c->req, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, k);
	c->req_len = (size_t)n;
	c->req_off = 0;
}

/* Length of the complete answer at the start of buf, 0 if incomplete, -1 if it is an error. */
static long answer_len(const char *buf, size_t len)
{
	if (http_path) {
		/* Headers, then Content-Length bytes of body (nginx sends static files with a length). */
		const char *end = memmem(buf, len, "\r\n\r\n", 4);
		if (!end)
			return 0;
		size_t head = (size_t)(end - buf) + 4;
		const char *cl = memmem(buf, head, "Content-Length: ", 16);
		if (!cl)
			return -1;
		size_t total = head + (size_t)strtoul(cl + 16, NULL, 10);
		if (len < total)
			return 0;
		if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0)
			return -(long)total;
		if (http_body && (total - head != http_body_len || memcmp(buf + head, http_body, http_body_len) != 0))
			return -(long)total;
		return (long)total;
	}
	const char *nl = memchr(buf, '\n', len);
	if (!nl)
		return 0;
	size_t line = (size_t)(nl - buf) + 1;
	if (mc_mode) {
		/* STORED, END (a miss), or VALUE <key> <flags> <bytes>, the data, END. */
		if (strncmp(buf, "VALUE ", 6) != 0)
			return strncmp(buf, "STORED", 6) == 0 || strncmp(buf, "END", 3) == 0 ? (long)line : -1;
		const char *sp = memrchr(buf, ' ', line);
		size_t total = line + (size_t)strtoul(sp + 1, NULL, 10) + 2 + 5;
		return len >= total ? (long)total : 0;
	}
	if (!resp_mode)
		return strncmp(buf, "ERROR", 5) == 0 ? -1 : (long)line;
	if (buf[0] == '-')
		return -1;
	if (buf[0] != '$')
		return (long)line;
	long n = strtol(buf + 1, NULL, 10);
	if (n < 0)
		return (long)line;
	size_t total = line + (size_t)n + 2;
	return len >= total ? (long)total : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int port = -1, nclients = 1;
	double seconds = 3, warmup = 0.5;
	rng_state = 0x9e3779b97f4a7c15ull;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--resp") == 0) {
			resp_mode = true;
			continue;
		}
		if (strcmp(a, "--memcache") == 0) {
			mc_mode = true;
			continue;
		}
		if (!v)
			die("usage: " PROG " --port N [--clients C] [--seconds S] [--warmup W] [--keys K] [--seed X] "
			    "[--resp | --memcache | --http PATH [--body FILE]]");
		i++;
		if (strcmp(a, "--http") == 0)
			http_path = v;
		else if (strcmp(a, "--body") == 0) {
			FILE *f = fopen(v, "rb");
			if (!f)
				die("%s:", v);
			http_body = malloc(1 << 20);
			if (!http_body)
				die("out of memory");
			http_body_len = fread(http_body, 1, 1 << 20, f);
			fclose(f);
		} else if (strcmp(a, "--port") == 0)
			port = atoi(v);
		else if (strcmp(a, "--clients") == 0)
			nclients = atoi(v);
		else if (strcmp(a, "--seconds") == 0)
			seconds = atof(v);
		else if (strcmp(a, "--warmup") == 0)
			warmup = atof(v);
		else if (strcmp(a, "--keys") == 0)
			nkeys = (unsigned)atoi(v);
		else if (strcmp(a, "--seed") == 0)
			rng_state = strtoull(v, NULL, 0) | 1;
		else
			die("unknown option '%s'", a);
	}
	if (port <= 0 || port > 65535 || nclients < 1 || nclients > 1000 || seconds <= 0 || warmup < 0 || nkeys < 1)
		die("bad arguments (need --port 1..65535, --clients 1..1000, --seconds > 0, --keys >= 1)");

	int ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1:");
	struct client *cs = calloc((size_t)nclients, sizeof *cs);
	if (!cs)
		die("out of memory");
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < nclients; i++) {
		struct client *c = &cs[i];
		c->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (c->fd < 0)
			die("socket:");
		if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0)
			die("connect 127.0.0.1:%d:", port);
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->alive = true;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			die("epoll_ctl:");
	}

	if (mc_mode) {
		/* Every key set once before the load (so that no get misses because it came first). */
		for (unsigned key = 0; key < nkeys; key++) {
			char req[128], in[64];
			int n = snprintf(req, sizeof req, "set key:%u 0 0 22\r\nvalue-%016llx\r\n", key,
					 (unsigned long long)key * 0x9e3779b97f4a7c15ull);
			if (write(cs[0].fd, req, (size_t)n) != n)
				die("write:");
			size_t got = 0;
			while (got < 8) {
				ssize_t r = read(cs[0].fd, in + got, sizeof in - got);
				if (r <= 0)
					die("preloading key %u: no answer", key);
				got += (size_t)r;
			}
			if (strncmp(in, "STORED\r\n", 8) != 0)
				die("preloading key %u: %.8s", key, in);
		}
	}

	size_t lat_cap = 1 << 16, lat_n = 0;
	uint32_t *lat = malloc(lat_cap * sizeof *lat);
	if (!lat)
		die("out of memory");
	uint64_t start = now_ns();
	uint64_t measure_from = start + (uint64_t)(warmup * 1e9);
	uint64_t stop_at = measure_from + (uint64_t)(seconds * 1e9);
	long errors = 0;
	int in_flight = 0;

	/* Sockets are blocking: a request is small and is written whole. */
	for (int i = 0; i < nclients; i++) {
		make_request(&cs[i]);
		cs[i].sent_at = now_ns();
		if (write(cs[i].fd, cs[i].req, cs[i].req_len) != (ssize_t)cs[i].req_len)
			die("write:");
		in_flight++;
	}

	struct epoll_event evs[64];
	while (in_flight > 0) {
		int n = epoll_wait(ep, evs, 64, 1000);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait:");
		}
		if (n == 0 && now_ns() > stop_at + 5000000000ull)
			die("no answer for 5 s after the end of the run (server stuck?)");
		for (int e = 0; e < n; e++) {
			struct client *c = &cs[evs[e].data.u32];
			ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
			if (r <= 0) {
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				errors++; /* the server closed or reset the connection mid-request */
				c->alive = false;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				in_flight--;
				continue;
			}
			c->in_len += (size_t)r;
			long alen = answer_len(c->in, c->in_len);
			if (alen == 0) {
				if (c->in_len == sizeof c->in)
					die("answer longer than %zu bytes", sizeof c->in);
				continue;
			}
			uint64_t t = now_ns();
			if (alen < 0) {
				errors++;
				if (http_path && alen < -1) {
					alen = -alen; /* a whole answer, but not the expected one */
				} else {
					const char *nl = memchr(c->in, '\n', c->in_len);
					alen = (long)(nl - c->in) + 1;
				}
			}
			if (c->sent_at >= measure_from && t <= stop_at) {
				if (lat_n == lat_cap) {
					lat_cap *= 2;
					lat = realloc(lat, lat_cap * sizeof *lat);
					if (!lat)
						die("out of memory");
				}
				uint64_t d = t - c->sent_at;
				lat[lat_n++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
			}
			memmove(c->in, c->in + alen, c->in_len - (size_t)alen);
			c->in_len -= (size_t)alen;
			if (t >= stop_at) {
				in_flight--;
				continue;
			}
			make_request(c);
			c->sent_at = now_ns();
			if (write(c->fd, c->req, c->req_len) != (ssize_t)c->req_len)
				die("write:");
		}
	}

	qsort(lat, lat_n, sizeof *lat, cmp_u32);
	double p50 = lat_n ? lat[(lat_n - 1) / 2] / 1e3 : 0;
	double p99 = lat_n ? lat[(size_t)((double)(lat_n - 1) * 0.99)] / 1e3 : 0;
	double max = lat_n ? lat[lat_n - 1] / 1e3 : 0;
	printf("{\"requests\":%zu,\"seconds\":%.3f,\"rps\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"errors\":%ld}\n",
	       lat_n, seconds, (double)lat_n / seconds, p50, p99, max, errors);
	for (int i = 0; i < nclients; i++)
		if (cs[i].alive)
			close(cs[i].fd);
	free(cs);
	free(lat);
	return 0;
}
