/* gather.c — gathered writes and scattered reads, by the syscall model (docs/runtime.md, "The
 * syscall model and the agent"): an iovec array (writev, readv, pwritev, preadv ...), a msghdr
 * (sendmsg, recvmsg) and an mmsghdr vector (sendmmsg, recvmmsg) are recorded as the bytes they
 * carry, so that the generated rule module compares a follower's gathered data with the leader's,
 * and a scattered read delivers the leader's bytes into the follower's own iovecs.
 *
 * Positions (as in the strace reader and mvr_decode.c): the data, gathered in iovec order (for a
 * vector: message after message), at the parameter itself; a msghdr's name, control data and
 * (recvmsg) flags at the derived positions after the arity (mvr_si_model_slots, mvr_si_derived);
 * a vector's per-message layout at its derived position, in the encoding of docs/traces.md
 * ("Gathered data and messages"): per message four u32 (data length, name length, control
 * length, msg_flags), then the name and the control bytes.
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
static uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }
static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

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

/* One message of an mmsghdr vector: its data, name and control lengths (as sent, as offered, or
 * as received), each bounded like a msghdr's. */
typedef struct mmsg_part {
  uint64_t data, name, ctl;
  uint32_t flags;
} mmsg_part;

static mmsg_part mmsg_part_of(const model_src *m, uint64_t k) {
  const struct msghdr *h = &m->mm[k].msg_hdr;
  mmsg_part pt;
  uint64_t cnt = iov_count(h->msg_iov ? h->msg_iovlen : 0);
  pt.data = iov_total(h->msg_iov, cnt);
  if (m->mm_got && m->mm[k].msg_len < pt.data) pt.data = m->mm[k].msg_len;
  pt.name = h->msg_name ? min64(h->msg_namelen, GATHER_NAME_MAX) : 0;
  /* A length above the ring's per-buffer cap could not be recorded anyway (the layout would be
   * truncated): bounding it here keeps every length in the layout true to the bytes after it. */
  pt.ctl = h->msg_control ? min64(h->msg_controllen, g_agent.shm->max_buf) : 0;
  /* The kernel ignores a sent message's msg_flags: only a received one's mean something. */
  pt.flags = m->mm_got ? (uint32_t)h->msg_flags : 0;
  return pt;
}

/* Writes up to *room bytes of src (zeros for NULL) at *d. */
static void put_bounded(uint8_t **d, uint64_t *room, const void *src, uint64_t len) {
  uint64_t l = min64(len, *room);
  if (!l) return;
  if (src) memcpy(*d, src, l);
  else memset(*d, 0, l);
  *d += l;
  *room -= l;
}

/* The first n bytes of a vector's data (message after message) or of its layout. */
static void mmsg_copy(const model_src *m, int layout, uint8_t *dst, uint64_t n) {
  for (uint64_t k = 0; k < m->mmcnt && n; k++) {
    const struct msghdr *h = &m->mm[k].msg_hdr;
    mmsg_part pt = mmsg_part_of(m, k);
    if (!layout) {
      uint64_t l = min64(pt.data, n);
      iov_gather(dst, h->msg_iov, iov_count(h->msg_iov ? h->msg_iovlen : 0), l);
      dst += l;
      n -= l;
      continue;
    }
    uint32_t hdr[4] = {(uint32_t)pt.data, (uint32_t)pt.name, (uint32_t)pt.ctl, pt.flags};
    put_bounded(&dst, &n, hdr, sizeof hdr);
    put_bounded(&dst, &n, h->msg_name, pt.name);
    put_bounded(&dst, &n, h->msg_control, pt.ctl);
  }
}

