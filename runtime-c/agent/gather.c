/* gather.c — gathered writes and scattered reads, by the syscall model (docs/runtime.md, "The
 * syscall model and the agent"): an iovec array (writev, readv, pwritev, preadv ...) and a msghdr
 * (sendmsg, recvmsg) are recorded as the bytes they carry, so that the generated rule module
 * compares a follower's gathered data with the leader's, and a scattered read delivers the
 * leader's bytes into the follower's own iovecs.
 *
 * Positions (as in the strace reader and mvr_decode.c): the data, gathered in iovec order, at the
 * parameter itself; a msghdr's name, control data and (recvmsg) flags at the derived positions
 * after the arity (mvr_si_model_slots, mvr_si_derived).
 *
 * Nothing here trusts the program's lengths: an iovec count is bounded by IOV_MAX (the kernel
 * refuses more), sums saturate, and every length is capped by the ring's per-buffer limit before
 * anything is copied. Only calls with such a parameter come here (mvr_si_model_slots is 0 for the
 * others), so the hot calls pay nothing. */
#include "agent.h"
#include "mvr_syscalls.h"

#define GATHER_IOV_MAX 1024u /* the kernel's UIO_MAXIOV */
/* msg_name holds a socket address: never more than a sockaddr_storage. The kernel sets a
 * recvmsg's msg_namelen to the address's full length even when it truncated the copy, so the
 * leader's bytes are bounded here too. */
#define GATHER_NAME_MAX 128u

static uint64_t iov_count(uint64_t n) { return n > GATHER_IOV_MAX ? GATHER_IOV_MAX : n; }

static uint64_t iov_total(const struct iovec *iov, uint64_t cnt) {
  if (!iov) return 0;
  uint64_t t = 0;
  for (uint64_t k = 0; k < cnt; k++) {
    uint64_t l = iov[k].iov_base ? iov[k].iov_len : 0;
    t = (t + l < t) ? UINT64_MAX : t + l;
  }
  return t;
}

static void iov_gather(uint8_t *dst, const struct iovec *iov, uint64_t cnt, uint64_t n) {
  for (uint64_t k = 0; k < cnt && n; k++) {
    if (!iov[k].iov_base) continue;
    uint64_t l = iov[k].iov_len < n ? iov[k].iov_len : n;
    memcpy(dst, iov[k].iov_base, l);
    dst += l;
    n -= l;
  }
}

static void iov_scatter(const struct iovec *iov, uint64_t cnt, const uint8_t *src, uint64_t n) {
  for (uint64_t k = 0; k < cnt && n; k++) {
    if (!iov[k].iov_base) continue;
    uint64_t l = iov[k].iov_len < n ? iov[k].iov_len : n;
    memcpy(iov[k].iov_base, src, l);
    src += l;
    n -= l;
  }
}

void model_describe(uint32_t nr, const int64_t *args, int64_t ret, int after, model_src *m) {
  memset(m, 0, sizeof *m);
  unsigned mask = mvr_si_model_slots(nr);
  m->mask = mask;
  m->nr = nr;
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  if (!mask || !si) return;
  for (unsigned i = 0; i < si->nargs && i < 6; i++) {
    if (!(mask & (1u << i))) continue;
    const struct mvr_param *p = &si->params[i];
    int out = p->kind == MVR_P_OUT_BYTES || p->kind == MVR_P_OUT_STRUCT;
    m->out[i] = out;
    if (!args[i]) continue;
    if (p->type == MVR_T_IOVEC) {
      int lp = p->len_param;
      uint64_t cnt = lp >= 0 && lp < 6 && args[lp] > 0 ? iov_count((uint64_t)args[lp]) : 0;
      m->iov[i] = (const struct iovec *)(uintptr_t)args[i];
      m->iovcnt[i] = cnt;
      m->full[i] = iov_total(m->iov[i], cnt);
    } else { /* MVR_T_MSGHDR */
      struct msghdr *h = (struct msghdr *)(uintptr_t)args[i];
      m->msg[i] = h;
      m->iov[i] = h->msg_iov;
      m->iovcnt[i] = iov_count(h->msg_iov ? h->msg_iovlen : 0);
      m->full[i] = iov_total(m->iov[i], m->iovcnt[i]);
      for (unsigned j = si->nargs; j < 6; j++) {
        if (!(mask & (1u << j)) || si->params[j].from != (int8_t)i) continue;
        m->out[j] = out;
        switch (si->params[j].part) {
          case MVR_PART_NAME:
            m->ptr[j] = h->msg_name;
            m->full[j] = h->msg_name ? h->msg_namelen : 0;
            if (m->full[j] > GATHER_NAME_MAX) m->full[j] = GATHER_NAME_MAX;
            break;
          case MVR_PART_CONTROL:
            m->ptr[j] = h->msg_control;
            m->full[j] = h->msg_control ? h->msg_controllen : 0;
            break;
          case MVR_PART_FLAGS:
            m->ptr[j] = &h->msg_flags;
            m->full[j] = sizeof h->msg_flags;
            break;
          default: break;
        }
      }
    }
    /* What a read received: the first `ret` bytes of the buffers, in order. */
    if (out && after) {
      uint64_t got = ret < 0 ? 0 : (uint64_t)ret;
      if (m->full[i] > got) m->full[i] = got;
    }
  }
  if (after && ret < 0)
    for (unsigned j = 0; j < 6; j++)
      if (m->out[j]) m->full[j] = 0;
}

