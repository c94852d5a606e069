/* reports.c — follower: the retirement report (why, the leader's event, the follower's call, the
 * rule), written for the monitor and into the follower's log before the process exits. */
#include "agent.h"

/* ---- follower: reports ----------------------------------------------------------------------- */

static volatile uint32_t g_report_lock;

/* Writes the report into the shared header (for the monitor) and the follower's log, then exits. */
void __attribute__((noreturn))
follower_retire(uint32_t kind, const char *reason, const mvr_call *call, uint64_t event, uint32_t rule) {
  tstate *ts = t_ts;
  spin_lock(&g_report_lock); /* one report per process; other threads wait for the exit */
  /* Straight into the shared header, cut at its size: no malloc on the trap path. */
  mvr_strbuf b;
  mvr_sb_fixed(&b, g_agent.shm->report, MVR_REPORT_MAX);
  /* A fault handler's call the leader did not make (a crash report): the follower crashed. */
  int crashed = kind == MVR_REPORT_DIVERGE && t_fault_sig;
  if (crashed) kind = MVR_REPORT_CRASH;
  mvr_sb_printf(&b, "%s at leader event #%llu",
                kind == MVR_REPORT_EXPECTED_DIVERGE ? "expected divergence"
                : kind == MVR_REPORT_UNSUPPORTED    ? "unsupported"
                : kind == MVR_REPORT_INTERNAL       ? "runtime error"
                : kind == MVR_REPORT_CRASH          ? "crash"
                                                    : "divergence",
                (unsigned long long)event);
  if (ts && ts->ring) mvr_sb_printf(&b, " of task pair #%u", ts->ring);
  if (crashed)
    mvr_sb_printf(
        &b,
        ": the follower crashed: signal %d (SIG%s) at address 0x%llx; its own fault handler then made the call below\n",
        t_fault_sig, sigabbrev_np(t_fault_sig) ? sigabbrev_np(t_fault_sig) : "?", (unsigned long long)t_fault_addr);
  else mvr_sb_printf(&b, ": %s\n", reason ? reason : "no rule reconciles the follower's call");
  int eof = 0;
  const mvr_event *ev = ts ? view_get(ts, event, &eof) : NULL;
  size_t room;
  char *at;
  mvr_sb_add(&b, "  leader:   ");
  if (ev) {
    at = mvr_sb_tail(&b, 0, &room);
    mvr_sb_advance(&b, mvr_format_event(at, room, ev, !(held(ts, event)->flags & MVR_RECF_NORET)));
  } else {
    mvr_sb_add(&b, eof ? "(the leader has no more events)" : "(not recorded yet)");
  }
  mvr_sb_add(&b, "\n  follower: ");
  if (call) {
    at = mvr_sb_tail(&b, 0, &room);
    mvr_sb_advance(&b, mvr_format_call(at, room, call));
  }
  /* Where they differ: the first argument that does not mean the same, and for bytes the first
   * differing byte with the bytes around it (the lines above cut long buffers). */
  if (ev && call && (kind == MVR_REPORT_DIVERGE || kind == MVR_REPORT_EXPECTED_DIVERGE)) {
    mvr_sb_add(&b, "\n  differs:  ");
    at = mvr_sb_tail(&b, 0, &room);
    mvr_sb_advance(&b, mvr_format_difference(at, room, ev, call));
  }
  mvr_sb_add(&b, "\n  rule:     ");
  at = mvr_sb_tail(&b, 0, &room);
  mvr_sb_advance(&b, mvr_format_rule(at, room, g_rules.info, g_rules.info ? g_rules.count : 0, rule));
  mvr_sb_add(&b, "\n");
  g_agent.shm->report_event = event;
  g_agent.shm->report_rule = rule;
  g_agent.shm->report_ring = ts ? ts->ring : 0;
  __atomic_store_n(&g_agent.shm->report_kind, kind, __ATOMIC_SEQ_CST);
  RAW3(SYS_write, agent_errfd(), "mvr-agent: follower retired: ", 29);
  RAW3(SYS_write, agent_errfd(), b.p, b.len);
  RAW1(SYS_exit_group, MVR_FOLLOWER_REPORT_EXIT);
  __builtin_unreachable();
}