void model_describe(uint32_t nr, const int64_t *args, int64_t ret, int after, model_src *m) {
  memset(m, 0, sizeof *m);
  m->mm_at = m->meta_at = -1;
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
    if (p->type == MVR_T_MMSGHDR) {
      int lp = p->len_param;
      m->mm = (struct mmsghdr *)(uintptr_t)args[i];
      m->mm_at = (int)i;
      /* Sent: every message passed (what the program asked to write, as writev's iovecs);
       * received, after the call: the `ret` messages the kernel filled in. */
      uint64_t cnt = lp >= 0 && lp < 6 && args[lp] > 0 ? iov_count((uint64_t)args[lp]) : 0;
      if (out && after) cnt = ret > 0 ? min64((uint64_t)ret, cnt) : 0;
      m->mmcnt = cnt;
      m->mm_got = out && after;
      uint64_t data = 0, meta = 0;
      for (uint64_t k = 0; k < cnt; k++) {
        mmsg_part pt = mmsg_part_of(m, k);
        data = sat_add(data, pt.data);
        meta = sat_add(meta, sat_add(16, sat_add(pt.name, pt.ctl)));
      }
      m->full[i] = data;
      for (unsigned j = si->nargs; j < 6; j++) {
        if (!(mask & (1u << j)) || si->params[j].from != (int8_t)i) continue;
        m->out[j] = out;
        m->meta_at = (int)j;
        m->full[j] = meta;
      }
      continue;
    }
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
  if ((int)i == m->mm_at || (int)i == m->meta_at) mmsg_copy(m, (int)i == m->meta_at, dst, n);
  else if (m->iov[i]) iov_gather(dst, m->iov[i], m->iovcnt[i], n);
  else if (m->ptr[i]) memcpy(dst, m->ptr[i], n);
}

/* A per-thread buffer of the ring's per-buffer cap, made on first use. */
static uint8_t *thread_buffer(uint8_t **buf, uint64_t *cap) {
  if (!*buf) {
    *cap = g_agent.shm->max_buf ? g_agent.shm->max_buf : 1;
    *buf = raw_alloc(*cap);
    if (!*buf) agent_fatal("cannot allocate the gather buffer");
  }
  return *buf;
}

const uint8_t *model_view(const model_src *m, unsigned i, uint64_t n) {
  if (m->ptr[i]) return m->ptr[i];
  tstate *ts = t_ts;
  if ((int)i == m->mm_at || (int)i == m->meta_at) {
    if (!ts) return NULL;
    int layout = (int)i == m->meta_at;
    /* One message in one buffer (the common case): its data compared where it is. */
    if (!layout && m->mmcnt == 1) {
      const struct msghdr *h = &m->mm[0].msg_hdr;
      if (h->msg_iov && h->msg_iovlen == 1 && h->msg_iov[0].iov_base && h->msg_iov[0].iov_len >= n)
        return h->msg_iov[0].iov_base;
    }
    uint8_t *b = layout ? thread_buffer(&ts->meta, &ts->meta_cap) : thread_buffer(&ts->gather, &ts->gather_cap);
    mmsg_copy(m, layout, b, min64(n, layout ? ts->meta_cap : ts->gather_cap));
    return b;
  }
  if (!m->iov[i]) return NULL;
  /* One buffer (the common case): compared where it is. */
  for (uint64_t k = 0; k < m->iovcnt[i]; k++)
    if (m->iov[i][k].iov_base && m->iov[i][k].iov_len) {
      if (m->iov[i][k].iov_len >= n) return m->iov[i][k].iov_base;
      break;
    }
  if (!ts) return NULL;
  if (ts->gather && n > ts->gather_cap && g_agent.shm->split_events) {
    /* Larger than the cap: the leader's event holds it whole (split), so the call must too. */
    RAW2(SYS_munmap, ts->gather, ts->gather_cap);
    ts->gather = NULL;
  }
  if (!ts->gather) {
    ts->gather_cap = g_agent.shm->max_buf ? g_agent.shm->max_buf : 1;
    if (n > ts->gather_cap && g_agent.shm->split_events) ts->gather_cap = n;
    ts->gather = raw_alloc(ts->gather_cap);
    if (!ts->gather) agent_fatal("cannot allocate the gather buffer");
  }
  if (n > ts->gather_cap) n = ts->gather_cap;
  iov_gather(ts->gather, m->iov[i], m->iovcnt[i], n);
  return ts->gather;
}

/* Walks a recorded vector layout (docs/traces.md): the next message's four u32 and where its
 * name and control bytes are, every length bounded by what the layout holds. */
typedef struct mmsg_iter {
  const uint8_t *p;
  uint64_t len, off;
} mmsg_iter;

static int mmsg_next(mmsg_iter *it, uint32_t hdr[4], const uint8_t **name, const uint8_t **ctl) {
  if (!it->p || it->len - it->off < 16) return 0;
  memcpy(hdr, it->p + it->off, 16);
  it->off += 16;
  uint64_t nl = min64(hdr[1], it->len - it->off);
  *name = it->p + it->off;
  it->off += nl;
  uint64_t cl = min64(hdr[2], it->len - it->off);
  *ctl = it->p + it->off;
  it->off += cl;
  hdr[1] = (uint32_t)nl;
  hdr[2] = (uint32_t)cl;
  return 1;
}

