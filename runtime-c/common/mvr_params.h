/* mvr_params.h — how many bytes each parameter of a call carries, from the syscall table.
 * The leader's recorder and the follower's call builder both use these, so
 * both sides of a comparison measure buffers the same way. Every length is capped by `cap`. */
#ifndef MVR_PARAMS_H
#define MVR_PARAMS_H

#include <stdint.h>
#include <string.h>
#include "mvr_sysinfo.h"

#define MVR_PATH_MAX 4096u

static inline int mvr_kind_is_in(int k) { return k == MVR_K_IN_BYTES || k == MVR_K_PATH || k == MVR_K_IN_STRUCT; }
static inline int mvr_kind_is_out(int k) { return k == MVR_K_OUT_BYTES || k == MVR_K_OUT_STRUCT; }

/* The value of the length parameter `lp`: a scalar, or the socklen_t/int a pointer parameter
 * points at (accept's addrlen, getsockopt's optlen). */
static inline uint64_t mvr_len_value(uint32_t nr, int lp, const int64_t *args) {
  if (lp < 0 || lp >= 6) return 0;
  int k = mvr_si_kind(nr, (unsigned)lp);
  if (k == MVR_K_IN_STRUCT || k == MVR_K_OUT_STRUCT || k == MVR_K_PTR) {
    const uint32_t *p = (const uint32_t *)(uintptr_t)args[lp];
    return p ? *p : 0;
  }
  return args[lp] < 0 ? 0 : (uint64_t)args[lp];
}

static inline uint64_t mvr_cap(uint64_t n, uint64_t cap) { return n < cap ? n : cap; }

/* Bytes of input parameter i as passed (0 for non-input kinds and NULL pointers). */
static inline uint64_t mvr_in_len(uint32_t nr, unsigned i, const int64_t *args, uint64_t cap) {
  int k = mvr_si_kind(nr, i);
  if (!mvr_kind_is_in(k) || args[i] == 0) return 0;
  if (k == MVR_K_PATH) return strnlen((const char *)(uintptr_t)args[i], mvr_cap(MVR_PATH_MAX, cap));
  uint32_t fixed = mvr_si_fixed_size(nr, i);
  int lp = mvr_si_len_param(nr, i);
  uint64_t n;
  if (lp >= 0) {
    n = mvr_len_value(nr, lp, args);
    if (fixed) n *= fixed; /* the length parameter counts elements of `fixed` bytes */
  } else {
    n = fixed;
  }
  return mvr_cap(n, cap);
}

/* Capacity the caller offers for output parameter i (before the call). */
static inline uint64_t mvr_out_cap(uint32_t nr, unsigned i, const int64_t *args) {
  int k = mvr_si_kind(nr, i);
  if (!mvr_kind_is_out(k) || args[i] == 0) return 0;
  uint32_t fixed = mvr_si_fixed_size(nr, i);
  int lp = mvr_si_len_param(nr, i);
  if (lp >= 0) {
    uint64_t n = mvr_len_value(nr, lp, args);
    /* With a fixed size too, the length counts elements (epoll_wait's maxevents). */
    return fixed ? n * fixed : n;
  }
  return fixed;
}

/* Bytes the kernel wrote into output parameter i, given the result (after the call). */
static inline uint64_t mvr_out_len(uint32_t nr, unsigned i, const int64_t *args, int64_t ret, uint64_t cap) {
  int k = mvr_si_kind(nr, i);
  if (!mvr_kind_is_out(k) || args[i] == 0 || ret < 0) return 0;
  uint64_t capacity = mvr_out_cap(nr, i, args);
  uint64_t n;
  if (mvr_si_len_from_ret(nr, i)) {
    uint32_t fixed = mvr_si_fixed_size(nr, i);
    n = fixed ? (uint64_t)ret * fixed : (uint64_t)ret;
    if (n > capacity) n = capacity;
  } else {
    n = capacity;
  }
  return mvr_cap(n, cap);
}

#endif