void model_copy(const model_src *m, unsigned i, uint8_t *dst, uint64_t n) {
  if (!n) return;
  if (m->iov[i]) iov_gather(dst, m->iov[i], m->iovcnt[i], n);
  else if (m->ptr[i]) memcpy(dst, m->ptr[i], n);
}

const uint8_t *model_view(const model_src *m, unsigned i, uint64_t n) {
  if (m->ptr[i]) return m->ptr[i];
  if (!m->iov[i]) return NULL;
  /* One buffer (the common case): compared where it is. */
  for (uint64_t k = 0; k < m->iovcnt[i]; k++)
    if (m->iov[i][k].iov_base && m->iov[i][k].iov_len) {
      if (m->iov[i][k].iov_len >= n) return m->iov[i][k].iov_base;
      break;
    }
  tstate *ts = t_ts;
  if (!ts) return NULL;
  if (!ts->gather) {
    ts->gather_cap = g_agent.shm->max_buf ? g_agent.shm->max_buf : 1;
    ts->gather = raw_alloc(ts->gather_cap);
    if (!ts->gather) agent_fatal("cannot allocate the gather buffer");
  }
  if (n > ts->gather_cap) n = ts->gather_cap;
  iov_gather(ts->gather, m->iov[i], m->iovcnt[i], n);
  return ts->gather;
}

void model_deliver(const model_src *m, const mvr_step *step) {
  for (unsigned i = 0; i < 6; i++) {
    if (!(m->mask & (1u << i)) || !m->out[i] || !step->out[i]) continue;
    uint64_t n = step->out_len[i];
    if (n > m->full[i]) n = m->full[i];
    if (m->iov[i]) {
      iov_scatter(m->iov[i], m->iovcnt[i], step->out[i], n);
      continue;
    }
    if (!m->ptr[i]) continue;
    memcpy((void *)(uintptr_t)m->ptr[i], step->out[i], n);
  }
  /* The lengths the kernel would have set: as the leader's. */
  for (unsigned i = 0; i < 6; i++) {
    struct msghdr *h = m->msg[i];
    if (!h || !m->out[i]) continue;
    for (unsigned j = i + 1; j < 6; j++) {
      unsigned part;
      if (!(m->mask & (1u << j)) || mvr_si_derived(m->nr, j, &part) != (int)i || !step->out[j]) continue;
      uint64_t n = step->out_len[j] < m->full[j] ? step->out_len[j] : m->full[j];
      if (part == MVR_PART_NAME) h->msg_namelen = (socklen_t)n;
      else if (part == MVR_PART_CONTROL) h->msg_controllen = n;
    }
  }
}

/* The descriptors an SCM_RIGHTS control message carries (up to max, into fds when not NULL);
 * returns how many there are in all. The lengths in the control data are checked against `len`,
 * never trusted. */
unsigned scm_rights(const uint8_t *ctl, uint64_t len, int32_t *fds, unsigned max) {
  unsigned count = 0;
  uint64_t off = 0;
  while (ctl && off + sizeof(struct cmsghdr) <= len) {
    struct cmsghdr h;
    memcpy(&h, ctl + off, sizeof h);
    if (h.cmsg_len < sizeof h || h.cmsg_len > len - off) break;
    if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
      uint64_t n = (h.cmsg_len - CMSG_LEN(0)) / sizeof(int32_t);
      for (uint64_t k = 0; k < n; k++, count++)
        if (fds && count < max) memcpy(&fds[count], ctl + off + CMSG_LEN(0) + k * sizeof(int32_t), sizeof(int32_t));
    }
    off += CMSG_ALIGN(h.cmsg_len);
  }
  return count;
}

/* The descriptors a leader's recvmsg event received (SCM_RIGHTS in its recorded control data). */
unsigned event_scm_rights(const mvr_event *e) {
  for (unsigned j = 0; j < 6; j++) {
    unsigned part;
    if (mvr_si_derived(e->nr, j, &part) >= 0 && part == MVR_PART_CONTROL)
      return scm_rights(e->buf[j], e->buf_len[j], NULL, 0);
  }
  return 0;
}
