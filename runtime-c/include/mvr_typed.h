/* mvr_typed.h — helpers called by C code that mvrc lowers from typed blocks (LANGUAGE.md §6:
 * `if (EXPR)` guards and `do { ... }` callbacks). compiler/typed/eval.ts is the reference
 * semantics; the two must agree on every input (test/typed-blocks.test.ts checks it).
 *
 * Values:
 *  - number:  int64_t. + - * and unary - wrap modulo 2^64 (two's complement), like int64 in C
 *             with -fwrapv. x / 0 == 0 and x % 0 == 0. INT64_MIN / -1 == INT64_MIN and
 *             INT64_MIN % -1 == 0. Division truncates toward zero; % has the dividend's sign.
 *  - boolean: int, 0 or 1.
 *  - bytes:   struct mvr_bytes, a read-only view (pointer + length). p may be NULL when len == 0.
 *
 * Memory: no helper allocates from the heap. Byte strings that must be built (concatenation,
 * template strings, snapshots of output buffers) are bump-allocated from a fixed arena that the
 * generated function receives as `struct mvr_arena *mvr_arena`. Slices are views and cost
 * nothing. Every lowered guard and callback starts by resetting the arena. When the arena is
 * exhausted the failing operation yields the empty string and sets mvr_arena->overflow, which
 * stays set until the next reset. A guard whose evaluation overflowed is false; after a callback
 * whose evaluation overflowed, the values of its outputs and of ret are unspecified (but every
 * write stayed within its buffer), and the caller should report the overflow as a rule error.
 * Whether an overflow happens does not depend on the order in which C evaluates arguments: it
 * happens exactly when the block, evaluated with unbounded memory, would allocate more than
 * MVR_T_ARENA_SIZE bytes in total.
 *
 * Output buffers (out_bytes / out_struct variables) are `char *NAME`, `size_t NAME_len`,
 * `size_t NAME_cap`; assignment copies at most NAME_cap bytes (the rest is dropped) and sets
 * NAME_len.
 */
#ifndef MVR_TYPED_H
#define MVR_TYPED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Tests may shrink the arena to exercise overflow; every translation unit linked together must
 * then use the same value. */
#ifndef MVR_T_ARENA_SIZE
#define MVR_T_ARENA_SIZE 65536
#endif

/* Every memcpy/memmove/memcmp goes through these two out-of-line functions. When gcc inlines
 * them into generated code it propagates impossible constants from dead paths (a slice of a
 * constant at a huge offset) and reports -Wstringop-overread / -Wstringop-overflow at -O2, which
 * -Werror turns into a failed build of a correct rule module. noipa stops that propagation.
 * They are plain `static` (inline and noipa do not mix), marked unused so that a module that
 * does not need them still builds with -Wall. */
#if defined(__GNUC__) && !defined(__clang__)
#define MVR_T_OPAQUE __attribute__((noipa, unused))
#elif defined(__GNUC__)
#define MVR_T_OPAQUE __attribute__((noinline, unused))
#else
#define MVR_T_OPAQUE
#endif

/* memmove of n bytes (the ranges may overlap); nothing when n == 0, so NULL is fine then. */
static MVR_T_OPAQUE void mvr_t_move(char *dst, const char *src, size_t n) {
  if (n) memmove(dst, src, n);
}
/* Whether the n bytes at a and b are equal; 1 when n == 0. */
static MVR_T_OPAQUE int mvr_t_same(const char *a, const char *b, size_t n) { return n == 0 || memcmp(a, b, n) == 0; }

struct mvr_bytes {
  const char *p;
  size_t len;
};

struct mvr_arena {
  size_t used;
  int overflow;
  char buf[MVR_T_ARENA_SIZE];
};

static inline void mvr_t_arena_reset(struct mvr_arena *a) {
  a->used = 0;
  a->overflow = 0;
}

/* NULL (and the overflow flag set) when n bytes do not fit; a zero-byte request always fits. */
static inline char *mvr_t_alloc(struct mvr_arena *a, size_t n) {
  if (n > MVR_T_ARENA_SIZE - a->used) {
    a->overflow = 1;
    return NULL;
  }
  char *p = a->buf + a->used;
  a->used += n;
  return p;
}

/* A lowered guard: true only when the expression is true and the arena did not overflow. */
static inline int mvr_t_guard_end(const struct mvr_arena *a, int v) { return v && !a->overflow; }

/* ---- numbers ------------------------------------------------------------------------------ */

