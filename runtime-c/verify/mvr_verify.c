/* mvr_verify.c — the native `mvrc verify`: the rule module that `mvrc build` generates (rules.c,
 * included below, with the runtime's matcher mvr_matcher.h) driven over two recorded runs.
 * compiler/traces/native.ts builds it (one program per rule file, cached by content hash) and
 * streams it the traces' events in the binary form below, thread pair by thread pair, as the
 * readers of compiler/traces/ normalise them; it prints the findings and per-pair summaries, which
 * native.ts turns into the same findings as the reference interpreter's (docs/traces.md).
 *
 * Input (stdin), little-endian records, each `u8 type, u32 pair`, then:
 *   'P'  a new thread pair (numbered from 0 in the order they come)
 *   'L'  a leader event: u32 nr, u8 bufmask, i64 args[6], i64 ret, per bit j of bufmask: u32 len, bytes
 *   'F'  a follower call: u32 nr, u8 inmask, u8 outmask, u8 gotmask, u8 noret, i64 args[6],
 *        i64 ret, u32 caps[6], then per bit of inmask (input bytes) and of gotmask (the bytes
 *        its trace shows it received) u32 len, bytes; outmask: the out_bytes parameters
 *   'E'  the leader thread has no more events     'X'  the follower thread has no more calls
 *   'Q'  end of input (pair 0)
 * Output (stdout), text lines:
 *   D PAIR KIND FIDX LIDX RULE EXTRA HEX   a finding; KIND: div exp sbytes sret fdiv fexp left;
 *        FIDX/LIDX follower call / leader event index (-1: none), RULE (-1: default),
 *        EXTRA: the argument (sbytes) or the result given (sret); HEX: reason or bytes given
 *   S PAIR CALLS RULE,RULE...              a pair's follower calls decided and rules used
 *   END complete|stopped
 * With --keep-going each pair stops at its own first finding; without it, the first finding that
 * is not an expected divergence stops the program (after the summaries). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The leader-only rules that consume events in a step (the matcher's hook, a no-op in the
 * runtime's modules): verify reports them among the rules used. */
static void mvr_verify_skipped(uint32_t rid);
#define MVR_SKIPPED_BY(rid) mvr_verify_skipped(rid)
#include "rules.c"

static void die(const char *msg) {
  fprintf(stderr, "mvr-verify: %s\n", msg);
  exit(2);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL) die("out of memory");
  return q;
}

/* ---- input ---- */

static uint8_t in_buf[1 << 20];
static size_t in_len, in_pos;

static void in_read(void *dst, size_t n) {
  uint8_t *d = dst;
  while (n > 0) {
    if (in_pos == in_len) {
      in_len = fread(in_buf, 1, sizeof in_buf, stdin);
      in_pos = 0;
      if (in_len == 0) die("unexpected end of input");
    }
    size_t k = in_len - in_pos < n ? in_len - in_pos : n;
    memcpy(d, in_buf + in_pos, k);
    in_pos += k;
    d += k;
    n -= k;
  }
}

