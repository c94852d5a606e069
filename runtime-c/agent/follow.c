/* follow.c — follower: the leader view over the ring (the events the rule module sees), loading the
 * rule module, and one call (matched against the leader's events, then applied). */
#include "agent.h"
#include "mvr_syscalls.h"

/* ---- follower: the leader view over the ring -------------------------------------------------- */

/* A split event (MVR_RECF_SPLIT): its header, then chunk records with its bytes, which the follower
 * copies into its own memory as they come and whose ring room it frees at once when it holds no
 * earlier event (else the leader waits for that room, bounded as ever: rules that hold events
 * across a larger-than-ring read are the limit). */
static void split_begin(tstate *ts, const mvr_rec *r) {
  if (ts->split_buf) agent_fatal("corrupt ring record");
  uint64_t total = 0;
  for (unsigned i = 0; i < 6; i++) total += r->len[i];
  ts->split_hdr = *r;
  ts->split_total = total;
  ts->split_got = 0;
  ts->split_buf = raw_alloc(total ? total : 1);
  if (!ts->split_buf) agent_fatal("cannot allocate memory for a large leader event");
  ts->scan_pos += r->size;
  if (ts->low == ts->scan_index) __atomic_store_n(&ts->rc->tail, ts->scan_pos, __ATOMIC_SEQ_CST);
}

/* Takes one chunk; returns 1 when the event is complete (scan_pos then stays at the last chunk,
 * which the caller skips like the event's own record). */
static int split_take(tstate *ts, const mvr_ringrec *rr) {
  mvr_ringctl *rc = ts->rc;
  uint64_t n = rr->h.len[0];
  if (!ts->split_buf || rr->h.index != ts->split_hdr.index || n > ts->split_total - ts->split_got)
    agent_fatal("corrupt ring record");
  memcpy(ts->split_buf + ts->split_got, rr->buf[0], n);
  ts->split_got += n;
  if (ts->split_got == ts->split_total) return 1;
  ts->scan_pos += rr->h.size;
  if (ts->low == ts->scan_index) {
    __atomic_store_n(&rc->tail, ts->scan_pos, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&rc->leader_waiting, __ATOMIC_SEQ_CST)) {
      __atomic_add_fetch(&rc->tail_seq, 1, __ATOMIC_SEQ_CST);
      futex_wake(&rc->tail_seq);
    }
  }
  return 0;
}