/* uint64 -> int64 modulo 2^64 without relying on implementation-defined conversion. */
static inline int64_t mvr_t_wrap(uint64_t u) {
  return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(UINT64_MAX - u) - 1;
}
static inline int64_t mvr_t_add(int64_t a, int64_t b) { return mvr_t_wrap((uint64_t)a + (uint64_t)b); }
static inline int64_t mvr_t_sub(int64_t a, int64_t b) { return mvr_t_wrap((uint64_t)a - (uint64_t)b); }
static inline int64_t mvr_t_mul(int64_t a, int64_t b) { return mvr_t_wrap((uint64_t)a * (uint64_t)b); }
static inline int64_t mvr_t_neg(int64_t a) { return mvr_t_wrap(0u - (uint64_t)a); }
static inline int64_t mvr_t_div(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return mvr_t_neg(a); /* INT64_MIN / -1 would trap */
  return a / b;
}
static inline int64_t mvr_t_mod(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0;
  return a % b;
}
/* Comparisons go through functions so that `x == x` in a rule does not trip -Wtautological-compare. */
static inline int mvr_t_cmp(int64_t a, int64_t b) { return (a > b) - (a < b); }
static inline int mvr_t_beq(int a, int b) { return !a == !b; }

/* ---- byte strings ------------------------------------------------------------------------- */

static inline struct mvr_bytes mvr_t_bytes(const char *p, size_t len) {
  struct mvr_bytes b = {p, p ? len : 0};
  return b;
}
static inline struct mvr_bytes mvr_t_empty(void) { return mvr_t_bytes("", 0); }
static inline struct mvr_bytes mvr_t_lit(const char *p, size_t len) { return mvr_t_bytes(p, len); }

/* The n bytes of b starting at off; the caller guarantees off + n <= b.len. No arithmetic on a
 * NULL pointer when n == 0. */
static inline struct mvr_bytes mvr_t_view(struct mvr_bytes b, size_t off, size_t n) {
  return n == 0 ? mvr_t_empty() : mvr_t_bytes(b.p + off, n);
}

static inline int64_t mvr_t_len(struct mvr_bytes b) { return (int64_t)b.len; }

static inline int mvr_t_eq(struct mvr_bytes a, struct mvr_bytes b) {
  return a.len == b.len && mvr_t_same(a.p, b.p, a.len);
}
static inline int mvr_t_starts_with(struct mvr_bytes s, struct mvr_bytes x) {
  return x.len <= s.len && mvr_t_same(s.p, x.p, x.len);
}
static inline int mvr_t_ends_with(struct mvr_bytes s, struct mvr_bytes x) {
  return x.len <= s.len && (x.len == 0 || mvr_t_same(s.p + (s.len - x.len), x.p, x.len));
}
/* First index of x in s at or after from (from <= s.len), or -1. */
static inline int64_t mvr_t_find(struct mvr_bytes s, struct mvr_bytes x, size_t from) {
  if (x.len == 0) return (int64_t)from;
  if (x.len > s.len) return -1;
  for (size_t i = from; i <= s.len - x.len; i++)
    if (s.p[i] == x.p[0] && mvr_t_same(s.p + i, x.p, x.len)) return (int64_t)i;
  return -1;
}
static inline int64_t mvr_t_index_of(struct mvr_bytes s, struct mvr_bytes x) { return mvr_t_find(s, x, 0); }
static inline int mvr_t_includes(struct mvr_bytes s, struct mvr_bytes x) { return mvr_t_find(s, x, 0) >= 0; }

/* String.prototype.slice index rules: negative counts from the end, then clamp to [0, len]. */
static inline size_t mvr_t_slice_index(int64_t i, size_t len) {
  int64_t n = (int64_t)len;
  if (i < 0) {
    i += n; /* no overflow: i >= INT64_MIN and n >= 0 */
    return i < 0 ? 0 : (size_t)i;
  }
  return i > n ? len : (size_t)i;
}
static inline struct mvr_bytes mvr_t_slice(struct mvr_bytes s, int64_t start, int64_t end) {
  size_t a = mvr_t_slice_index(start, s.len), b = mvr_t_slice_index(end, s.len);
  return b > a ? mvr_t_view(s, a, b - a) : mvr_t_empty();
}
static inline struct mvr_bytes mvr_t_slice_from(struct mvr_bytes s, int64_t start) {
  return mvr_t_slice(s, start, (int64_t)s.len);
}

