/* The runtime's accessors over the generated syscall table (see mvr_sysinfo.h). */
#include "mvr_sysinfo.h"
/* The one translation unit that holds the generated tables (the others declare them). */
#define MVR_SYSCALLS_DEFINE
#include "mvr_syscalls.h"

_Static_assert((int)MVR_EFFECT_LOCAL == (int)MVR_E_LOCAL && (int)MVR_EFFECT_READONLY == (int)MVR_E_READONLY &&
                   (int)MVR_EFFECT_EXTERNAL == (int)MVR_E_EXTERNAL,
               "effect classes agree with mvr_syscalls.h");

static const char *const unknown_names[] = {"syscall_?"};

const char *mvr_si_name(uint32_t nr) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  return si ? si->name : unknown_names[0];
}

int mvr_si_known(uint32_t nr) { return mvr_syscall_lookup(nr) != NULL; }

unsigned mvr_si_arity(uint32_t nr) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  return si ? si->nargs : 6;
}

int mvr_si_effect(uint32_t nr) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  return si ? si->effect : MVR_E_EXTERNAL;
}

int mvr_si_kind(uint32_t nr, unsigned i) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  if (!si || i >= 6 || i >= si->nargs) return MVR_K_SCALAR;
  /* Gathered data, msghdrs and structures holding pointers mean something only through the model
   * (mvr_si_type): until the agent records them by it, it sees a pointer, as before. */
  if (si->params[i].flags & MVR_PF_AGENT_PTR) return MVR_K_PTR;
  switch (si->params[i].kind) {
    case MVR_P_PTR: return MVR_K_PTR;
    case MVR_P_IN_BYTES: return MVR_K_IN_BYTES;
    case MVR_P_OUT_BYTES: return MVR_K_OUT_BYTES;
    case MVR_P_PATH: return MVR_K_PATH;
    case MVR_P_IN_STRUCT: return MVR_K_IN_STRUCT;
    case MVR_P_OUT_STRUCT: return MVR_K_OUT_STRUCT;
    default: return MVR_K_SCALAR;
  }
}

int mvr_si_len_param(uint32_t nr, unsigned i) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  if (!si || i >= 6) return -1;
  int lp = si->params[i].len_param;
  return lp >= 0 && lp < si->nargs ? lp : -1;
}

int mvr_si_len_from_ret(uint32_t nr, unsigned i) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  return si && i < 6 ? si->params[i].len_from_ret : 0;
}

uint32_t mvr_si_fixed_size(uint32_t nr, unsigned i) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  return si && i < 6 ? si->params[i].fixed_size : 0;
}

int mvr_si_returns_fd(uint32_t nr) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  return si ? si->returns_fd : 0;
}

int mvr_si_recorded(uint32_t nr) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  return si ? si->recorded : 1;
}

int mvr_si_new_fds(uint32_t nr) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  return si ? si->new_fds : MVR_FDS_NONE;
}

int mvr_si_task(uint32_t nr, unsigned *param) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  if (param) *param = si ? si->task_param : 0;
  return si ? si->task : MVR_TASK_NONE;
}

int mvr_si_noreturn(uint32_t nr) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  return si ? si->noreturn : 0;
}

int mvr_si_blocks(uint32_t nr) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  return si ? si->blocks : 1;
}

unsigned mvr_si_nextra(uint32_t nr) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  return si ? si->nextra : 0;
}

int mvr_si_type(uint32_t nr, unsigned i, unsigned *strct) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  if (strct) *strct = 0;
  if (!si || i >= 6) return MVR_T_NONE;
  if (strct) *strct = si->params[i].strct;
  return si->params[i].type;
}

static unsigned model_slots(uint32_t nr) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  if (!si) return 0;
  unsigned mask = 0;
  for (unsigned i = 0; i < si->nargs && i < 6; i++) {
    const struct mvr_param *p = &si->params[i];
    if ((p->flags & MVR_PF_AGENT_PTR) &&
        (p->type == MVR_T_IOVEC || p->type == MVR_T_MSGHDR || p->type == MVR_T_MMSGHDR))
      mask |= 1u << i;
  }
  for (unsigned j = si->nargs; j < 6 && j < (unsigned)si->nargs + si->nextra; j++) {
    int from = si->params[j].from;
    if (from >= 0 && from < 6 && (mask & (1u << from))) mask |= 1u << j;
  }
  return mask;
}

