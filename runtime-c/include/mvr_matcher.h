/* mvr_matcher.h — the matcher of every generated rule module (docs/semantics.md).
 * Not a standalone header: each rules.c that mvrc generates includes it once, after the tables,
 * macros and structures it refers to (struct mvr_core, mvr_rule_table, MVR_NSC, ...); the rule
 * tables are decoded by mvr_tables.h (mvr_tables_init, called by every entry point below).
 * compiler/semantics/interpreter.ts is the same algorithm in TypeScript; keep the two in step
 * (test/differential.test.ts compares them on random rules and streams). */

struct mvr_w {
  struct mvr_core s;
  const mvr_event *lev[MVR_MAX_LEADER_ACTIONS];
  const mvr_leader_view *lv;
  const mvr_call *call;
  mvr_step *out;
  struct mvr_state *st;
  int overflow; /* a typed callback overflowed its arena */
};

#define MVR_BIT(i) ((uint64_t)1 << (i))

/* Called with the id of each leader-only rule that consumes events in a step: nothing in the
 * runtime's modules; `mvrc verify` (runtime-c/verify/mvr_verify.c) lists them among the rules used. */
#ifndef MVR_SKIPPED_BY
#define MVR_SKIPPED_BY(rid) ((void)0)
#endif

static const mvr_event *mvr_get(const struct mvr_w *w, uint64_t index, int *eof) {
  *eof = 0;
  return w->lv->get(w->lv->ctx, index, eof);
}

static const struct mvr_sc *mvr_sc_of(uint32_t nr) { return nr < MVR_NSC && mvr_sc[nr].known ? &mvr_sc[nr] : NULL; }

/* Records a leader action. The callers' budget checks keep n_leader within the array; the test
 * here only makes an overflow impossible even if they were wrong. */
static void mvr_act(struct mvr_w *w, uint64_t event, uint8_t action) {
  mvr_step *o = w->out;
  if (o->n_leader >= MVR_MAX_LEADER_ACTIONS) return;
  o->leader[o->n_leader].event = event;
  o->leader[o->n_leader].action = action;
  o->n_leader++;
}

static int mvr_bufeq(const uint8_t *a, uint64_t la, const uint8_t *b, uint64_t lb) {
  if (la != lb) return 0;
  if (la == 0) return 1;
  if (a == NULL || b == NULL) return 0;
  return memcmp(a, b, (size_t)la) == 0;
}

static struct mvr_arena *mvr_arena_of(struct mvr_w *w) { return MVR_ARENA(w->st); }

static int mvr_run_guard(struct mvr_w *w, mvr_guard_fn g) {
  struct mvr_ctx c = {w->lev, w->call, w->s.slots};
  return g(&c, mvr_arena_of(w)) != 0;
}

static int mvr_left_args(const struct mvr_w *w, const struct mvr_arg *args, const mvr_event *e) {
  for (int j = 0; j < MVR_MAX_ARGS; j++) {
    const struct mvr_arg *a = &args[j];
    switch (a->op) {
      case MVR_OP_INT:
        if (e->args[j] != a->ival) return 0;
        break;
      case MVR_OP_BYTES:
        if (a->cls == MVR_C_SCALAR || !mvr_bufeq(e->buf[j], e->buf_len[j], a->bytes, a->blen)) return 0;
        break;
      case MVR_OP_EQLEFT: {
        const mvr_event *src = w->lev[a->item];
        if (a->cls == MVR_C_SCALAR && e->args[j] != src->args[a->arg]) return 0;
        if ((a->cls == MVR_C_CONTENT || a->cls == MVR_C_OUT) &&
            !mvr_bufeq(e->buf[j], e->buf_len[j], src->buf[a->arg], src->buf_len[a->arg]))
          return 0;
        break;
      }
      default: break;
    }
  }
  return 1;
}