const mvr_event *view_get(void *ctx, uint64_t index, int *eof) {
  tstate *ts = ctx;
  mvr_ringctl *rc = ts->rc;
  if (eof) *eof = 0;
  if (index < ts->low) return NULL;
  while (index >= ts->scan_index && ts->scan_index - ts->low < WIN) {
    int leader_done = __atomic_load_n(&rc->leader_eof, __ATOMIC_SEQ_CST);
    uint64_t head = __atomic_load_n(&rc->head, __ATOMIC_ACQUIRE);
    if (ts->scan_pos >= head) {
      if (eof && (leader_done || !g_agent.shm->follower_attached || ts->idle_eof)) *eof = 1;
      return NULL;
    }
    mvr_ringrec rr;
    if (mvr_ring_read(ts->data, g_agent.shm->data_size, ts->scan_pos, head, &rr) != MVR_RR_OK)
      agent_fatal("corrupt ring record");
    const mvr_rec *r = &rr.h;
    if (r->kind == MVR_REC_PAD) {
      ts->scan_pos += r->size;
      /* Nothing held: released at once, so that a role switch sees this ring fully read. */
      if (ts->low == ts->scan_index) __atomic_store_n(&rc->tail, ts->scan_pos, __ATOMIC_SEQ_CST);
      continue;
    }
    if (r->kind == MVR_REC_CHUNK) {
      if (!split_take(ts, &rr)) continue;
      uint32_t last = rr.h.size;
      rr.h = ts->split_hdr; /* complete: the event, its bytes in the follower's own memory */
      rr.h.size = last;     /* what is skipped now: the last chunk */
      uint64_t off = 0;
      for (unsigned i = 0; i < 6; i++) {
        rr.buf[i] = ts->split_buf + off;
        off += rr.h.len[i];
      }
    } else if (r->kind == MVR_REC_EVENT && (r->flags & MVR_RECF_SPLIT)) {
      split_begin(ts, r);
      continue;
    }
    if (r->kind == MVR_REC_AGENT) {
      /* A promoted leader's epoll registration: its user data for this fd. */
      if (r->kind == MVR_REC_AGENT && r->args[0] >= 0 && r->args[0] < FDMAX)
        lmap_put((uint64_t)r->args[1], g_fdata[r->args[0]]);
      ts->scan_pos += r->size;
      /* Nothing held: released at once, so that a role switch sees this ring fully read. */
      if (ts->low == ts->scan_index) __atomic_store_n(&rc->tail, ts->scan_pos, __ATOMIC_SEQ_CST);
      continue;
    }
    if (r->kind == MVR_REC_SIGNAL) {
      /* The matcher cannot look past a signal: the follower delivers it first (follower_call). */
      ts->pending_sig = (int)r->nr;
      ts->pending_sig_size = r->size;
      ts->pending_sig_during = (r->args[0] & MVR_SIG_DURING) ? (uint32_t)r->args[1] : 0;
      for (unsigned i = 0; i < 6; i++) ts->pending_sig_args[i] = r->args[i];
      memset(&ts->pending_sig_info, 0, sizeof ts->pending_sig_info);
      if (rr.buf[0] && r->len[0] >= sizeof(siginfo_t)) memcpy(&ts->pending_sig_info, rr.buf[0], sizeof(siginfo_t));
      return NULL;
    }
    if (r->index != ts->scan_index) agent_fatal("corrupt ring record");
    parsed *pe = &ts->win[ts->scan_index % WIN];
    pe->pos = ts->scan_pos;
    pe->flags = r->flags;
    pe->prod = r->prod;
    pe->ev.index = r->index;
    pe->ev.nr = r->nr;
    pe->ev.ret = r->ret;
    unsigned slots = mvr_si_model_slots(r->nr);
    for (unsigned i = 0; i < 6; i++) {
      int k = mvr_si_kind(r->nr, i);
      pe->ev.args[i] = r->args[i];
      /* A model position (gathered data, a msghdr's parts) is there even when empty. */
      pe->ev.buf[i] =
          ((mvr_kind_is_in(k) || mvr_kind_is_out(k)) && r->args[i]) || (slots & (1u << i)) ? rr.buf[i] : NULL;
      pe->ev.buf_len[i] = r->len[i];
    }
    /* epoll_event.data is each version's own (a pointer, an index): it is taken out of the
     * comparison on both sides and translated instead (epoll_note_ctl, epoll_translate). */
    pe->ep_data = 0;
    pe->big = NULL;
    if (r->flags & MVR_RECF_SPLIT) { /* its ring room was freed with its chunks */
      pe->big = ts->split_buf;
      pe->big_len = ts->split_total;
      pe->pos = ts->scan_pos + r->size;
      ts->split_buf = NULL;
    }
    if (r->nr == SYS_epoll_ctl && pe->ev.buf[3] && pe->ev.buf_len[3] >= 12) {
      memcpy(&pe->ep_data, pe->ev.buf[3] + 4, 8);
      memset((uint8_t *)(uintptr_t)pe->ev.buf[3] + 4, 0, 8);
    }
    ts->scan_pos += r->size;
    ts->scan_index++;
  }
  if (index < ts->scan_index) return &ts->win[index % WIN].ev;
  return NULL;
}

parsed *held(tstate *ts, uint64_t index) {
  return (index >= ts->low && index < ts->scan_index) ? &ts->win[index % WIN] : NULL;
}

