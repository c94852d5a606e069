/* reports.c — follower: the retirement report (why, the leader's event, the follower's call, the
 * rule), written for the monitor and into the follower's log before the process exits. */
#include "agent.h"

/* ---- follower: reports ----------------------------------------------------------------------- */

static size_t rule_text(char *out, size_t cap, uint32_t rule) {
  if (rule == MVR_RULE_DEFAULT || !g_rules.info || rule >= g_rules.count)
    return (size_t)snprintf(out, cap, "default rule (a syscall matches itself)");
  const mvr_rule_info *ri = &g_rules.info[rule];
  return (size_t)snprintf(out, cap, "%s:%u:%u%s%s: %s", ri->file, ri->line, ri->column, ri->name && *ri->name ? " @" : "",
                          ri->name ? ri->name : "", ri->text ? ri->text : "");
}

static volatile uint32_t g_report_lock;

/* Writes the report into the shared header (for the monitor) and the follower's log, then exits. */
void __attribute__((noreturn)) follower_retire(uint32_t kind, const char *reason, const mvr_call *call,
                                                      uint64_t event, uint32_t rule) {
  tstate *ts = t_ts;
  spin_lock(&g_report_lock); /* one report per process; other threads wait for the exit */
  char *r = g_agent.shm->report;
  size_t cap = MVR_REPORT_MAX, n = 0;
#define ADD(...) do { if (n < cap) n += (size_t)snprintf(r + n, cap - n, __VA_ARGS__); } while (0)
  ADD("%s at leader event #%llu", kind == MVR_REPORT_EXPECTED_DIVERGE ? "expected divergence" : kind == MVR_REPORT_UNSUPPORTED ? "unsupported" : kind == MVR_REPORT_INTERNAL ? "runtime error" : "divergence",
      (unsigned long long)event);
  if (ts && ts->ring) ADD(" of task pair #%u", ts->ring);
  ADD(": %s\n", reason ? reason : "no rule reconciles the follower's call");
  int eof = 0;
  const mvr_event *ev = ts ? view_get(ts, event, &eof) : NULL;
  ADD("  leader:   ");
  if (ev) {
    if (n < cap) n += mvr_format_event(r + n, cap - n, ev, !(held(ts, event)->flags & MVR_RECF_NORET));
  } else {
    ADD("%s", eof ? "(the leader has no more events)" : "(not recorded yet)");
  }
  ADD("\n  follower: ");
  if (call && n < cap) n += mvr_format_call(r + n, cap - n, call);
  ADD("\n  rule:     ");
  if (n < cap) n += rule_text(r + n, cap - n, rule);
  ADD("\n");
#undef ADD
  if (n >= cap) n = cap - 1;
  r[n] = 0;
  g_agent.shm->report_event = event;
  g_agent.shm->report_rule = rule;
  g_agent.shm->report_ring = ts ? ts->ring : 0;
  __atomic_store_n(&g_agent.shm->report_kind, kind, __ATOMIC_SEQ_CST);
  RAW3(SYS_write, 2, "mvr-agent: follower retired: ", 29);
  RAW3(SYS_write, 2, r, n);
  RAW1(SYS_exit_group, MVR_FOLLOWER_REPORT_EXIT);
  __builtin_unreachable();
}