static int mvr_right_args(const struct mvr_w *w, const struct mvr_arg *args, const mvr_call *c) {
  for (int j = 0; j < MVR_MAX_ARGS; j++) {
    const struct mvr_arg *a = &args[j];
    switch (a->op) {
      case MVR_OP_INT:
        if (c->args[j] != a->ival) return 0;
        break;
      case MVR_OP_BYTES:
        if (a->cls == MVR_C_SCALAR) return 0;
        if (a->cls == MVR_C_CONTENT && !mvr_bufeq(c->buf[j], c->buf_len[j], a->bytes, a->blen)) return 0;
        break;
      case MVR_OP_EQLEFT: {
        const mvr_event *src = w->lev[a->item];
        if (a->cls == MVR_C_SCALAR && c->args[j] != src->args[a->arg]) return 0;
        if (a->cls == MVR_C_CONTENT && !mvr_bufeq(c->buf[j], c->buf_len[j], src->buf[a->arg], src->buf_len[a->arg]))
          return 0;
        break;
      }
      case MVR_OP_EQSLOT:
        if (c->args[j] != w->s.slots[a->slot]) return 0;
        break;
      default: break;
    }
  }
  return 1;
}

/* How a call's arguments are compared for its command (compiler/syscalls/classes.ts, paramsOf and
 * compareClass): the syscall's classes, changed by every per-command entry whose conditions hold
 * on `args`, in order. An unknown syscall compares its six registers by value. */
struct mvr_cls {
  uint8_t cls[MVR_MAX_ARGS];
  uint16_t canon[MVR_MAX_ARGS];
  uint8_t bits32;
};

static int mvr_dm_holds(const struct mvr_dm_entry *e, const int64_t *args) {
  for (int k = 0; k < 2; k++) {
    const struct mvr_dm_cond *c = &e->cond[k];
    if (c->kind == MVR_CM_ANY) continue;
    uint64_t v = (uint64_t)args[c->sel] & c->mask;
    if (c->kind == MVR_CM_EQ ? v != c->value : (v & c->value) != c->value) return 0;
  }
  return 1;
}

static void mvr_classes(uint32_t nr, const int64_t *args, struct mvr_cls *k) {
  const struct mvr_sc *sc = mvr_sc_of(nr);
  for (int j = 0; j < MVR_MAX_ARGS; j++) {
    k->cls[j] = sc ? sc->cls[j] : MVR_C_SCALAR;
    k->canon[j] = sc ? sc->canon[j] : 0;
  }
  k->bits32 = sc ? sc->bits32 : 0;
  if (!sc) return;
  for (uint32_t i = 0; i < sc->cmd_count; i++) {
    const struct mvr_dm_entry *e = &mvr_dm_entries[sc->cmd_first + i];
    if (!mvr_dm_holds(e, args)) continue;
    for (uint32_t o = 0; o < e->count; o++) {
      const struct mvr_dm_override *ov = &mvr_dm_overrides[e->first + o];
      k->cls[ov->arg] = ov->cls;
      k->canon[ov->arg] = ov->canon;
      if (ov->bits32) k->bits32 |= (uint8_t)(1u << ov->arg);
      else k->bits32 &= (uint8_t) ~(1u << ov->arg);
    }
  }
}

/* A scalar argument as the kernel reads it: the low 32 bits of an int. */
static uint64_t mvr_argval(const struct mvr_cls *k, int j, int64_t v) {
  return (k->bits32 >> j) & 1 ? (uint64_t)(uint32_t)v : (uint64_t)v;
}

/* Meaningful bytes (compiler/syscalls/layout.ts canonicalize, meaning.ts meaningfulBytes),
 * without copying: mvr_canon_len is their length, mvr_canon_byte byte i of them. */
static const struct mvr_canon *mvr_canon_of(uint16_t id, const uint8_t *p, uint64_t n) {
  const struct mvr_canon *c = &mvr_canons[id];
  if (c->kind != MVR_CN_SOCKADDR) return c;
  if (n < 2) return &mvr_canons[0];
  uint16_t family = (uint16_t)(p[0] | (p[1] << 8));
  for (uint32_t f = 0; f < MVR_CANON_FAMILIES; f++)
    if (mvr_canon_families[f].family == family) return &mvr_canons[mvr_canon_families[f].canon];
  return &mvr_canons[0];
}