/* A received vector: each of the leader's messages into the follower's message of the same rank —
 * its data scattered into that message's iovecs, its name and control data up to the capacities
 * offered, and msg_len, msg_namelen, msg_controllen, msg_flags as the kernel would have set them. */
static void mmsg_deliver(const model_src *m, const mvr_step *step) {
  const uint8_t *data = step->out[m->mm_at];
  uint64_t have = data ? step->out_len[m->mm_at] : 0, off = 0;
  mmsg_iter it = {step->out[m->meta_at], step->out[m->meta_at] ? step->out_len[m->meta_at] : 0, 0};
  uint32_t hdr[4];
  const uint8_t *name, *ctl;
  for (uint64_t k = 0; k < m->mmcnt && mmsg_next(&it, hdr, &name, &ctl); k++) {
    struct mmsghdr *v = &m->mm[k];
    struct msghdr *h = &v->msg_hdr;
    uint64_t cnt = iov_count(h->msg_iov ? h->msg_iovlen : 0);
    uint64_t l = min64(min64(hdr[0], have - off), iov_total(h->msg_iov, cnt));
    if (h->msg_iov) iov_scatter(h->msg_iov, cnt, data + off, l);
    v->msg_len = (unsigned)l;
    off += min64(hdr[0], have - off);
    uint64_t nl = h->msg_name ? min64(hdr[1], min64(h->msg_namelen, GATHER_NAME_MAX)) : 0;
    if (nl) memcpy(h->msg_name, name, nl);
    h->msg_namelen = (socklen_t)nl;
    uint64_t cl = h->msg_control ? min64(hdr[2], h->msg_controllen) : 0;
    if (cl) memcpy(h->msg_control, ctl, cl);
    h->msg_controllen = cl;
    h->msg_flags = (int)hdr[3];
  }
}

void model_deliver(const model_src *m, const mvr_step *step, int64_t ret) {
  if (m->mm_at >= 0) {
    if (m->out[m->mm_at]) {
      if (m->meta_at >= 0) mmsg_deliver(m, step);
    } else {
      /* Sent: the kernel sets each sent message's msg_len; the data compared equal to the
       * leader's, so each is what the message holds. */
      for (uint64_t k = 0; ret > 0 && k < (uint64_t)ret && k < m->mmcnt; k++)
        m->mm[k].msg_len = (unsigned)mmsg_part_of(m, k).data;
    }
    return;
  }
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

/* The descriptors the SCM_RIGHTS messages of control data carry: each given to `each` (when not
 * NULL); returns how many there are in all. The lengths in the control data are checked against
 * `len`, never trusted. */
unsigned scm_rights(const uint8_t *ctl, uint64_t len, void (*each)(void *, int32_t), void *ctx) {
  unsigned count = 0;
  uint64_t off = 0;
  while (ctl && off + sizeof(struct cmsghdr) <= len) {
    struct cmsghdr h;
    memcpy(&h, ctl + off, sizeof h);
    if (h.cmsg_len < sizeof h || h.cmsg_len > len - off) break;
    if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
      uint64_t n = (h.cmsg_len - CMSG_LEN(0)) / sizeof(int32_t);
      for (uint64_t k = 0; k < n; k++, count++) {
        int32_t fd;
        memcpy(&fd, ctl + off + CMSG_LEN(0) + k * sizeof(int32_t), sizeof fd);
        if (each) each(ctx, fd);
      }
    }
    off += CMSG_ALIGN(h.cmsg_len);
  }
  return count;
}

/* The descriptors a leader's recvmsg or recvmmsg event received (SCM_RIGHTS in its recorded
 * control data, or in every message's of its recorded layout). */
unsigned event_scm_rights(const mvr_event *e) {
  for (unsigned j = 0; j < 6; j++) {
    unsigned part;
    if (mvr_si_derived(e->nr, j, &part) < 0) continue;
    if (part == MVR_PART_CONTROL) return scm_rights(e->buf[j], e->buf_len[j], NULL, NULL);
    if (part == MVR_PART_MSGS) {
      unsigned n = 0;
      mmsg_iter it = {e->buf[j], e->buf[j] ? e->buf_len[j] : 0, 0};
      uint32_t hdr[4];
      const uint8_t *name, *ctl;
      while (mmsg_next(&it, hdr, &name, &ctl)) n += scm_rights(ctl, hdr[2], NULL, NULL);
      return n;
    }
  }
  return 0;
}