/* ---- follower: rule module ------------------------------------------------------------------- */

rules_api g_rules;

void follower_load_rules(const char *path) {
  /* There is no built-in matcher: without rules, mvrc passes the module of an empty rule file. */
  if (!path || !*path)
    agent_fatal(
        "no rules module (MVR_RULES is empty; mvrc run passes the empty rule file's module when no --rules is given)");
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) agent_fatal(dlerror());
  const uint32_t *abi = dlsym(h, "mvr_rules_abi");
  if (!abi || *abi != MVR_RULES_ABI) agent_fatal("rules module has a different ABI (mvr_rules_abi)");
  g_rules.state_size = (size_t(*)(void))dlsym(h, "mvr_rules_state_size");
  g_rules.reset = (void (*)(void *, uint64_t))dlsym(h, "mvr_rules_reset");
  g_rules.step = (int (*)(void *, const mvr_leader_view *, const mvr_call *, mvr_step *))dlsym(h, "mvr_rules_step");
  g_rules.low_water = (uint64_t(*)(const void *))dlsym(h, "mvr_rules_low_water");
  g_rules.finish = (int (*)(void *, const mvr_leader_view *, mvr_step *))dlsym(h, "mvr_rules_finish");
  g_rules.info = dlsym(h, "mvr_rules_info");
  const uint32_t *count = dlsym(h, "mvr_rules_count");
  if (!g_rules.state_size || !g_rules.reset || !g_rules.step || !g_rules.low_water || !g_rules.finish || !count)
    agent_fatal("rules module lacks a symbol of mvr_rules.h");
  g_rules.count = *count;
}

void follower_thread_init(tstate *ts) {
  size_t n = g_rules.state_size();
  ts->rstate = raw_alloc(n ? n : 16);
  if (!ts->rstate) agent_fatal("cannot allocate the matcher state");
  g_rules.reset(ts->rstate, 0);
}

/* ---- follower: one call ------------------------------------------------------------------------ */

static void follower_release(tstate *ts) {
  mvr_ringctl *rc = ts->rc;
  uint64_t lw = g_rules.low_water(ts->rstate);
  if (lw > ts->scan_index) lw = ts->scan_index;
  /* Taken one by one, each once the producers before it are (order.c). */
  for (uint64_t i = ts->low; i < lw; i++) order_take(ts, &ts->win[i % WIN]);
  if (lw > ts->low) {
    for (uint64_t i = ts->low; i < lw; i++) { /* split events' reassembled bytes */
      parsed *pe = &ts->win[i % WIN];
      /* The leader's time, for the clock reads the follower makes on its own (clock.c): noted as
       * the leader's reads are consumed, not as they are scanned (the scan runs up to a window ahead). */
      uint32_t nr = pe->ev.nr;
      if (nr == SYS_clock_gettime || nr == SYS_gettimeofday || nr == SYS_time) clock_note_leader(&pe->ev);
      if (pe->big) RAW2(SYS_munmap, pe->big, pe->big_len ? pe->big_len : 1);
      pe->big = NULL;
    }
    uint64_t pos = lw < ts->scan_index ? ts->win[lw % WIN].pos : ts->scan_pos;
    ts->low = lw;
    rc->consumed = lw;
    if (ts->ring == 0 && lw >= g_agent.shm->catch_target && !g_agent.shm->catch_done_ns)
      g_agent.shm->catch_done_ns = now_ns();
    __atomic_store_n(&rc->tail, pos, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&rc->leader_waiting, __ATOMIC_SEQ_CST) &&
        g_agent.shm->data_size - (rc->head - pos) >= rc->leader_want) {
      __atomic_add_fetch(&rc->tail_seq, 1, __ATOMIC_SEQ_CST);
      futex_wake(&rc->tail_seq);
    }
  }
}