static uint64_t mvr_canon_len(const struct mvr_canon *c, const uint8_t *p, uint64_t n) {
  if (c->kind == MVR_CN_PLAIN || c->elem) return n;
  if (c->kind == MVR_CN_CSTR) {
    for (uint64_t i = 0; i < n; i++)
      if (p[i] == 0) return i;
    return n;
  }
  uint64_t cut = n < c->end ? n : c->end;
  for (int k = 0; k < (int)c->count; k++) {
    const struct mvr_canon_op *o = &mvr_canon_ops[c->first + k];
    if (o->op == MVR_CO_ZERO || k != c->tail) continue;
    uint64_t from = o->offset < n ? o->offset : n;
    uint64_t to = (uint64_t)o->offset + o->length < n ? (uint64_t)o->offset + o->length : n;
    if (o->op == MVR_CO_SUNPATH && from < to && p[from] == 0) {
      cut = n; /* an abstract name: as long as the address */
      continue;
    }
    uint64_t nul = to;
    for (uint64_t i = from; i < to; i++) {
      if (p[i] == 0) {
        nul = i;
        break;
      }
    }
    if (nul < cut) cut = nul;
  }
  return cut;
}

static uint8_t mvr_canon_byte(const struct mvr_canon *c, const uint8_t *p, uint64_t n, uint64_t i) {
  if (c->kind != MVR_CN_STRUCT) return p[i];
  uint64_t base = c->elem ? i - i % c->elem : 0;
  uint64_t off = i - base;
  for (uint32_t k = 0; k < c->count; k++) {
    const struct mvr_canon_op *o = &mvr_canon_ops[c->first + k];
    if (off < o->offset || off >= (uint64_t)o->offset + o->length) continue;
    if (o->op == MVR_CO_ZERO) return 0;
    uint64_t s = base + o->offset;
    if (o->op == MVR_CO_SUNPATH && s < n && p[s] == 0) return p[i];
    for (uint64_t q = s; q < i; q++)
      if (p[q] == 0) return 0; /* past the string's NUL */
    return p[i];
  }
  return p[i];
}

static int mvr_canon_eq(uint16_t id, const uint8_t *a, uint64_t la, const uint8_t *b, uint64_t lb) {
  if (a == NULL) la = 0;
  if (b == NULL) lb = 0;
  if (id == 0) return mvr_bufeq(a, la, b, lb);
  const struct mvr_canon *ca = mvr_canon_of(id, a, la), *cb = mvr_canon_of(id, b, lb);
  uint64_t na = mvr_canon_len(ca, a, la), nb = mvr_canon_len(cb, b, lb);
  if (na != nb) return 0;
  for (uint64_t i = 0; i < na; i++)
    if (mvr_canon_byte(ca, a, la, i) != mvr_canon_byte(cb, b, lb, i)) return 0;
  return 1;
}

/* The default match: same syscall (checked by the caller) and every input argument means the
 * same: scalars by value (ints by their low 32 bits), inputs by their meaningful bytes. The
 * leader's event decides the command (a different command is a different scalar anyway). */
static int mvr_inputs_equal(const mvr_event *e, const mvr_call *c) {
  struct mvr_cls k;
  mvr_classes(c->nr, e->args, &k);
  for (int j = 0; j < MVR_MAX_ARGS; j++) {
    if (k.cls[j] == MVR_C_SCALAR && mvr_argval(&k, j, e->args[j]) != mvr_argval(&k, j, c->args[j])) return 0;
    if (k.cls[j] == MVR_C_CONTENT && !mvr_canon_eq(k.canon[j], e->buf[j], e->buf_len[j], c->buf[j], c->buf_len[j]))
      return 0;
  }
  return 1;
}

