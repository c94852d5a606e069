/* mvr_module.h — declarations every generated rule module shares (codegen-c/emit.ts).
 * Not a standalone header: a generated rules.c includes it after its own #defines (MVR_NSC,
 * MVR_NSLOTS, MVR_SCRATCH, ...) and before its tables; mvr_matcher.h uses what it declares. */
#ifndef MVR_MODULE_H
#define MVR_MODULE_H

#include <stdint.h>
#include "mvr_rules.h"

#define MVR_NONE 0xffu
/* Tables that a small rule set leaves empty (one placeholder row) are not referenced. */
#if defined(__GNUC__)
#define MVR_MAYBE_UNUSED __attribute__((unused))
#else
#define MVR_MAYBE_UNUSED
#endif
#define MVR_REASON_NO_RULE "no rule reconciles the follower call"
#define MVR_REASON_NOT_FIT "the follower call does not fit the active rule"
#define MVR_REASON_TOO_MANY "more leader events than one step can decide"
#define MVR_REASON_OVERFLOW "a typed callback ran out of scratch memory"
#define MVR_REASON_EXITED_IN_RULE "the follower exited inside a rule"
#define MVR_REASON_LEFTOVER "leader events remain that the follower never made"

enum { MVR_C_NONE = 0, MVR_C_SCALAR = 1, MVR_C_CONTENT = 2, MVR_C_OUT = 3, MVR_C_OUTRET = 4 };
enum { MVR_OP_ANY = 0, MVR_OP_INT = 1, MVR_OP_BYTES = 2, MVR_OP_BIND = 3, MVR_OP_EQLEFT = 4, MVR_OP_EQSLOT = 5 };
enum { MVR_R_CALL = 0, MVR_R_LABEL = 1, MVR_R_REPLAY = 2 };
enum { MVR_RHS_SEQ = 0, MVR_RHS_NOTHING = 1, MVR_RHS_DIVERGE = 2 };

/* One argument of a pattern: what to test (op) and how to compare (cls, MVR_C_* without OUTRET;
 * for pattern arguments MVR_C_NONE means a pointer). */
struct mvr_arg {
  uint8_t op, cls, item, arg;
  int16_t save;
  uint16_t slot;
  uint32_t blen;
  int64_t ival;
  const uint8_t *bytes;
};
struct mvr_alt {
  uint32_t nr;
  const struct mvr_arg *args;
};
struct mvr_ctx {
  const mvr_event *const *lev;
  const mvr_call *call;
  const int64_t *slots;
};
typedef int (*mvr_guard_fn)(const struct mvr_ctx *, struct mvr_arena *);
typedef void (*mvr_cb_fn)(const struct mvr_ctx *, mvr_step *, uint8_t (*)[MVR_SCRATCH], struct mvr_arena *);
struct mvr_litem {
  const struct mvr_alt *alts;
  uint32_t nalts;
  uint8_t referenced;
  mvr_guard_fn guard;
};
struct mvr_ritem {
  uint8_t kind, star, item, typed_cb;
  uint32_t nalts;
  const struct mvr_alt *alts;
  const struct mvr_arg *rargs;
  mvr_guard_fn guard;
  mvr_cb_fn cb;
};
struct mvr_rule {
  uint8_t rhs, ffn_any;
  uint32_t nleft, nright;
  const struct mvr_litem *left;
  const struct mvr_ritem *right;
  const char *reason;
  uint32_t ffn_off, ffn_len;
};
struct mvr_list {
  uint32_t off, len;
};
struct mvr_disp {
  int32_t arg;
  uint32_t off, len, boff, nb;
};
struct mvr_bucket {
  int64_t value;
  uint32_t off, len;
};

#endif /* MVR_MODULE_H */
