/* Retirement reports: the list of retirements, and the text that says where each version was
 * (the leader's event, the follower's last call, the rule that decided). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mvr_rules.h"
#include "monitor.h"

retirement retired[MAX_RETIRE];
int n_retired;

/* Finds leader event `index` in ring `ring` (it is there when index >= the follower's low water).
 * The header is copied into *hdr (the caller reads it from there, never from the ring again). */
static const mvr_rec *find_event(unsigned ring, uint64_t index, mvr_event *ev, mvr_rec *hdr) {
  mvr_ringctl *rc = &shm->ring[ring];
  uint64_t pos = rc->tail, head = __atomic_load_n(&rc->head, __ATOMIC_ACQUIRE), size = shm->data_size;
  const uint8_t *data = ring_data + (uint64_t)ring * size;
  mvr_ringrec rr;
  while (mvr_ring_read(data, size, pos, head, &rr) == MVR_RR_OK) {
    if (rr.h.kind == MVR_REC_EVENT && rr.h.index == index) {
      memset(ev, 0, sizeof *ev);
      ev->index = rr.h.index;
      ev->nr = rr.h.nr;
      ev->ret = rr.h.ret;
      for (int i = 0; i < 6; i++) {
        ev->args[i] = rr.h.args[i];
        ev->buf[i] = rr.h.len[i] ? rr.buf[i] : NULL; /* NULL for a split event's (in chunks) */
        ev->buf_len[i] = ev->buf[i] ? rr.h.len[i] : 0;
      }
      *hdr = rr.h;
      return hdr;
    }
    pos += rr.h.size;
  }
  return NULL;
}

/* Which task pair's leader event is producer `p` (mvr_ring.h, "Order across tasks"), among those
 * not yet released; -1 when none is (its leader task has not recorded it yet). */
static int find_producer(uint64_t p, uint64_t *index, char *text, size_t cap) {
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    uint64_t pos = rc->tail, head = __atomic_load_n(&rc->head, __ATOMIC_ACQUIRE), size = shm->data_size;
    const uint8_t *data = ring_data + (uint64_t)k * size;
    mvr_ringrec rr;
    while (mvr_ring_read(data, size, pos, head, &rr) == MVR_RR_OK) {
      if (rr.h.kind == MVR_REC_EVENT && (rr.h.flags & MVR_RECF_PRODUCER) && rr.h.prod == p) {
        mvr_event ev;
        memset(&ev, 0, sizeof ev);
        ev.index = rr.h.index;
        ev.nr = rr.h.nr;
        ev.ret = rr.h.ret;
        for (int i = 0; i < 6; i++) {
          ev.args[i] = rr.h.args[i];
          ev.buf[i] = rr.h.len[i] ? rr.buf[i] : NULL;
          ev.buf_len[i] = rr.h.len[i];
        }
        mvr_format_event(text, cap, &ev, !(rr.h.flags & MVR_RECF_NORET));
        *index = rr.h.index;
        return (int)k;
      }
      if (rr.h.kind == MVR_REC_EVENT && rr.h.prod > p) break; /* stamps grow along a ring */
      pos += rr.h.size;
    }
  }
  return -1;
}

/* The text of rule `idx` of the rules module, for reports (the module is a data table to the
 * monitor: it is opened, never run). */
static void rule_text(char *out, size_t cap, uint32_t idx) {
  static void *mod;
  static const char *loaded;
  static const mvr_rule_info *info;
  static const uint32_t *count;
  if (idx != MVR_RULE_DEFAULT && loaded != follower.rules) { /* the follower's rules changed (an update, a promotion) */
    if (mod) dlclose(mod);
    mod = NULL;
    info = NULL;
    count = NULL;
    loaded = follower.rules;
  }
  if (idx != MVR_RULE_DEFAULT && !mod && follower.rules && *follower.rules) {
    mod = dlopen(follower.rules, RTLD_LAZY | RTLD_LOCAL);
    if (mod) {
      info = dlsym(mod, "mvr_rules_info");
      count = dlsym(mod, "mvr_rules_count");
    }
  }
  mvr_format_rule(out, cap, info, count ? *count : 0, idx);
}

/* Per thread pair: the leader event the follower was at, and its last call, strace-like. */
char *context_lines(void) {
  mvr_strbuf b = MVR_STRBUF_INIT;
  for (unsigned k = 0; k < MVR_MAX_RINGS; k++) {
    mvr_ringctl *rc = &shm->ring[k];
    if (!rc->in_use) continue;
    char lev[1024] = "(no longer in the ring)", fcall[1024] = "(none yet)";
    uint64_t event = rc->consumed;
    /* The leader may not have recorded the follower's next event yet: give it a moment, so that
     * the report can name it. */
    for (int i = 0; i < 40 && event >= rc->events && !rc->leader_eof && leader.state == P_RUNNING; i++) {
      struct timespec ms5 = {0, 5000000};
      nanosleep(&ms5, NULL);
    }
    mvr_event ev;
    mvr_rec hdr;
    const mvr_rec *r = find_event(k, event, &ev, &hdr);
    if (r) mvr_format_event(lev, sizeof lev, &ev, !(r->flags & MVR_RECF_NORET));
    else if (event >= rc->events)
      snprintf(lev, sizeof lev, "(not recorded yet: the leader has %llu events)", (unsigned long long)rc->events);
    if (rc->fcur.valid) {
      mvr_call c;
      memset(&c, 0, sizeof c);
      c.nr = rc->fcur.nr;
      for (int i = 0; i < 6; i++) c.args[i] = rc->fcur.args[i];
      mvr_format_call(fcall, sizeof fcall, &c);
    }
    char rule[512] = "(no decision yet)";
    if (rc->follower_calls) rule_text(rule, sizeof rule, rc->last_rule);
    if (k) mvr_sb_printf(&b, "  task pair #%u:\n", k);
    mvr_sb_printf(
        &b,
        "  leader:   %s (event #%llu)\n  follower: %s (its last syscall, #%llu%s)\n  rule:     %s (its last decision)\n",
        lev, (unsigned long long)event, fcall, (unsigned long long)rc->follower_calls,
        rc->in_local ? "; blocked in it now, a call it makes itself: a lock or a condition?" : "", rule);
    uint64_t w = rc->order_wait;
    if (w) {
      /* Order across tasks: this follower task waits until another takes an earlier producer. */
      char ptext[1024];
      uint64_t pidx = 0;
      int m = find_producer(w - 1, &pidx, ptext, sizeof ptext);
      if (m >= 0)
        mvr_sb_printf(&b,
                      "  order:    waits for task pair #%d to take its leader event #%llu first, which the leader made "
                      "before this one and another task may have observed: %s\n",
                      m, (unsigned long long)pidx, ptext);
      else
        mvr_sb_printf(
            &b, "  order:    waits for an earlier leader event another task has not recorded yet (producer #%llu)\n",
            (unsigned long long)(w - 1));
    }
  }
  return mvr_sb_take(&b);
}

void add_retirement(const char *reason, uint64_t event, char *detail) {
  if (n_retired < MAX_RETIRE) {
    retired[n_retired].pid = follower.pid;
    retired[n_retired].reason = reason;
    retired[n_retired].event = event;
    retired[n_retired].detail = detail;
    n_retired++;
  }
  fprintf(stderr, "mvr-monitor: follower (pid %d) retired: %s at leader event #%llu\n%s", follower.pid, reason,
          (unsigned long long)event, detail);
  if (opt.follower_log) fprintf(stderr, "mvr-monitor: the follower's output is in %s\n", opt.follower_log);
  fflush(stderr);
  follower_gone(reason, 1);
}