/* 1 yes, 0 no, -1 more leader events needed. Fills w->lev. */
static int mvr_match_left(struct mvr_w *w, const struct mvr_rule *r) {
  for (uint32_t i = 0; i < r->nleft; i++) {
    int eof;
    const mvr_event *e = mvr_get(w, w->s.next + i, &eof);
    if (e == NULL) return eof ? 0 : -1;
    w->lev[i] = e;
    const struct mvr_litem *it = &r->left[i];
    int ok = 0;
    for (uint32_t k = 0; k < it->nalts; k++) {
      if (it->alts[k].nr == e->nr && mvr_left_args(w, it->alts[k].args, e)) {
        ok = 1;
        break;
      }
    }
    if (!ok) return 0;
    if (it->guard && !mvr_run_guard(w, it->guard)) return 0;
  }
  return 1;
}

static void mvr_load_left(struct mvr_w *w, const struct mvr_rule *r) {
  for (uint32_t i = 0; i < r->nleft; i++) {
    int eof;
    w->lev[i] = mvr_get(w, w->s.next + i, &eof);
  }
}

static void mvr_clear_out(mvr_step *o) {
  for (int j = 0; j < MVR_MAX_ARGS; j++) {
    o->out[j] = NULL;
    o->out_len[j] = 0;
  }
}

static void mvr_give(struct mvr_w *w, const mvr_event *e) {
  mvr_step *o = w->out;
  const mvr_call *c = w->call;
  struct mvr_cls k;
  mvr_classes(c->nr, e->args, &k);
  o->follower_action = MVR_F_MATCH;
  o->event = e->index;
  o->ret = e->ret;
  mvr_clear_out(o);
  for (int j = 0; j < MVR_MAX_ARGS; j++) {
    if (mvr_sc_of(c->nr) && (k.cls[j] == MVR_C_OUT || k.cls[j] == MVR_C_OUTRET) && e->buf[j] != NULL) {
      o->out[j] = e->buf[j];
      o->out_len[j] = e->buf_len[j] < c->buf_len[j] ? e->buf_len[j] : c->buf_len[j];
    }
  }
}

static void mvr_complete(struct mvr_w *w, const struct mvr_rule *r) {
  for (uint32_t i = 0; i < r->nleft; i++)
    if (!(w->s.given & MVR_BIT(i))) mvr_act(w, w->s.next + i, MVR_L_SKIP);
  w->s.next += r->nleft;
  w->s.active = -1;
  w->s.pos = 0;
}

static void mvr_save_slots(struct mvr_w *w, const struct mvr_arg *args) {
  if (args == NULL) return;
  for (int j = 0; j < MVR_MAX_ARGS; j++)
    if (args[j].op == MVR_OP_BIND && args[j].save >= 0) w->s.slots[args[j].save] = w->call->args[j];
}

/* Decides the follower's call for a matched right-hand item: k >= 0 gives left item k (MATCH),
 * k < 0 executes or emulates. args: the item's argument patterns (output rewrites, slots). */
static void mvr_apply(struct mvr_w *w, const struct mvr_rule *r, uint32_t rid, const struct mvr_ritem *it, int k,
                      const struct mvr_arg *args) {
  mvr_step *o = w->out;
  const mvr_call *c = w->call;
  const struct mvr_sc *sc = mvr_sc_of(c->nr);
  o->rule = rid;
  if (k >= 0) {
    for (int j = 0; j < k; j++) {
      if (r->left[j].referenced && !(w->s.given & MVR_BIT(j)) && !(w->s.stored & MVR_BIT(j))) {
        w->s.stored |= MVR_BIT(j);
        mvr_act(w, w->s.next + (uint64_t)j, MVR_L_STORE);
      }
    }
    w->s.given |= MVR_BIT(k);
    mvr_act(w, w->s.next + (uint64_t)k, MVR_L_MATCH);
    mvr_give(w, w->lev[k]);
  } else {
    mvr_clear_out(o);
    if (sc && sc->exec && it->cb == NULL) {
      o->follower_action = MVR_F_EXEC;
      o->ret = 0;
      mvr_save_slots(w, args);
      return;
    }
    o->follower_action = MVR_F_EMULATE;
    /* The requested count: an argument, or the bytes gathered / the capacity offered. */
    o->ret = !sc                         ? 0
             : sc->count_arg != MVR_NONE ? c->args[sc->count_arg]
             : sc->count_buf != MVR_NONE ? (int64_t)c->buf_len[sc->count_buf]
                                         : 0;
  }
  if (args) {
    struct mvr_cls k;
    mvr_classes(c->nr, c->args, &k);
    for (int j = 0; j < MVR_MAX_ARGS; j++) {
      const struct mvr_arg *a = &args[j];
      if (a->cls == MVR_C_OUT && a->op == MVR_OP_BYTES) {
        uint64_t n = a->blen < c->buf_len[j] ? a->blen : c->buf_len[j];
        o->out[j] = a->bytes;
        o->out_len[j] = n;
        if (sc && k.cls[j] == MVR_C_OUTRET) o->ret = (int64_t)n;
      }
    }
  }
  mvr_save_slots(w, args);
  if (it->cb) {
    struct mvr_ctx ctx = {w->lev, c, w->s.slots};
    it->cb(&ctx, o, MVR_SCRATCH_OF(w->st), mvr_arena_of(w));
    if (it->typed_cb && MVR_ARENA_OVERFLOW(w->st)) w->overflow = 1;
  }
}

