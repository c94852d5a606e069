/* The default rule (LANGUAGE.md §3): the follower's call matches the next leader event when the
 * syscall is the same and every input argument agrees — scalars and fds by value, input buffers
 * and paths by content; pointer values are never compared. The follower then gets the leader's
 * outputs (capped by its own capacity) and return value. */
#include <string.h>
#include "default_matcher.h"
#include "../common/mvr_params.h"

typedef struct dm_state {
  uint64_t next;
} dm_state;

size_t MVR_DM(state_size)(void) { return sizeof(dm_state); }

void MVR_DM(reset)(void *state, uint64_t first_event) { ((dm_state *)state)->next = first_event; }

uint64_t MVR_DM(low_water)(const void *state) { return ((const dm_state *)state)->next; }

static int diverge(mvr_step *out, const char *reason) {
  out->rule = MVR_RULE_DEFAULT;
  out->reason = reason;
  out->n_leader = 0;
  return MVR_DIVERGE;
}

int MVR_DM(step)(void *state, const mvr_leader_view *leader, const mvr_call *call, mvr_step *out) {
  dm_state *st = state;
  int eof = 0;
  const mvr_event *ev = leader->get(leader->ctx, st->next, &eof);
  if (!ev) return eof ? diverge(out, "the leader made no further call") : MVR_NEED_MORE;
  if (ev->nr != call->nr) return diverge(out, "a different syscall");
  unsigned arity = mvr_si_arity(call->nr);
  for (unsigned i = 0; i < arity && i < MVR_MAX_ARGS; i++) {
    int k = mvr_si_kind(call->nr, i);
    out->out[i] = NULL;
    out->out_len[i] = 0;
    if (k == MVR_K_SCALAR) {
      if (ev->args[i] != call->args[i]) return diverge(out, "an argument differs");
    } else if (mvr_kind_is_in(k)) {
      if ((ev->args[i] == 0) != (call->args[i] == 0)) return diverge(out, "a buffer is NULL in one version only");
      if (ev->buf_len[i] != call->buf_len[i] ||
          (call->buf_len[i] && memcmp(ev->buf[i], call->buf[i], call->buf_len[i]) != 0))
        return diverge(out, "input bytes differ");
    } else if (mvr_kind_is_out(k) && ev->buf[i]) {
      out->out[i] = ev->buf[i];
      out->out_len[i] = ev->buf_len[i] < call->buf_len[i] ? ev->buf_len[i] : call->buf_len[i];
    }
  }
  out->follower_action = MVR_F_MATCH;
  out->event = ev->index;
  out->ret = ev->ret;
  out->rule = MVR_RULE_DEFAULT;
  out->n_leader = 1;
  out->leader[0].event = ev->index;
  out->leader[0].action = MVR_L_MATCH;
  out->reason = NULL;
  st->next = ev->index + 1;
  return MVR_OK;
}

int MVR_DM(finish)(void *state, const mvr_leader_view *leader, mvr_step *out) {
  dm_state *st = state;
  int eof = 0;
  if (leader->get(leader->ctx, st->next, &eof)) return diverge(out, "the follower exited before the leader");
  out->n_leader = 0;
  return MVR_OK;
}