/* a + b, in the arena. */
static inline struct mvr_bytes mvr_t_concat(struct mvr_arena *ar, struct mvr_bytes a, struct mvr_bytes b) {
  if (a.len > SIZE_MAX - b.len) {
    ar->overflow = 1;
    return mvr_t_empty();
  }
  char *p = mvr_t_alloc(ar, a.len + b.len);
  if (!p) return mvr_t_empty();
  mvr_t_move(p, a.p, a.len);
  mvr_t_move(p + a.len, b.p, b.len);
  return mvr_t_bytes(p, a.len + b.len);
}

/* A snapshot of b in the arena (for views of output buffers that a later assignment rewrites). */
static inline struct mvr_bytes mvr_t_copy(struct mvr_arena *ar, struct mvr_bytes b) {
  char *p = mvr_t_alloc(ar, b.len);
  if (!p) return mvr_t_empty();
  mvr_t_move(p, b.p, b.len);
  return mvr_t_bytes(p, b.len);
}

/* ---- template strings --------------------------------------------------------------------- */

struct mvr_t_part {
  struct mvr_bytes b;
  int64_t n;
  int is_num;
};
static inline struct mvr_t_part mvr_t_part_b(struct mvr_bytes b) {
  struct mvr_t_part p = {b, 0, 0};
  return p;
}
static inline struct mvr_t_part mvr_t_part_n(int64_t n) {
  struct mvr_t_part p = {{NULL, 0}, n, 1};
  return p;
}
static inline struct mvr_bytes mvr_t_bool_text(int v) { return v ? mvr_t_lit("true", 4) : mvr_t_lit("false", 5); }

/* Decimal digits of n (with '-' for negatives) into dst, which has room for 20 bytes; returns the
 * count. With dst == NULL only counts. */
static inline size_t mvr_t_fmt_num(char *dst, int64_t n) {
  char tmp[20];
  uint64_t u = n < 0 ? 0u - (uint64_t)n : (uint64_t)n;
  size_t k = 0;
  do {
    tmp[k++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u);
  size_t len = k + (n < 0);
  if (dst) {
    size_t i = 0;
    if (n < 0) dst[i++] = '-';
    while (k) dst[i++] = tmp[--k];
  }
  return len;
}

/* The concatenation of parts (numbers in decimal), in one arena allocation of its total size. */
static inline struct mvr_bytes mvr_t_tpl(struct mvr_arena *ar, const struct mvr_t_part *parts, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = parts[i].is_num ? mvr_t_fmt_num(NULL, parts[i].n) : parts[i].b.len;
    if (l > SIZE_MAX - total) {
      ar->overflow = 1;
      return mvr_t_empty();
    }
    total += l;
  }
  char *p = mvr_t_alloc(ar, total);
  if (!p) return mvr_t_empty();
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    if (parts[i].is_num) {
      at += mvr_t_fmt_num(p + at, parts[i].n);
    } else {
      mvr_t_move(p + at, parts[i].b.p, parts[i].b.len);
      at += parts[i].b.len;
    }
  }
  return mvr_t_bytes(p, total);
}

/* ---- split iteration (for (const x of s.split(sep))), String.prototype.split rules --------- */

struct mvr_t_split {
  struct mvr_bytes s, sep;
  size_t pos;
  int done;
};
static inline struct mvr_t_split mvr_t_split_begin(struct mvr_bytes s, struct mvr_bytes sep) {
  /* "".split("") is empty; "".split(",") is [""]. */
  struct mvr_t_split it = {s, sep, 0, sep.len == 0 && s.len == 0};
  return it;
}
static inline int mvr_t_split_next(struct mvr_t_split *it, struct mvr_bytes *part) {
  if (it->done) return 0;
  if (it->sep.len == 0) { /* one byte at a time */
    *part = mvr_t_view(it->s, it->pos, 1);
    if (++it->pos == it->s.len) it->done = 1;
    return 1;
  }
  int64_t at = mvr_t_find(it->s, it->sep, it->pos);
  if (at < 0) {
    *part = mvr_t_view(it->s, it->pos, it->s.len - it->pos);
    it->done = 1;
  } else {
    *part = mvr_t_view(it->s, it->pos, (size_t)at - it->pos);
    it->pos = (size_t)at + it->sep.len;
  }
  return 1;
}

/* ---- assignment to an output buffer ------------------------------------------------------- */

/* Copies at most cap bytes of v into dst (v may overlap dst) and sets *len. */
static inline void mvr_t_assign(char *dst, size_t *len, size_t cap, struct mvr_bytes v) {
  size_t n = v.len < cap ? v.len : cap;
  if (!dst) n = 0;
  mvr_t_move(dst, v.p, n);
  *len = n;
}

#endif /* MVR_TYPED_H */
