/* mvr-harness: drives a generated rule module (linked in) with a leader stream and follower calls
 * read from stdin, and prints every step's result. codegen-c/harness/driver.ts reads and prints
 * the same format with the TypeScript interpreter, so the two outputs can be compared line by line.
 *
 * Input, one item per line (numbers are signed decimal; HEX is lowercase or uppercase hex):
 *   R                                   start a new stream (reset at leader event 0)
 *   L NR A0 A1 A2 A3 A4 A5 RET [J=HEX]... a leader event; J=HEX: the bytes recorded for argument J
 *   F NR A0 A1 A2 A3 A4 A5 [J=HEX | J#CAP]... a follower call; J#CAP: output capacity of argument J
 *   E                                   the leader exited: no more events
 *   X                                   the follower exited (mvr_rules_finish)
 * Follower calls are queued and stepped in order; a step that needs more leader events waits
 * until the next L or E line. After a divergence the rest of the stream is ignored.
 * Output: see docs/semantics.md ("Harness format").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvr_rules.h"

static void die(const char *msg) {
  fprintf(stderr, "mvr-harness: %s\n", msg);
  exit(2);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL) die("out of memory");
  return q;
}

struct call_item {
  int finish; /* an X line */
  mvr_call call;
  uint8_t *bufs[MVR_MAX_ARGS];
};

static mvr_event *events;
static uint8_t **event_bufs; /* MVR_MAX_ARGS per event */
static size_t n_events, cap_events;
static int leader_eof;
static struct call_item *queue;
static size_t q_head, q_len, q_cap;
static int stopped;
static void *state;

static const mvr_event *view_get(void *ctx, uint64_t index, int *eof) {
  (void)ctx;
  if (index < n_events) return &events[index];
  *eof = leader_eof;
  return NULL;
}

static const mvr_leader_view view = {NULL, view_get};

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes HEX into a fresh buffer (never NULL, even when empty). */
static uint8_t *unhex(const char *s, uint64_t *len) {
  size_t n = strlen(s);
  if (n % 2) die("odd number of hex digits");
  uint8_t *b = xrealloc(NULL, n / 2);
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
    if (hi < 0 || lo < 0) die("bad hex digit");
    b[i] = (uint8_t)(hi * 16 + lo);
  }
  *len = n / 2;
  return b;
}

static int64_t num(const char *s) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (*s == '\0' || *end != '\0') die("bad number");
  return (int64_t)v;
}

static void print_hex(const uint8_t *b, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) printf("%02x", b[i]);
}

static void print_leader(const mvr_step *s) {
  if (s->n_leader == 0) return;
  printf(" L=");
  for (uint32_t i = 0; i < s->n_leader; i++) {
    const char *a = s->leader[i].action == MVR_L_MATCH   ? "m"
                    : s->leader[i].action == MVR_L_STORE ? "s"
                    : s->leader[i].action == MVR_L_SKIP  ? "k"
                                                         : "?";
    printf("%s%" PRIu64 ":%s", i ? "," : "", s->leader[i].event, a);
  }
}

static void print_rule(const mvr_step *s) {
  if (s->rule == MVR_RULE_DEFAULT) printf(" r=D");
  else printf(" r=%" PRIu32, s->rule);
}

static void print_step(const char *prefix, int status, const mvr_step *s) {
  printf("%s", prefix);
  switch (status) {
    case MVR_OK: {
      if (prefix[0]) {
        printf("ok");
        print_leader(s);
        break;
      }
      const char *f = s->follower_action == MVR_F_MATCH     ? "match"
                      : s->follower_action == MVR_F_EXEC    ? "exec"
                      : s->follower_action == MVR_F_EMULATE ? "emulate"
                                                            : "nop";
      printf("ok");
      print_rule(s);
      printf(" f=%s", f);
      if (s->follower_action == MVR_F_MATCH) printf(" ev=%" PRIu64, s->event);
      if (s->follower_action == MVR_F_MATCH || s->follower_action == MVR_F_EMULATE) {
        printf(" ret=%" PRId64, s->ret);
        int first = 1;
        for (int j = 0; j < MVR_MAX_ARGS; j++) {
          if (s->out[j] == NULL) continue;
          printf("%s%d:", first ? " out=" : ",", j);
          print_hex(s->out[j], s->out_len[j]);
          first = 0;
        }
      }
      print_leader(s);
      break;
    }
    case MVR_NEED_MORE:
      printf("need");
      print_leader(s);
      break;
    case MVR_PROGRESS:
      printf("progress");
      print_leader(s);
      break;
    case MVR_DIVERGE:
      printf("diverge");
      print_rule(s);
      printf(" reason=%s", s->reason ? s->reason : "");
      break;
    case MVR_EXPECTED_DIVERGE:
      printf("expected");
      print_rule(s);
      printf(" reason=%s", s->reason ? s->reason : "");
      break;
    default: printf("bad-status %d", status);
  }
  printf("\n");
}