static uint32_t in_u32(void) {
  uint8_t b[4];
  in_read(b, 4);
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int64_t in_i64(void) {
  uint8_t b[8];
  in_read(b, 8);
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
  return (int64_t)v;
}

/* A fresh buffer (never NULL, even when empty: a present buffer differs from none). */
static uint8_t *in_bytes(uint64_t *len) {
  uint32_t n = in_u32();
  uint8_t *b = xrealloc(NULL, n);
  in_read(b, n);
  *len = n;
  return b;
}

/* ---- pairs ---- */

struct fcall {
  int finish; /* an X record */
  int started;
  uint64_t at; /* the leader's low-water mark when the call was first stepped */
  mvr_call call;
  uint8_t outmask, gotmask, noret;
  int64_t ret;
  uint8_t *in[MVR_MAX_ARGS];
  uint8_t *got[MVR_MAX_ARGS];
  uint64_t got_len[MVR_MAX_ARGS];
};

struct pair {
  void *state;
  mvr_leader_view view;
  mvr_event *lev; /* lev[lstart + k] is leader event lbase + k */
  size_t lstart, lcount, lcap;
  uint64_t lbase;
  int leof;
  struct fcall *fq;
  size_t fhead, flen, fcap;
  uint64_t calls;
  int stopped;
  int fin_started;
  uint64_t fin_at;
  uint8_t *used; /* per rule id, and the default match at mvr_rules_count */
};

static struct pair *pairs;
static size_t n_pairs;
static int keep_going;
static int stop_all;

/* Leader-only rules of the current step, kept only if the step is. */
static uint32_t skipped[4 * MVR_MAX_LEADER_ACTIONS];
static size_t n_skipped;

static void mvr_verify_skipped(uint32_t rid) {
  if (n_skipped < sizeof skipped / sizeof skipped[0]) skipped[n_skipped++] = rid;
}

static void use_rule(struct pair *p, uint32_t rid) { p->used[rid == MVR_RULE_DEFAULT ? mvr_rules_count : rid] = 1; }

static void commit_skipped(struct pair *p) {
  for (size_t i = 0; i < n_skipped; i++) use_rule(p, skipped[i]);
  n_skipped = 0;
}

static const mvr_event *view_get(void *ctx, uint64_t index, int *eof) {
  struct pair *p = ctx;
  if (index < p->lbase) die("a released leader event was read");
  if (index - p->lbase < p->lcount) return &p->lev[p->lstart + (index - p->lbase)];
  *eof = p->leof;
  return NULL;
}

static struct pair *pair_at(uint32_t k) {
  if (k >= n_pairs) die("unknown pair");
  return &pairs[k];
}

static void new_pair(uint32_t k) {
  if (k != n_pairs) die("pairs out of order");
  pairs = xrealloc(pairs, (n_pairs + 1) * sizeof *pairs);
  struct pair *p = &pairs[n_pairs++];
  memset(p, 0, sizeof *p);
  p->state = aligned_alloc(16, (mvr_rules_state_size() + 15) / 16 * 16);
  if (p->state == NULL) die("out of memory");
  mvr_rules_reset(p->state, 0);
  p->used = xrealloc(NULL, mvr_rules_count + 1);
  memset(p->used, 0, mvr_rules_count + 1);
}

/* Frees the leader events below the matcher's low-water mark. */
static void release(struct pair *p) {
  uint64_t low = mvr_rules_low_water(p->state);
  while (p->lcount > 0 && p->lbase < low) {
    mvr_event *e = &p->lev[p->lstart];
    for (int j = 0; j < MVR_MAX_ARGS; j++) free((void *)(uintptr_t)e->buf[j]);
    p->lstart++;
    p->lcount--;
    p->lbase++;
  }
  if (p->lcount == 0) p->lstart = 0;
}

static void free_call(struct fcall *c) {
  for (int j = 0; j < MVR_MAX_ARGS; j++) {
    free(c->in[j]);
    free(c->got[j]);
  }
}

static void print_hex(const uint8_t *b, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) printf("%02x", b[i]);
  if (n == 0) printf("-");
}

static void print_reason(const char *r) { print_hex((const uint8_t *)(r ? r : ""), r ? strlen(r) : 0); }

static int64_t rule_no(uint32_t rid) { return rid == MVR_RULE_DEFAULT ? -1 : (int64_t)rid; }