/* How the follower waits for the leader's next events. Nothing it does is seen by clients (its
 * outputs are not performed), so it need not keep up event by event: while events keep coming it
 * neither spins nor asks the leader for a wake-up (a futex_wake per event), it sleeps
 * FOLLOWER_POLL_NS at a time and then consumes everything that accumulated. Measured with kv at
 * 8 connections on 2 vCPUs (bench/runtime-bench.mjs): spinning plus wake-ups took the CPU the
 * leader and its clients need, 2.2-2.4x native cost per request; polling, 1.2-1.3x. Only once
 * nothing came for FOLLOWER_IDLE_NS does it ask to be woken, so an idle follower costs nothing.
 * The leader still wakes it at once when it pauses for a role switch or ends (head_seq). */
#define FOLLOWER_POLL_NS (1000u * 1000u)
#define FOLLOWER_IDLE_NS (50u * 1000000u)

static void follower_wait_events(tstate *ts) {
  mvr_ringctl *rc = ts->rc;
  uint32_t seq = __atomic_load_n(&rc->head_seq, __ATOMIC_SEQ_CST);
  uint64_t head = __atomic_load_n(&rc->head, __ATOMIC_SEQ_CST);
  if (head != ts->scan_pos || rc->leader_eof) return;
  if (__atomic_load_n(&g_agent.shm->promote_state, __ATOMIC_SEQ_CST) == MVR_PROMOTE_REQ) {
    /* A role switch: the take-over depends on every ring, not only this one's wake-ups. */
    futex_wait(&rc->head_seq, seq, 100u * 1000u);
    return;
  }
  uint64_t t = now_ns();
  if (head != ts->wait_head || !ts->wait_start) {
    ts->wait_head = head;
    ts->wait_start = t;
  }
  if (t - ts->wait_start < FOLLOWER_IDLE_NS) {
    futex_wait(&rc->head_seq, seq, FOLLOWER_POLL_NS);
    return;
  }
  __atomic_store_n(&rc->follower_waiting, 1, __ATOMIC_SEQ_CST);
  head = __atomic_load_n(&rc->head, __ATOMIC_SEQ_CST);
  if (head == ts->scan_pos && !rc->leader_eof &&
      __atomic_load_n(&g_agent.shm->promote_state, __ATOMIC_SEQ_CST) != MVR_PROMOTE_REQ)
    futex_wait(&rc->head_seq, seq, 50 * 1000000ull);
  __atomic_store_n(&rc->follower_waiting, 0, __ATOMIC_SEQ_CST);
}

/* How long the follower waits for a leader thread's next event before it decides a call that
 * needs look-ahead as if the leader's stream ended there (follower_call). */
#define IDLE_LOOKAHEAD_NS (100u * 1000000u)

/* Matches the follower's call against the leader's events and applies the decision. With
 * `decide_only` (thread creation), the outputs are left alone: the caller performs the call. */
