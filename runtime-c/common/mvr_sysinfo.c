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
    if ((p->flags & MVR_PF_AGENT_PTR) && (p->type == MVR_T_IOVEC || p->type == MVR_T_MSGHDR)) mask |= 1u << i;
  }
  for (unsigned j = si->nargs; j < 6 && j < (unsigned)si->nargs + si->nextra; j++) {
    int from = si->params[j].from;
    if (from >= 0 && from < 6 && (mask & (1u << from))) mask |= 1u << j;
  }
  return mask;
}

/* Asked for every recorded event and every follower call: computed once per number (a benign race
 * between threads writes the same value; 0xff: not computed yet). */
#define MODEL_SLOTS_CACHE 512u
static uint8_t model_slots_cache[MODEL_SLOTS_CACHE];
static int model_slots_ready;

unsigned mvr_si_model_slots(uint32_t nr) {
  if (nr >= MODEL_SLOTS_CACHE) return model_slots(nr);
  if (!__atomic_load_n(&model_slots_ready, __ATOMIC_ACQUIRE)) {
    for (uint32_t k = 0; k < MODEL_SLOTS_CACHE; k++) model_slots_cache[k] = (uint8_t)model_slots(k);
    __atomic_store_n(&model_slots_ready, 1, __ATOMIC_RELEASE);
  }
  return model_slots_cache[nr];
}

int mvr_si_derived(uint32_t nr, unsigned j, unsigned *part) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  if (part) *part = MVR_PART_NONE;
  if (!si || j >= 6 || j < si->nargs) return -1;
  if (part) *part = si->params[j].part;
  return si->params[j].from;
}