static void finding(uint32_t k, const char *kind, int64_t fidx, int64_t lidx, uint32_t rid, int64_t extra) {
  printf("D %" PRIu32 " %s %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " ", k, kind, fidx, lidx, rule_no(rid), extra);
}

static int bufeq_prefix(const uint8_t *given, uint64_t gl, const uint8_t *from, uint64_t fl) {
  if (fl > gl) fl = gl; /* a longer leader buffer, cut at the follower's capacity */
  return mvr_bufeq(given, gl, from, fl);
}

/* The results a rule gave the follower that its trace shows it did not receive (verify.ts,
 * staleResult): 1 when reported. */
static int stale(uint32_t k, struct pair *p, const struct fcall *c, const mvr_step *out) {
  if (out->rule == MVR_RULE_DEFAULT) return 0;
  if (out->follower_action != MVR_F_MATCH && out->follower_action != MVR_F_EMULATE) return 0;
  int emulate = out->follower_action == MVR_F_EMULATE;
  const mvr_event *lev = NULL;
  if (!emulate) {
    int eof = 0;
    lev = view_get(p, out->event, &eof);
  }
  int64_t fidx = (int64_t)p->calls - 1;
  int64_t lidx = lev ? (int64_t)out->event : (int64_t)c->at;
  for (int j = 0; j < MVR_MAX_ARGS; j++) {
    if (out->out[j] == NULL || !((c->outmask >> j) & 1)) continue;
    int rewritten = emulate || !(lev ? bufeq_prefix(out->out[j], out->out_len[j], lev->buf[j], lev->buf_len[j])
                                     : out->out_len[j] == 0);
    if (!rewritten) continue;
    if (!((c->gotmask >> j) & 1)) continue;
    if (mvr_bufeq(out->out[j], out->out_len[j], c->got[j], c->got_len[j])) continue;
    finding(k, "sbytes", fidx, lidx, out->rule, j);
    print_hex(out->out[j], out->out_len[j]);
    printf("\n");
    return 1;
  }
  int rewritten_ret = emulate || (lev && out->ret != lev->ret);
  if (rewritten_ret && !c->noret && out->ret != c->ret) {
    finding(k, "sret", fidx, lidx, out->rule, out->ret);
    printf("-\n");
    return 1;
  }
  return 0;
}

/* A finding stops its pair; without --keep-going, any but an expected divergence stops all. */
static void stop_pair(struct pair *p, int expected) {
  p->stopped = 1;
  if (!keep_going && !expected) stop_all = 1;
}

/* Steps the pair's queued follower calls until one has to wait for the leader. */
static void drain(uint32_t k) {
  struct pair *p = pair_at(k);
  p->view.ctx = p; /* pairs move when the array grows */
  p->view.get = view_get;
  while (!p->stopped && p->flen > 0) {
    struct fcall *c = &p->fq[p->fhead];
    mvr_step out;
    n_skipped = 0;
    if (c->finish) {
      if (!p->fin_started) {
        p->fin_started = 1;
        p->fin_at = mvr_rules_low_water(p->state);
      }
      int st = mvr_rules_finish(p->state, &p->view, &out);
      int64_t last = (int64_t)p->calls - 1;
      if (st == MVR_NEED_MORE && out.n_leader > 0) {
        commit_skipped(p);
        release(p);
        continue;
      }
      if (st == MVR_NEED_MORE && !p->leof) return;
      if (st == MVR_OK) {
        commit_skipped(p);
        p->stopped = 1;
      } else if (st == MVR_EXPECTED_DIVERGE) {
        use_rule(p, out.rule);
        finding(k, "fexp", -1, (int64_t)p->fin_at, out.rule, 0);
        print_reason(out.reason);
        printf("\n");
        stop_pair(p, 1);
      } else if (st == MVR_DIVERGE && out.reason && strcmp(out.reason, MVR_REASON_LEFTOVER) == 0) {
        finding(k, "left", last, (int64_t)mvr_rules_low_water(p->state), MVR_RULE_DEFAULT, 0);
        print_reason(out.reason);
        printf("\n");
        stop_pair(p, 0);
      } else {
        finding(k, "fdiv", last, (int64_t)p->fin_at, st == MVR_NEED_MORE ? MVR_RULE_DEFAULT : out.rule, 0);
        print_reason(st == MVR_NEED_MORE ? NULL : out.reason);
        printf("\n");
        stop_pair(p, 0);
      }
    } else {
      if (!c->started) {
        c->started = 1;
        c->at = mvr_rules_low_water(p->state);
        p->calls++;
      }
      int st = mvr_rules_step(p->state, &p->view, &c->call, &out);
      if (st == MVR_PROGRESS) {
        commit_skipped(p);
        release(p);
        continue; /* the same call again */
      }
      if (st == MVR_NEED_MORE) return;
      int64_t fidx = (int64_t)p->calls - 1;
      if (st == MVR_OK) {
        use_rule(p, out.rule);
        commit_skipped(p);
        if (stale(k, p, c, &out)) stop_pair(p, 0);
      } else if (st == MVR_EXPECTED_DIVERGE) {
        use_rule(p, out.rule);
        finding(k, "exp", fidx, (int64_t)c->at, out.rule, 0);
        print_reason(out.reason);
        printf("\n");
        stop_pair(p, 1);
      } else {
        finding(k, "div", fidx, (int64_t)c->at, out.rule, 0);
        print_reason(out.reason);
        printf("\n");
        stop_pair(p, 0);
      }
    }
    free_call(c);
    p->fhead++;
    p->flen--;
    release(p);
  }
  if (p->flen == 0) p->fhead = 0;
}

static struct fcall *push_call(struct pair *p) {
  if (p->fhead > 0 && p->fhead + p->flen == p->fcap) {
    memmove(p->fq, p->fq + p->fhead, p->flen * sizeof *p->fq);
    p->fhead = 0;
  }
  if (p->fhead + p->flen == p->fcap) {
    p->fcap = p->fcap ? p->fcap * 2 : 64;
    p->fq = xrealloc(p->fq, p->fcap * sizeof *p->fq);
  }
  struct fcall *c = &p->fq[p->fhead + p->flen++];
  memset(c, 0, sizeof *c);
  return c;
}

static void read_leader(struct pair *p) {
  if (p->lstart > 0 && p->lstart + p->lcount == p->lcap) {
    memmove(p->lev, p->lev + p->lstart, p->lcount * sizeof *p->lev);
    p->lstart = 0;
  }
  if (p->lstart + p->lcount == p->lcap) {
    p->lcap = p->lcap ? p->lcap * 2 : 64;
    p->lev = xrealloc(p->lev, p->lcap * sizeof *p->lev);
  }
  mvr_event *e = &p->lev[p->lstart + p->lcount];
  memset(e, 0, sizeof *e);
  e->index = p->lbase + p->lcount;
  e->nr = in_u32();
  uint8_t mask;
  in_read(&mask, 1);
  for (int j = 0; j < MVR_MAX_ARGS; j++) e->args[j] = in_i64();
  e->ret = in_i64();
  for (int j = 0; j < MVR_MAX_ARGS; j++)
    if ((mask >> j) & 1) e->buf[j] = in_bytes(&e->buf_len[j]);
  p->lcount++;
}

static void read_follower(struct pair *p) {
  struct fcall *c = push_call(p);
  c->call.nr = in_u32();
  uint8_t m[4];
  in_read(m, 4);
  c->outmask = m[1];
  c->gotmask = m[2];
  c->noret = m[3];
  for (int j = 0; j < MVR_MAX_ARGS; j++) c->call.args[j] = in_i64();
  c->ret = in_i64();
  for (int j = 0; j < MVR_MAX_ARGS; j++) c->call.buf_len[j] = in_u32();
  for (int j = 0; j < MVR_MAX_ARGS; j++) {
    if (!((m[0] >> j) & 1)) continue;
    c->in[j] = in_bytes(&c->call.buf_len[j]);
    c->call.buf[j] = c->in[j];
  }
  for (int j = 0; j < MVR_MAX_ARGS; j++)
    if ((m[2] >> j) & 1) c->got[j] = in_bytes(&c->got_len[j]);
}

static void summaries(int stopped) {
  for (size_t k = 0; k < n_pairs; k++) {
    struct pair *p = &pairs[k];
    printf("S %zu %" PRIu64 " ", k, p->calls);
    int first = 1;
    if (p->used[mvr_rules_count]) {
      printf("-1");
      first = 0;
    }
    for (uint32_t r = 0; r < mvr_rules_count; r++) {
      if (!p->used[r]) continue;
      printf("%s%" PRIu32, first ? "" : ",", r);
      first = 0;
    }
    printf("%s\n", first ? "-" : "");
  }
  printf("END %s\n", stopped ? "stopped" : "complete");
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (mvr_rules_abi != MVR_RULES_ABI) die("rule module ABI mismatch");
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--keep-going") == 0) keep_going = 1;
    else die("usage: mvr-verify [--keep-going] < events");
  }
  for (;;) {
    uint8_t type;
    in_read(&type, 1);
    uint32_t k = in_u32();
    switch (type) {
      case 'P': new_pair(k); break;
      case 'L': {
        struct pair *p = pair_at(k);
        read_leader(p);
        drain(k);
        break;
      }
      case 'F': {
        struct pair *p = pair_at(k);
        read_follower(p);
        drain(k);
        break;
      }
      case 'E':
        pair_at(k)->leof = 1;
        drain(k);
        break;
      case 'X':
        push_call(pair_at(k))->finish = 1;
        drain(k);
        break;
      case 'Q': summaries(0); return 0;
      default: die("bad record");
    }
    if (stop_all) {
      summaries(1);
      return 0;
    }
  }
}