int64_t follower_call(uint32_t nr, const int64_t *args, int decide_only) {
  tstate *ts = t_ts;
  if (!ts) agent_fatal("a follower thread without a ring");
  mvr_ringctl *rc = ts->rc;
  mvr_step *step = &ts->step;
  mvr_call call;
  memset(&call, 0, sizeof call);
  call.nr = nr;
  unsigned arity = mvr_si_arity(nr);
  /* Iovec arrays, msghdrs, mmsghdr vectors: their gathered bytes and parts, or the capacities
   * they offer. */
  unsigned slots = mvr_si_model_slots(nr);
  model_src ms;
  if (slots) model_describe(nr, args, 0, 0, &ms);
  /* The leader records buffers whole when they are split across chunks (as the leader's cap). */
  uint64_t cap = g_agent.shm->split_events ? 0xfffffff8ull : g_agent.shm->max_buf;
  for (unsigned i = 0; i < 6; i++) {
    call.args[i] = args[i];
    if (slots & (1u << i)) {
      uint64_t n = ms.full[i] < cap ? ms.full[i] : cap;
      call.buf_len[i] = n;
      if (!ms.out[i]) call.buf[i] = model_view(&ms, i, n);
      continue;
    }
    if (i >= arity) continue;
    int k = mvr_si_kind(nr, i);
    if (mvr_kind_is_in(k) && args[i]) {
      call.buf[i] = (const uint8_t *)(uintptr_t)args[i];
      call.buf_len[i] = mvr_in_len(nr, i, args, cap);
    } else if (mvr_kind_is_out(k)) {
      call.buf_len[i] = mvr_out_cap(nr, i, args);
    }
  }
  struct epoll_event_packed blank;
  if (nr == SYS_epoll_ctl && args[3] && call.buf_len[3] >= sizeof blank) {
    memcpy(&blank, (const void *)(uintptr_t)args[3], sizeof blank);
    blank.data = 0;
    call.buf[3] = (const uint8_t *)&blank;
  }
  rc->fcur.valid = 0;
  rc->fcur.nr = nr;
  for (unsigned i = 0; i < 6; i++) rc->fcur.args[i] = args[i];
  rc->fcur.event = ts->low;
  rc->fcur.valid = 1;
  rc->follower_calls++;

  int st;
  uint64_t idle_since = 0, idle_seen = 0;
  for (;;) {
    memset(step, 0, offsetof(mvr_step, leader));
    step->n_leader = 0;
    st = g_rules.step(ts->rstate, &ts->view, &call, step);
    if (st == MVR_PROGRESS) {
      /* A long run of leader-only events before this call: they are decided; free them, go on. */
      follower_release(ts);
      idle_since = 0;
      continue;
    }
    if (st != MVR_NEED_MORE) break;
    /* The rules hold leader events and want to look further, but the leader's thread has
     * recorded nothing more for a while: it may be idle (a background thread waiting on a
     * condition; Redis's do this right after a clock read). Waiting would end in a "hang"
     * retirement; instead the call is decided as if the leader's stream ended here, and that
     * decision is taken only if it is a match (the rule state is unchanged otherwise, and the
     * wait goes on). A leader that was merely slow then finds its later events matched against
     * the follower's later calls, as without look-ahead. */
    if (ts->scan_index > ts->low) {
      uint64_t t = now_ns();
      /* At a role switch's cut, a leader thread that is not inside a recorded call makes no more
       * events in this stream: it does end here, no need to wait to decide so. */
      int cut = __atomic_load_n(&g_agent.shm->promote_state, __ATOMIC_SEQ_CST) == MVR_PROMOTE_REQ &&
                (g_agent.shm->leader_dead || !__atomic_load_n(&rc->in_call, __ATOMIC_SEQ_CST)) &&
                __atomic_load_n(&rc->head, __ATOMIC_SEQ_CST) == ts->scan_pos;
      if (!cut && (!idle_since || idle_seen != ts->scan_index)) {
        idle_since = t;
        idle_seen = ts->scan_index;
      } else if (cut || t - idle_since >= IDLE_LOOKAHEAD_NS) {
        ts->idle_eof = 1;
        memset(step, 0, offsetof(mvr_step, leader));
        step->n_leader = 0;
        st = g_rules.step(ts->rstate, &ts->view, &call, step);
        ts->idle_eof = 0;
        if (st == MVR_OK) break;
        if (st == MVR_PROGRESS) { /* decided (and kept) like a match: go on from there */
          follower_release(ts);
          idle_since = 0;
          continue;
        }
        st = MVR_NEED_MORE;
        idle_since = t;
      }
    }
    if (ts->pending_sig && ts->low == ts->scan_index) {
      /* The leader handled a signal before its next event: raise it here, and re-issue this
       * call after the handler (the rule state is unchanged after NEED_MORE). */
      int sig = ts->pending_sig;
      ts->pending_sig = 0;
      ts->scan_pos += ts->pending_sig_size;
      __atomic_store_n(&rc->tail, ts->scan_pos, __ATOMIC_SEQ_CST);
      /* Raised by take_restart, once the caller has left the agent's state alone. */
      ts->restart_sig = sig;
      ts->restart_info = ts->pending_sig_info;
      ts->restart = 1;
      return 0;
    }
    if (ts->scan_index - ts->low >= WIN)
      follower_retire(MVR_REPORT_INTERNAL, "the rules need a longer look-ahead than the runtime holds", &call, ts->low,
                      MVR_RULE_DEFAULT);
    if (ts->gen != __atomic_load_n(&g_agent.gen, __ATOMIC_ACQUIRE) || follower_take_over(ts)) {
      /* This process now leads (this thread or another took over): re-issued as the leader's,
       * the call is executed for real. */
      ts->restart = 1;
      ts->restart_sig = 0;
      return 0;
    }
    follower_wait_events(ts);
  }
  uint64_t at = step->n_leader ? step->leader[0].event : ts->low;
  if (st == MVR_DIVERGE) follower_retire(MVR_REPORT_DIVERGE, step->reason, &call, ts->low, step->rule);
  if (st == MVR_EXPECTED_DIVERGE) follower_retire(MVR_REPORT_EXPECTED_DIVERGE, step->reason, &call, at, step->rule);
  if (st != MVR_OK)
    follower_retire(MVR_REPORT_INTERNAL, "the rules module returned an unknown status", &call, ts->low, step->rule);

  rc->last_rule = step->rule;
  if (mvr_si_policy(nr) & MVR_POL_TASK) { /* the leader's creation names the new pair's ring (tasks.c) */
    const parsed *pe = step->follower_action == MVR_F_MATCH ? held(ts, step->event) : NULL;
    ts->matched_flags = pe ? pe->flags | MATCHED_CREATION : 0;
  }
  /* The events this decision consumes are taken in order before anything of it is applied: the
   * descriptors it installs, the results the program sees. */
  uint64_t lw = g_rules.low_water(ts->rstate);
  for (uint64_t i = ts->low; i < lw && i < ts->scan_index; i++) order_take(ts, &ts->win[i % WIN]);
  int64_t ret = step->ret;
  const parsed *mev = NULL;
  if (decide_only) {
    follower_release(ts);
    return 0;
  }
  switch (step->follower_action) {
    case MVR_F_EXEC:
      /* A clock read of its own gets the leader's time, not the real clock ahead of it (clock.c). */
      if (!clock_follower_own(nr, args, &ret))
        ret = mvr_raw_syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
      break;
    case MVR_F_MATCH: {
      parsed *pe = held(ts, step->event);
      if (pe && (pe->flags & MVR_RECF_TRUNCATED))
        follower_retire(MVR_REPORT_INTERNAL,
                        "the leader's event was larger than the ring's per-buffer cap (--ring-size)", &call,
                        step->event, step->rule);
      mev = pe;
    }
      /* fall through */
    case MVR_F_EMULATE:
    case MVR_F_NOP:
      for (unsigned i = 0; i < 6; i++) {
        if (!step->out[i] || !args[i] || (slots & (1u << i))) continue;
        uint64_t n = step->out_len[i];
        if (n > call.buf_len[i]) n = call.buf_len[i];
        memcpy((void *)(uintptr_t)args[i], step->out[i], n);
      }
      /* Scattered reads: the leader's bytes into the follower's own iovecs, its msghdr's parts. */
      if (slots) model_deliver(&ms, step, ret);
      break;
    default:
      follower_retire(MVR_REPORT_INTERNAL, "the rules module returned an unknown follower action", &call, ts->low,
                      step->rule);
  }
  if (step->follower_action == MVR_F_MATCH && ret >= 0 && mev) {
    /* The descriptors the leader's event created (and sent), by the model: decided on the
     * leader's event. A recvmsg/recvmmsg brings some only when the leader's control data holds
     * SCM_RIGHTS; fcntl only for F_DUPFD and the like. */
    if (creates_fds(nr, mev->ev.args) && (mvr_si_new_fds(nr) != MVR_FDS_SCM || event_scm_rights(&mev->ev)))
      follower_recv_fds(ts->ring, step->event, &call);
    /* The leader closed its descriptor: the follower drops its copy of the same object. */
    if (nr == SYS_close && args[0] >= 0 && args[0] < MVR_FD_BASE) RAW1(SYS_close, args[0]);
  }
  if (nr == SYS_epoll_ctl) epoll_note_ctl(args, mev);
  if ((nr == SYS_epoll_wait || nr == SYS_epoll_pwait || nr == SYS_epoll_pwait2) && ret > 0 &&
      step->follower_action != MVR_F_EXEC)
    epoll_translate(args[1], ret);
  if (g_agent.mirror_stdio && nr == SYS_write && (args[0] == 1 || args[0] == 2) && step->follower_action != MVR_F_EXEC)
    RAW3(SYS_write, args[0], args[1], args[2]);
  follower_release(ts);
  return ret;
}