static int mvr_try_item(struct mvr_w *w, const struct mvr_rule *r, const struct mvr_ritem *it, int *k,
                        const struct mvr_arg **args) {
  const mvr_call *c = w->call;
  if (it->kind != MVR_R_CALL) {
    int i = it->item;
    if (w->s.given & MVR_BIT(i)) return 0;
    const mvr_event *e = w->lev[i];
    if (c->nr != e->nr) return 0;
    if (it->kind == MVR_R_LABEL) {
      if (!mvr_inputs_equal(e, c)) return 0;
    } else {
      const struct mvr_sc *sc = mvr_sc_of(e->nr);
      if (sc && sc->fd_arg != MVR_NONE && (uint32_t)c->args[sc->fd_arg] != (uint32_t)e->args[sc->fd_arg]) return 0;
    }
    if (it->guard && !mvr_run_guard(w, it->guard)) return 0;
    *k = i;
    *args = it->kind == MVR_R_REPLAY ? it->rargs : NULL;
    return 1;
  }
  const struct mvr_alt *alt = NULL;
  for (uint32_t a = 0; a < it->nalts; a++) {
    if (it->alts[a].nr == c->nr && mvr_right_args(w, it->alts[a].args, c)) {
      alt = &it->alts[a];
      break;
    }
  }
  if (alt == NULL) return 0;
  if (it->guard && !mvr_run_guard(w, it->guard)) return 0;
  int p = -1;
  for (uint32_t i = 0; i < r->nleft; i++) {
    if (!(w->s.given & MVR_BIT(i)) && !r->left[i].referenced) {
      p = (int)i;
      break;
    }
  }
  *k = p >= 0 && w->lev[p]->nr == c->nr ? p : -1;
  *args = alt->args;
  return 1;
}

enum { MVR_RHS_MATCHED, MVR_RHS_COMPLETED, MVR_RHS_FAIL };

static int mvr_rhs_step(struct mvr_w *w, uint32_t rid) {
  const struct mvr_rule *r = &mvr_rule_table[rid];
  for (;;) {
    if ((uint32_t)w->s.pos >= r->nright) {
      mvr_complete(w, r);
      return MVR_RHS_COMPLETED;
    }
    const struct mvr_ritem *it = &r->right[w->s.pos];
    int k;
    const struct mvr_arg *args;
    if (mvr_try_item(w, r, it, &k, &args)) {
      mvr_apply(w, r, rid, it, k, args);
      if (!it->star) w->s.pos++;
      if ((uint32_t)w->s.pos >= r->nright) mvr_complete(w, r);
      return MVR_RHS_MATCHED;
    }
    if (it->star) {
      w->s.pos++;
      continue;
    }
    return MVR_RHS_FAIL;
  }
}