/* Bounded like the kernel's: a command selector is an int unless the table says otherwise. */
static uint64_t sel_width(uint64_t v, int b32) { return b32 ? (uint64_t)(uint32_t)v : v; }

unsigned mvr_si_cmd_entries(uint32_t nr, const int64_t *args, uint16_t *out, unsigned max) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  if (!si || !si->cmd) return 0;
  const struct mvr_cmd_table *t = &mvr_cmd_tables[si->cmd - 1];
  uint64_t v[2] = {0, 0};
  int b32[2] = {0, 0};
  for (int k = 0; k < t->nsel && k < 2; k++) {
    b32[k] = (si->params[t->sel[k]].flags & MVR_PF_BITS32) != 0;
    v[k] = sel_width((uint64_t)args[t->sel[k]], b32[k]);
    if (k == 0) v[k] &= sel_width((uint64_t)t->mask, b32[k]);
  }
  unsigned n = 0;
  for (unsigned e = 0; e < t->count && n < max; e++) {
    const struct mvr_cmd_entry *en = &mvr_cmd_entries[t->first + e];
    int holds = 1;
    for (int k = 0; k < t->nsel && k < 2 && holds; k++) {
      uint64_t c = sel_width((uint64_t)en->cond[k].value, b32[k]);
      if (en->cond[k].kind == MVR_CM_EQ) holds = v[k] == c;
      else if (en->cond[k].kind == MVR_CM_ALL) holds = (v[k] & c) == c;
    }
    if (holds) out[n++] = (uint16_t)(t->first + e);
  }
  return n;
}

unsigned mvr_si_cmd_flags(uint32_t nr, const int64_t *args) {
  uint16_t idx[16];
  unsigned n = mvr_si_cmd_entries(nr, args, idx, 16), flags = 0;
  for (unsigned k = 0; k < n; k++) flags |= mvr_cmd_entries[idx[k]].flags;
  return flags;
}

static unsigned policy(uint32_t nr) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  if (!si) return MVR_POL_RECORDED; /* unknown numbers: external */
  unsigned pol = 0;
  if (si->recorded) pol |= MVR_POL_RECORDED;
  if (si->returns_fd || si->new_fds != MVR_FDS_NONE) pol |= MVR_POL_FDS;
  if (si->cmd) {
    const struct mvr_cmd_table *t = &mvr_cmd_tables[si->cmd - 1];
    for (unsigned e = 0; e < t->count; e++)
      if (mvr_cmd_entries[t->first + e].flags & MVR_CF_RETFD) pol |= MVR_POL_CMD_FDS;
  }
  if (si->task != MVR_TASK_NONE) pol |= MVR_POL_TASK;
  return pol;
}

/* Asked for every recorded event and every follower call: computed once per number (a benign race
 * between threads writes the same value). Low byte: the model slots; high byte: the policy. */
#define SI_CACHE 512u
static uint16_t si_cache[SI_CACHE];
static int si_cache_ready;

static unsigned cached(uint32_t nr) {
  if (nr >= SI_CACHE) return model_slots(nr) | policy(nr) << 8;
  if (!__atomic_load_n(&si_cache_ready, __ATOMIC_ACQUIRE)) {
    for (uint32_t k = 0; k < SI_CACHE; k++) si_cache[k] = (uint16_t)(model_slots(k) | policy(k) << 8);
    __atomic_store_n(&si_cache_ready, 1, __ATOMIC_RELEASE);
  }
  return si_cache[nr];
}

unsigned mvr_si_model_slots(uint32_t nr) { return cached(nr) & 0xffu; }

unsigned mvr_si_policy(uint32_t nr) { return cached(nr) >> 8; }

int mvr_si_derived(uint32_t nr, unsigned j, unsigned *part) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  if (part) *part = MVR_PART_NONE;
  if (!si || j >= 6 || j < si->nargs) return -1;
  if (part) *part = si->params[j].part;
  return si->params[j].from;
}