/* ---- follower: sleeps --------------------------------------------------------------------------- */

/* The leader's pending signal record, consumed (view_get stopped in front of it). */
static int take_pending_sig(tstate *ts) {
  int sig = ts->pending_sig;
  ts->pending_sig = 0;
  ts->scan_pos += ts->pending_sig_size;
  __atomic_store_n(&ts->rc->tail, ts->scan_pos, __ATOMIC_SEQ_CST);
  return sig;
}

/* The nanoseconds a clock_nanosleep/nanosleep request asks for from now on this clock, or -1 when
 * the kernel would refuse it (it then gives its own error). */
static int64_t sleep_length(uint32_t nr, const int64_t *a) {
  const struct timespec *req = (const struct timespec *)(uintptr_t)(nr == SYS_nanosleep ? a[0] : a[2]);
  clockid_t clk = nr == SYS_nanosleep ? CLOCK_MONOTONIC : (clockid_t)a[0];
  if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC && clk != CLOCK_BOOTTIME && clk != CLOCK_TAI) return -1;
  if (!req || req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000L) return -1;
  int64_t want = req->tv_sec > INT64_MAX / 2000000000 ? INT64_MAX / 2 : req->tv_sec * 1000000000 + req->tv_nsec;
  if (nr == SYS_clock_nanosleep && (a[1] & TIMER_ABSTIME)) {
    struct timespec now;
    if (RAW2(SYS_clock_gettime, clk, &now) != 0) return -1;
    want -= (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    if (want < 0) want = 0;
  }
  return want;
}