static int mvr_try_rule(struct mvr_w *w, uint32_t rid) {
  struct mvr_core saved = w->s;
  uint32_t nacts = w->out->n_leader;
  w->s.active = (int32_t)rid;
  w->s.pos = 0;
  w->s.given = 0;
  w->s.stored = 0;
  for (int i = 0; i < MVR_NSLOTS; i++) w->s.slots[i] = 0;
  if (mvr_rhs_step(w, rid) == MVR_RHS_MATCHED) return 1;
  w->s = saved;
  w->out->n_leader = nacts;
  return 0;
}

static int mvr_has_nr(const struct mvr_rule *r, uint32_t nr) {
  if (r->ffn_any) return 1;
  const uint32_t *l = &mvr_u32[r->ffn_off];
  uint32_t lo = 0, hi = r->ffn_len;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (l[mid] == nr) return 1;
    if (l[mid] < nr) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

static const uint32_t *mvr_leader_candidates(const mvr_event *e, uint32_t *n) {
  *n = 0;
  if (e->nr >= MVR_NSC) return mvr_u32;
  const struct mvr_disp *d = &mvr_lead[e->nr];
  if (d->arg >= 0) {
    int64_t v = e->args[d->arg];
    uint32_t lo = 0, hi = d->nb;
    const struct mvr_bucket *b = &mvr_buckets[d->boff];
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (b[mid].value == v) {
        *n = b[mid].len;
        return &mvr_u32[b[mid].off];
      }
      if (b[mid].value < v) lo = mid + 1;
      else hi = mid;
    }
  }
  *n = d->len;
  return &mvr_u32[d->off];
}

static const uint32_t *mvr_nothing_candidates(uint32_t nr, uint32_t *n) {
  const struct mvr_list *l = nr < MVR_NSC ? &mvr_noth[nr] : &mvr_noth_any;
  *n = l->len;
  return &mvr_u32[l->off];
}

static int mvr_expected(struct mvr_w *w, uint32_t rid) {
  w->out->rule = rid;
  w->out->reason = mvr_rule_table[rid].reason;
  return MVR_EXPECTED_DIVERGE;
}

static int mvr_diverge(struct mvr_w *w, const char *reason) {
  w->out->reason = reason;
  return MVR_DIVERGE;
}

static int mvr_begin_step(struct mvr_w *w) {
  const uint32_t rid = MVR_BEGIN;
  const struct mvr_rule *r = &mvr_rule_table[rid];
  const mvr_call *c = w->call;
  const struct mvr_ritem *matched = NULL;
  const struct mvr_alt *alt = NULL;
  while ((uint32_t)w->s.begin < r->nright) {
    const struct mvr_ritem *it = &r->right[w->s.begin];
    if (it->kind == MVR_R_CALL) {
      alt = NULL;
      for (uint32_t a = 0; a < it->nalts; a++) {
        if (it->alts[a].nr == c->nr && mvr_right_args(w, it->alts[a].args, c)) {
          alt = &it->alts[a];
          break;
        }
      }
      if (alt && (it->guard == NULL || mvr_run_guard(w, it->guard))) {
        matched = it;
        break;
      }
    }
    if (!it->star) break;
    w->s.begin++;
  }
  w->out->rule = rid;
  if (matched) {
    mvr_apply(w, r, rid, matched, -1, alt->args);
    if (!matched->star) w->s.begin++;
  } else {
    static const struct mvr_ritem none = {0};
    mvr_apply(w, r, rid, &none, -1, NULL);
  }
  uint32_t i = (uint32_t)w->s.begin;
  while (i < r->nright && r->right[i].star) i++;
  if (i >= r->nright) w->s.begin = -1;
  return MVR_OK;
}

/* The step's leader actions are full before the call is decided: what they decided is kept
 * (MVR_PROGRESS) and the next step goes on from there with the same call. Deciding them in one
 * step or in several gives the same actions (docs/semantics.md, "Progress"). */
static int mvr_full(struct mvr_w *w) { return w->out->n_leader ? MVR_PROGRESS : mvr_diverge(w, MVR_REASON_TOO_MANY); }

