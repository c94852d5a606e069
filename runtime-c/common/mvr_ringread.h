/* mvr_ringread.h — the one reader of ring records (mvr_ring.h is the contract), for the follower's
 * leader view (agent), the monitor's record mode, journal and reports.
 *
 * The ring is shared memory another process writes: every field is read once (the header is
 * copied) and every length is checked against what the reader knows for itself (the data area's
 * size, the published head) before it is used, so that a corrupt ring yields MVR_RR_CORRUPT and
 * never a read outside the data area. No libc calls but memcpy: the agent calls this on its trap
 * path. Header-only (static inline): the follower reads every event through it. */
#ifndef MVR_RINGREAD_H
#define MVR_RINGREAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#include "mvr_ring.h"

enum {
  MVR_RR_CORRUPT = -1, /* the record at pos breaks the contract: stop reading this ring */
  MVR_RR_END = 0,      /* nothing published at pos yet */
  MVR_RR_OK = 1,       /* *out holds the record */
};

typedef struct mvr_ringrec {
  mvr_rec h;             /* a copy of the header (of a PAD record, only size and kind; the rest 0) */
  const uint8_t *buf[6]; /* where parameter i's h.len[i] recorded bytes are, in the ring */
} mvr_ringrec;

/* A compact clock record (mvr_clockrec), given as the event it stands for. */
static inline int mvr_ring_read_clock(const uint8_t *at, uint64_t size, mvr_ringrec *out) {
  mvr_clockrec c;
  if (size != sizeof c) return MVR_RR_CORRUPT;
  memcpy(&c, at, sizeof c);
  unsigned slot; /* the parameter the value was written to */
  switch (c.nr) {
    case SYS_clock_gettime: slot = 1; break;
    case SYS_gettimeofday:
    case SYS_time: slot = 0; break;
    default: return MVR_RR_CORRUPT;
  }
  out->h.size = (uint32_t)size;
  out->h.kind = MVR_REC_EVENT;
  out->h.nr = c.nr;
  out->h.flags = MVR_RECF_CLOCK;
  out->h.index = c.index;
  if (c.nr == SYS_clock_gettime) out->h.args[0] = c.clk;
  out->h.args[slot] = c.ptr;
  out->h.ret = c.nr == SYS_time ? c.val[0] : 0;
  if (c.ptr) {
    out->h.len[slot] = c.nr == SYS_time ? 8 : 16;
    out->buf[slot] = at + offsetof(mvr_clockrec, val);
  }
  return MVR_RR_OK;
}

/* Reads the record at byte position pos of a ring whose data area is data[0, data_size), published
 * up to head (read by the caller with acquire). On MVR_RR_OK the next record is at pos + out->h.size.
 * Accepted, exactly:
 *  - pos and the record's size are multiples of 8, the size is at least 8, and the record lies
 *    within what is published (size <= head - pos) and within the data area (it never wraps);
 *  - a PAD record runs exactly to the end of the data area (only its size and kind are read);
 *  - a compact clock record (MVR_REC_CLOCK) is exactly an mvr_clockrec of one of its three calls: it
 *    is given as the event it stands for (kind MVR_REC_EVENT, flag MVR_RECF_CLOCK, buf[] in the ring);
 *  - any other record is one of the known kinds and holds at least its header and its buffers:
 *    sizeof(mvr_rec) + the sum of the 8-aligned len[i] <= size, except an event split across
 *    chunk records (MVR_RECF_SPLIT), whose len[i] are the bytes of the chunks after it.
 * Whether the index is the one expected is the caller's to check (it knows which one that is). */
static inline int mvr_ring_read(const uint8_t *data, uint64_t data_size, uint64_t pos, uint64_t head,
                                mvr_ringrec *out) {
  memset(out, 0, sizeof *out);
  if (pos >= head) return MVR_RR_END;
  if (data_size < sizeof(mvr_rec) || data_size % 8 || pos % 8) return MVR_RR_CORRUPT;
  uint64_t off = pos % data_size, room = data_size - off;
  uint32_t sk[2]; /* size, kind: all that a PAD record is sure to have */
  memcpy(sk, data + off, sizeof sk);
  uint64_t size = sk[0];
  if (size < 8 || size % 8 || size > room || size > head - pos) return MVR_RR_CORRUPT;
  if (sk[1] == MVR_REC_PAD) {
    if (size != room) return MVR_RR_CORRUPT;
    out->h.size = sk[0];
    out->h.kind = sk[1];
    return MVR_RR_OK;
  }
  if (sk[1] == MVR_REC_CLOCK) return mvr_ring_read_clock(data + off, size, out);
  if (sk[1] != MVR_REC_EVENT && sk[1] != MVR_REC_SIGNAL && sk[1] != MVR_REC_AGENT && sk[1] != MVR_REC_CHUNK)
    return MVR_RR_CORRUPT;
  if (size < sizeof(mvr_rec)) return MVR_RR_CORRUPT;
  memcpy(&out->h, data + off, sizeof out->h);
  out->h.size = sk[0]; /* the values checked above, whatever the writer did since */
  out->h.kind = sk[1];
  /* A split event's bytes follow in chunk records: len[i] are not in this one (buf[i] stay NULL). */
  if (out->h.kind == MVR_REC_EVENT && (out->h.flags & MVR_RECF_SPLIT)) return MVR_RR_OK;
  uint64_t at = sizeof(mvr_rec);
  for (unsigned i = 0; i < 6; i++) {
    uint64_t n = mvr_align8(out->h.len[i]); /* at most 2^32: six of them cannot overflow */
    if (n > size - at) return MVR_RR_CORRUPT;
    out->buf[i] = data + off + at;
    at += n;
  }
  return MVR_RR_OK;
}

#endif