/* pause, nanosleep and clock_nanosleep are local calls: each version makes its own, the leader's
 * are not recorded. But the leader's ends early when a signal's handler runs meanwhile (EINTR,
 * with the time left), and pause ends only so; the follower, which is sent no signal, would sleep
 * on (its pause for ever). So a follower thread does not sleep in the kernel: it waits on its
 * ring for the leader's thread to get past its own sleep, and ends as that one did:
 *  - a signal record naming this call (MVR_SIG_DURING, record.c): the leader's handler ran while
 *    it slept. It is replayed, and the call fails with EINTR and the leader's remaining time;
 *  - a signal record naming no call or another one: the leader's handler ran before it slept
 *    (or after a sleep that ended before its next event): it is replayed first, and the call is
 *    made again (the restart of follower_call);
 *  - the leader thread's next event: its sleep is over, so is the follower's, as it ended for the
 *    leader (0; pause's only end is EINTR);
 *  - its own time, and SLEEP_GRACE_NS more: a leader thread that makes no recorded call after its
 *    sleep (a thread that sleeps, then wakes another through a lock) leaves no record of its end.
 *    The grace is for a follower that got to its sleep a little before the leader did to its own:
 *    a handler the leader runs within it still ends the follower's sleep with EINTR.
 * Returns 1 with the result in *ret, 0 when the call is to be re-issued (take_restart: after the
 * leader's handler, or in a new role). */