static int mvr_step_inner(struct mvr_w *w) {
  const mvr_call *c = w->call;
  if (w->s.begin >= 0) return mvr_begin_step(w);
  for (;;) {
    if (w->s.active >= 0) {
      uint32_t rid = (uint32_t)w->s.active;
      mvr_load_left(w, &mvr_rule_table[rid]);
      int res = mvr_rhs_step(w, rid);
      if (res == MVR_RHS_MATCHED) return MVR_OK;
      if (res == MVR_RHS_FAIL) {
        w->out->rule = rid;
        return mvr_diverge(w, MVR_REASON_NOT_FIT);
      }
    }
    int eof;
    const mvr_event *ev = mvr_get(w, w->s.next, &eof);
    if (ev == NULL && !eof) return MVR_NEED_MORE;
    int restarted = 0;
    if (ev) {
      uint32_t n;
      const uint32_t *cand = mvr_leader_candidates(ev, &n);
      /* Pass 1: mappings and expected divergences come before the default match. */
      for (uint32_t ci = 0; ci < n; ci++) {
        uint32_t rid = cand[ci];
        const struct mvr_rule *r = &mvr_rule_table[rid];
        if (r->rhs == MVR_RHS_NOTHING) continue;
        if (!mvr_has_nr(r, c->nr)) continue;
        int m = mvr_match_left(w, r);
        if (m < 0) return MVR_NEED_MORE;
        if (m == 0) continue;
        if (w->out->n_leader + r->nleft > MVR_MAX_LEADER_ACTIONS) return mvr_full(w);
        if (r->rhs == MVR_RHS_DIVERGE) return mvr_expected(w, rid);
        if (mvr_try_rule(w, rid)) return MVR_OK;
      }
      if (ev->nr == c->nr && mvr_inputs_equal(ev, c)) {
        if (w->out->n_leader + 1 > MVR_MAX_LEADER_ACTIONS) return mvr_full(w);
        mvr_act(w, w->s.next, MVR_L_MATCH);
        mvr_give(w, ev);
        w->out->rule = MVR_RULE_DEFAULT;
        w->s.next += 1;
        return MVR_OK;
      }
      /* Pass 2: leader-only rules (X => nothing), only where the default does not hold: a
       * follower that does make the call gets the leader's results. */
      for (uint32_t ci = 0; ci < n; ci++) {
        uint32_t rid = cand[ci];
        const struct mvr_rule *r = &mvr_rule_table[rid];
        if (r->rhs != MVR_RHS_NOTHING) continue;
        if (!mvr_has_nr(r, c->nr)) continue;
        int m = mvr_match_left(w, r);
        if (m < 0) return MVR_NEED_MORE;
        if (m == 0) continue;
        if (w->out->n_leader + r->nleft > MVR_MAX_LEADER_ACTIONS) return mvr_full(w);
        for (uint32_t i = 0; i < r->nleft; i++) mvr_act(w, w->s.next + i, MVR_L_SKIP);
        MVR_SKIPPED_BY(rid);
        w->s.next += r->nleft;
        restarted = 1;
        break;
      }
      if (restarted) continue;
    }
    uint32_t n;
    const uint32_t *cand = mvr_nothing_candidates(c->nr, &n);
    for (uint32_t ci = 0; ci < n; ci++) {
      uint32_t rid = cand[ci];
      const struct mvr_rule *r = &mvr_rule_table[rid];
      if (r->rhs == MVR_RHS_DIVERGE) return mvr_expected(w, rid);
      if (r->rhs != MVR_RHS_SEQ) continue;
      if (mvr_try_rule(w, rid)) return MVR_OK;
    }
    return mvr_diverge(w, MVR_REASON_NO_RULE);
  }
}

static void mvr_step_init(mvr_step *out) {
  out->follower_action = MVR_F_NOP;
  out->event = 0;
  out->ret = 0;
  mvr_clear_out(out);
  out->rule = MVR_RULE_DEFAULT;
  out->n_leader = 0;
  out->reason = NULL;
}

static void mvr_step_undecided(mvr_step *out) {
  out->follower_action = MVR_F_NOP;
  out->event = 0;
  out->ret = 0;
  mvr_clear_out(out);
}

