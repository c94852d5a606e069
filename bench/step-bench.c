/* Benchmark main for a generated rule module (see step-bench.ts): a synthetic leader stream of
 * write events, a follower that makes the same calls (two writes where a rule splits one), and
 * the time per mvr_rules_step. Prints one line: "events steps ns_per_event ns_per_step". */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mvr_rules.h"

#ifndef BENCH_EVENTS
#define BENCH_EVENTS 1000000
#endif

static void die(const char *msg) {
  fprintf(stderr, "step-bench: %s\n", msg);
  exit(2);
}

static mvr_event *events;
static size_t n_events;

static const mvr_event *get(void *ctx, uint64_t index, int *eof) {
  (void)ctx;
  if (index < n_events) return &events[index];
  *eof = 1;
  return NULL;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 3) die("usage: step-bench N_RULES HIT_EVERY");
  const long n_rules = strtol(argv[1], NULL, 10);
  const long hit_every = strtol(argv[2], NULL, 10);
  static const uint8_t text[] = "hello";
  n_events = BENCH_EVENTS;
  events = calloc(n_events, sizeof *events);
  mvr_call *calls = calloc(n_events * 2, sizeof *calls);
  if (!events || !calls) die("out of memory");
  size_t n_calls = 0;
  for (size_t i = 0; i < n_events; i++) {
    mvr_event *e = &events[i];
    /* Every HIT_EVERY-th event writes to an fd that one of the rules names (rule k splits a
     * write to fd 100+k into two); the others go to fds no rule names: the default match. */
    int hit = hit_every > 0 && i % (size_t)hit_every == 0;
    int64_t fd = hit ? 100 + (int64_t)((i / (size_t)hit_every) % (size_t)n_rules) : 1000000 + (int64_t)(i % 7);
    e->index = i;
    e->nr = 1; /* write */
    e->args[0] = fd;
    e->args[2] = 5;
    e->ret = 5;
    e->buf[1] = text;
    e->buf_len[1] = 5;
    for (int k = 0; k < (hit ? 2 : 1); k++) {
      mvr_call *c = &calls[n_calls++];
      c->nr = 1;
      c->args[0] = fd;
      c->args[2] = 5;
      c->buf[1] = text;
      c->buf_len[1] = 5;
    }
  }
  void *state = aligned_alloc(16, (mvr_rules_state_size() + 15) / 16 * 16);
  if (!state) die("out of memory");
  mvr_leader_view view = { NULL, get };
  mvr_step out;
  double best = 1e300;
  for (int rep = 0; rep < 5; rep++) {
    mvr_rules_reset(state, 0);
    double t0 = now_ns();
    for (size_t i = 0; i < n_calls; i++) {
      int st = mvr_rules_step(state, &view, &calls[i], &out);
      if (st != MVR_OK) {
        fprintf(stderr, "step %zu: status %d (%s)\n", i, st, out.reason ? out.reason : "");
        return 1;
      }
    }
    double t = now_ns() - t0;
    if (t < best) best = t;
  }
  if (mvr_rules_low_water(state) != n_events) die("not every leader event was consumed");
  printf("%zu %zu %.2f %.2f\n", n_events, n_calls, best / (double)n_events, best / (double)n_calls);
  free(state);
  free(calls);
  free(events);
  return 0;
}