#define SLEEP_GRACE_NS (100u * 1000000u)
int follower_sleep(uint32_t nr, const int64_t *a, int64_t *ret) {
  tstate *ts = t_ts;
  mvr_ringctl *rc = ts->rc;
  int64_t len = -2; /* pause: no end of its own */
  if (nr != SYS_pause && (len = sleep_length(nr, a)) < 0) {
    *ret = exec_call(nr, a);
    return 1;
  }
  uint64_t start = now_ns();
  uint64_t deadline = len < 0 || (uint64_t)len > UINT64_MAX / 4 ? UINT64_MAX : start + (uint64_t)len + SLEEP_GRACE_NS;
  rc->fcur.valid = 0;
  rc->fcur.nr = nr;
  for (unsigned i = 0; i < 6; i++) rc->fcur.args[i] = a[i];
  rc->fcur.event = ts->low;
  rc->fcur.valid = 1;
  rc->follower_calls++;
  for (;;) {
    if (ts->gen != __atomic_load_n(&g_agent.gen, __ATOMIC_ACQUIRE) || g_agent.role != ROLE_FOLLOWER ||
        follower_take_over(ts)) {
      ts->restart = 1; /* this process leads now: the call is re-issued as the leader's */
      ts->restart_sig = 0;
      return 0;
    }
    uint32_t seq = __atomic_load_n(&rc->head_seq, __ATOMIC_SEQ_CST);
    uint64_t head = __atomic_load_n(&rc->head, __ATOMIC_SEQ_CST);
    uint64_t before = ts->scan_index;
    int eof = 0;
    if (ts->low == ts->scan_index) view_get(ts, ts->scan_index, &eof);
    if (ts->low == before && ts->scan_index > before) { /* the leader's thread made its next event */
      *ret = nr == SYS_pause ? -EINTR : 0;
      return 1;
    }
    if (ts->pending_sig && ts->low == ts->scan_index) {
      int during = ts->pending_sig_during == nr;
      int64_t flags = ts->pending_sig_args[0];
      int64_t rem_sec = ts->pending_sig_args[2], rem_nsec = ts->pending_sig_args[3];
      int sig = take_pending_sig(ts);
      if (!during) {
        ts->restart_sig = sig;
        ts->restart_info = ts->pending_sig_info;
        ts->restart = 1;
        return 0;
      }
      struct timespec *rem = NULL;
      if (nr == SYS_nanosleep) rem = (struct timespec *)(uintptr_t)a[1];
      else if (nr == SYS_clock_nanosleep && !(a[1] & TIMER_ABSTIME)) rem = (struct timespec *)(uintptr_t)a[3];
      if (rem && (flags & MVR_SIG_REM)) {
        rem->tv_sec = rem_sec;
        rem->tv_nsec = rem_nsec;
      }
      /* Delivered once the program's mask allows it: as the call returns. */
      replay_signal(sig, &ts->pending_sig_info, nr, a, NULL);
      *ret = -EINTR;
      return 1;
    }
    (void)eof; /* the leader's stream ended: its own time ends the sleep */
    uint64_t t = now_ns();
    if (t >= deadline) {
      *ret = 0;
      return 1;
    }
    /* Woken by the leader's next record (follower_waiting), or at its own deadline. */
    uint64_t wait = 50u * 1000000u;
    if (deadline - t < wait) wait = deadline - t;
    __atomic_store_n(&rc->follower_waiting, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&rc->head, __ATOMIC_SEQ_CST) == head) futex_wait(&rc->head_seq, seq, wait);
    __atomic_store_n(&rc->follower_waiting, 0, __ATOMIC_SEQ_CST);
  }
}