/* Steps queued follower calls until one has to wait for the leader. */
static void drain(void) {
  while (!stopped && q_len > 0) {
    struct call_item *it = &queue[q_head];
    mvr_step out;
    if (it->finish) {
      int st = mvr_rules_finish(state, &view, &out);
      print_step("fin ", st, &out);
      if (st == MVR_NEED_MORE) {
        if (out.n_leader > 0) continue;
        return;
      }
      if (st != MVR_OK) stopped = 1;
    } else {
      int st = mvr_rules_step(state, &view, &it->call, &out);
      print_step("", st, &out);
      if (st == MVR_PROGRESS) continue; /* the same call again */
      if (st == MVR_NEED_MORE) return;
      if (st != MVR_OK) stopped = 1;
    }
    for (int j = 0; j < MVR_MAX_ARGS; j++) free(it->bufs[j]);
    q_head++;
    q_len--;
  }
}

static void reset_stream(void) {
  for (size_t i = 0; i < n_events * MVR_MAX_ARGS; i++) free(event_bufs[i]);
  n_events = 0;
  for (size_t i = 0; i < q_len; i++)
    for (int j = 0; j < MVR_MAX_ARGS; j++) free(queue[q_head + i].bufs[j]);
  q_head = q_len = 0;
  leader_eof = 0;
  stopped = 0;
  mvr_rules_reset(state, 0);
}

#define MAX_TOKENS 32

int main(void) {
  if (mvr_rules_abi != MVR_RULES_ABI) die("rule module ABI mismatch");
  state = aligned_alloc(16, (mvr_rules_state_size() + 15) / 16 * 16);
  if (state == NULL) die("out of memory");
  mvr_rules_reset(state, 0);
  static char line[1 << 20];
  while (fgets(line, sizeof line, stdin)) {
    size_t n = strlen(line);
    if (n == sizeof line - 1 && line[n - 1] != '\n') die("line too long");
    char *tok[MAX_TOKENS];
    int nt = 0;
    for (char *p = strtok(line, " \t\r\n"); p && nt < MAX_TOKENS; p = strtok(NULL, " \t\r\n")) tok[nt++] = p;
    if (nt == 0) continue;
    switch (tok[0][0]) {
      case 'R':
        reset_stream();
        printf("reset\n");
        break;
      case 'E':
        leader_eof = 1;
        drain();
        break;
      case 'X': {
        if (q_head + q_len >= q_cap) {
          q_cap = (q_head + q_len + 1) * 2;
          queue = xrealloc(queue, q_cap * sizeof *queue);
        }
        struct call_item *it = &queue[q_head + q_len++];
        memset(it, 0, sizeof *it);
        it->finish = 1;
        drain();
        break;
      }
      case 'L': {
        if (nt < 9) die("L needs NR, six arguments and RET");
        if (n_events >= cap_events) {
          cap_events = cap_events ? cap_events * 2 : 64;
          events = xrealloc(events, cap_events * sizeof *events);
          event_bufs = xrealloc(event_bufs, cap_events * MVR_MAX_ARGS * sizeof *event_bufs);
        }
        mvr_event *e = &events[n_events];
        memset(e, 0, sizeof *e);
        uint8_t **bufs = &event_bufs[n_events * MVR_MAX_ARGS];
        for (int j = 0; j < MVR_MAX_ARGS; j++) bufs[j] = NULL;
        e->index = n_events;
        e->nr = (uint32_t)num(tok[1]);
        for (int j = 0; j < MVR_MAX_ARGS; j++) e->args[j] = num(tok[2 + j]);
        e->ret = num(tok[8]);
        for (int t = 9; t < nt; t++) {
          int j = tok[t][0] - '0';
          if (j < 0 || j >= MVR_MAX_ARGS || tok[t][1] != '=') die("bad buffer item in L");
          free(bufs[j]);
          bufs[j] = unhex(tok[t] + 2, &e->buf_len[j]);
          e->buf[j] = bufs[j];
        }
        n_events++;
        drain();
        break;
      }
      case 'F': {
        if (nt < 8) die("F needs NR and six arguments");
        if (q_head + q_len >= q_cap) {
          q_cap = (q_head + q_len + 1) * 2;
          queue = xrealloc(queue, q_cap * sizeof *queue);
        }
        struct call_item *it = &queue[q_head + q_len++];
        memset(it, 0, sizeof *it);
        it->call.nr = (uint32_t)num(tok[1]);
        for (int j = 0; j < MVR_MAX_ARGS; j++) it->call.args[j] = num(tok[2 + j]);
        for (int t = 8; t < nt; t++) {
          int j = tok[t][0] - '0';
          if (j < 0 || j >= MVR_MAX_ARGS || (tok[t][1] != '=' && tok[t][1] != '#')) die("bad buffer item in F");
          if (tok[t][1] == '=') {
            free(it->bufs[j]);
            it->bufs[j] = unhex(tok[t] + 2, &it->call.buf_len[j]);
            it->call.buf[j] = it->bufs[j];
          } else {
            it->call.buf_len[j] = (uint64_t)num(tok[t] + 2);
          }
        }
        drain();
        break;
      }
      default: die("unknown line");
    }
    /* Compact the queue when it is empty so it does not grow without bound. */
    if (q_len == 0) q_head = 0;
  }
  reset_stream();
  free(events);
  free(event_bufs);
  free(queue);
  free(state);
  return 0;
}