size_t mvr_rules_state_size(void) {
  mvr_tables_init();
  return sizeof(struct mvr_state);
}

void mvr_rules_reset(void *state, uint64_t first_event) {
  struct mvr_state *st = state;
  struct mvr_core *s = &st->c;
  mvr_tables_init();
  s->next = first_event;
  s->given = 0;
  s->stored = 0;
  s->active = -1;
  s->pos = 0;
  s->begin = MVR_BEGIN_START;
  for (int i = 0; i < MVR_NSLOTS; i++) s->slots[i] = 0;
}

uint64_t mvr_rules_low_water(const void *state) {
  const struct mvr_state *st = state;
  return st->c.next;
}

int mvr_rules_step(void *state, const mvr_leader_view *leader, const mvr_call *call, mvr_step *out) {
  struct mvr_state *st = state;
  struct mvr_w w;
  mvr_tables_init();
  w.s = st->c;
  w.lv = leader;
  w.call = call;
  w.out = out;
  w.st = st;
  w.overflow = 0;
  mvr_step_init(out);
  int status = mvr_step_inner(&w);
  if ((status == MVR_OK || status == MVR_PROGRESS) && w.overflow) status = mvr_diverge(&w, MVR_REASON_OVERFLOW);
  if (status == MVR_OK || status == MVR_PROGRESS) st->c = w.s;
  if (status != MVR_OK) mvr_step_undecided(out);
  if (status != MVR_OK && status != MVR_PROGRESS) out->n_leader = 0;
  return status;
}

int mvr_rules_finish(void *state, const mvr_leader_view *leader, mvr_step *out) {
  struct mvr_state *st = state;
  struct mvr_w w;
  mvr_tables_init();
  w.s = st->c;
  w.lv = leader;
  w.call = NULL;
  w.out = out;
  w.st = st;
  w.overflow = 0;
  mvr_step_init(out);
  int status = MVR_OK;
  if (w.s.active >= 0) {
    const struct mvr_rule *r = &mvr_rule_table[w.s.active];
    uint32_t i = (uint32_t)w.s.pos;
    while (i < r->nright && r->right[i].star) i++;
    if (i < r->nright) {
      out->rule = (uint32_t)w.s.active;
      out->reason = MVR_REASON_EXITED_IN_RULE;
      out->n_leader = 0;
      return MVR_DIVERGE;
    }
    mvr_complete(&w, r);
  }
  for (;;) {
    int eof;
    const mvr_event *ev = mvr_get(&w, w.s.next, &eof);
    if (ev == NULL) {
      status = eof ? MVR_OK : MVR_NEED_MORE;
      break;
    }
    int found = 0;
    uint32_t n;
    const uint32_t *cand = mvr_leader_candidates(ev, &n);
    for (uint32_t ci = 0; ci < n && status == MVR_OK; ci++) {
      uint32_t rid = cand[ci];
      const struct mvr_rule *r = &mvr_rule_table[rid];
      if (r->rhs == MVR_RHS_SEQ) continue;
      int m = mvr_match_left(&w, r);
      if (m < 0) status = MVR_NEED_MORE;
      else if (m == 0) continue;
      else if (out->n_leader + r->nleft > MVR_MAX_LEADER_ACTIONS) status = MVR_NEED_MORE;
      else if (r->rhs == MVR_RHS_DIVERGE) status = mvr_expected(&w, rid);
      else {
        for (uint32_t i = 0; i < r->nleft; i++) mvr_act(&w, w.s.next + i, MVR_L_SKIP);
        MVR_SKIPPED_BY(rid);
        w.s.next += r->nleft;
        found = 1;
        break;
      }
    }
    if (status != MVR_OK) break;
    if (!found) {
      status = mvr_diverge(&w, MVR_REASON_LEFTOVER);
      break;
    }
  }
  if (status == MVR_OK || status == MVR_NEED_MORE) {
    st->c = w.s;
  } else {
    out->n_leader = 0;
  }
  return status;
}