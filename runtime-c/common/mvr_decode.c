/* Strace-like rendering of leader events and follower calls for reports, from the syscall model
 * (runtime-c/include/mvr_syscalls.h, generated from compiler/syscalls/x86_64.tsv) — the same
 * rules as compiler/syscalls/decode.ts: every argument by what it is for the call's command
 * (fcntl's cmd, ioctl's request ...), flags and constants by their names, structures by their
 * layouts, socket addresses by family, byte buffers as C strings cut at 32 bytes ("..." marks the
 * cut), memory that was not recorded as its address, errors as -1 ENAME (text).
 * mvr_format_difference says where two calls differ: the argument, and for bytes the first byte
 * that differs with the bytes around it. No allocation: everything goes into the caller's buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "mvr_decode.h"
#include "mvr_params.h"
#include "mvr_strbuf.h"
#include "mvr_syscalls.h"

#define SHOW_BYTES 32

/* Every piece goes into a fixed-buffer builder: cut at the caller's capacity, no allocation (the
 * agent formats its reports on its trap path). */
#define put mvr_sb_printf

static void put_byte(mvr_strbuf *s, uint8_t c) {
  if (c == '\n') put(s, "\\n");
  else if (c == '\r') put(s, "\\r");
  else if (c == '\t') put(s, "\\t");
  else if (c == '"' || c == '\\') put(s, "\\%c", c);
  else if (c >= 32 && c < 127) put(s, "%c", c);
  else put(s, "\\x%02x", c);
}

/* Bytes from..to of b (len bytes) as a C string, with "..." where it goes on. */
static void put_span(mvr_strbuf *s, const uint8_t *b, uint64_t len, uint64_t from, uint64_t to) {
  if (to > len) to = len;
  if (from > 0) put(s, "...");
  put(s, "\"");
  for (uint64_t i = from; i < to; i++) put_byte(s, b[i]);
  put(s, "\"%s", to < len ? "..." : "");
}

static void put_bytes(mvr_strbuf *s, const uint8_t *b, uint64_t len) {
  put_span(s, b, len, 0, len < SHOW_BYTES ? len : SHOW_BYTES);
}

static uint64_t cstrlen(const uint8_t *b, uint64_t len) {
  for (uint64_t i = 0; i < len; i++)
    if (b[i] == 0) return i;
  return len;
}

/* ---- numbers and value sets ------------------------------------------------------------------ */

static uint64_t width(uint64_t v, int bits32) { return bits32 ? (uint64_t)(uint32_t)v : v; }

static void put_number(mvr_strbuf *s, uint64_t v, int fmt, int bits32) {
  v = width(v, bits32);
  if (fmt == MVR_FMT_OCT) put(s, v ? "0%llo" : "0", (unsigned long long)v);
  else if (fmt == MVR_FMT_HEX) put(s, v ? "0x%llx" : "0", (unsigned long long)v);
  else put(s, "%lld", bits32 ? (long long)(int32_t)v : (long long)v);
}

static const struct mvr_value_set *value_set(uint16_t values) {
  return values && values <= MVR_VALUE_SETS ? &mvr_value_sets[values - 1] : NULL;
}

/* A value by its set's names: an enum's name, flags as A|B|0x40, an enum+bits as both. */
static void put_value(mvr_strbuf *s, uint16_t values, uint64_t v, int fmt, int bits32) {
  const struct mvr_value_set *vs = value_set(values);
  v = width(v, bits32);
  if (!vs) return put_number(s, v, fmt, bits32);
  const struct mvr_value *e = &mvr_values[vs->first];
  if (vs->kind == MVR_VS_ENUM) {
    for (unsigned i = 0; i < vs->count; i++)
      if (width((uint64_t)e[i].value, bits32) == v) return (void)put(s, "%s", e[i].name);
    return put_number(s, v, fmt, bits32);
  }
  uint64_t mask = vs->kind == MVR_VS_ENUM_BITS ? width(vs->mask, bits32) : 0, rest = v;
  int shown = 0;
  if (mask) {
    for (unsigned i = 0; i < vs->count; i++) {
      uint64_t b = width((uint64_t)e[i].value, bits32);
      if ((b & ~mask) == 0 && b == (v & mask)) {
        put(s, "%s", e[i].name);
        rest &= ~mask;
        shown = 1;
        break;
      }
    }
  }
  const char *zero = NULL;
  for (unsigned i = 0; i < vs->count; i++) {
    uint64_t b = width((uint64_t)e[i].value, bits32);
    if (b == 0) {
      if (!zero) zero = e[i].name;
      continue;
    }
    if (mask && (b & mask)) continue;
    if ((rest & b) == b) {
      put(s, "%s%s", shown ? "|" : "", e[i].name);
      rest &= ~b;
      shown = 1;
    }
  }
  if (rest || !shown) {
    if (!rest && zero) return (void)put(s, "%s", zero);
    if (shown) put(s, "|");
    put_number(s, rest, fmt == MVR_FMT_OCT ? MVR_FMT_OCT : MVR_FMT_HEX, 0);
  }
}

/* A value set's index + 1 (as in mvr_param.values), by name; 0 when there is none. */
static uint16_t set_named(const char *set) {
  for (unsigned k = 0; k < MVR_VALUE_SETS; k++)
    if (strcmp(mvr_value_sets[k].name, set) == 0) return (uint16_t)(k + 1);
  return 0;
}

static const char *value_name(const char *set, int64_t v) {
  for (unsigned k = 0; k < MVR_VALUE_SETS; k++) {
    if (strcmp(mvr_value_sets[k].name, set) != 0) continue;
    for (unsigned i = 0; i < mvr_value_sets[k].count; i++)
      if (mvr_values[mvr_value_sets[k].first + i].value == v) return mvr_values[mvr_value_sets[k].first + i].name;
  }
  return NULL;
}

static const char *errno_text(int64_t v, const char **name) {
  for (unsigned k = 0; k < MVR_VALUE_SETS; k++) {
    if (strcmp(mvr_value_sets[k].name, "errno") != 0) continue;
    for (unsigned i = 0; i < mvr_value_sets[k].count; i++) {
      const struct mvr_value *e = &mvr_values[mvr_value_sets[k].first + i];
      if (e->value == v && e->text) {
        *name = e->name;
        return e->text;
      }
    }
  }
  return NULL;
}

static void put_signal(mvr_strbuf *s, int sig) {
  const char *n = value_name("signal", sig);
  if (n) put(s, "%s", n);
  else put(s, "%d", sig);
}

/* ---- structures -------------------------------------------------------------------------------- */

static uint64_t rd(const uint8_t *b, unsigned size, int big) {
  uint64_t v = 0;
  for (unsigned k = 0; k < size; k++) v = (v << 8) | b[big ? k : size - 1 - k];
  return v;
}

static int64_t sext(uint64_t v, unsigned size) {
  return size >= 8 ? (int64_t)v : (int64_t)(v << (64 - 8 * size)) >> (64 - 8 * size);
}

static unsigned prim_size(int type) {
  switch (type) {
    case MVR_F_I8:
    case MVR_F_U8: return 1;
    case MVR_F_I16:
    case MVR_F_U16:
    case MVR_F_BE16: return 2;
    case MVR_F_I32:
    case MVR_F_U32:
    case MVR_F_BE32:
    case MVR_F_FD:
    case MVR_F_INADDR: return 4;
    case MVR_F_I64:
    case MVR_F_U64:
    case MVR_F_PTR: return 8;
    case MVR_F_IN6ADDR: return 16;
    default: return 0;
  }
}

static uint64_t field_size(const struct mvr_field *f) {
  if (f->type == MVR_F_STRUCT) return (uint64_t)mvr_structs[f->sub].size * f->count;
  if (f->type == MVR_F_BYTES || f->type == MVR_F_CSTR || f->type == MVR_F_PAD || f->type == MVR_F_SIGSET ||
      f->type == MVR_F_SUNPATH)
    return f->count;
  return (uint64_t)prim_size(f->type) * f->count;
}

static void put_sigset(mvr_strbuf *s, const uint8_t *b, uint64_t len) {
  put(s, "[");
  int first = 1;
  for (uint64_t i = 0; i < len * 8 && i < 64; i++) {
    if (!((b[i >> 3] >> (i & 7)) & 1)) continue;
    const char *n = value_name("signal", (int64_t)i + 1);
    put(s, "%s", first ? "" : " ");
    if (n) put(s, "%s", strncmp(n, "SIG", 3) == 0 ? n + 3 : n);
    else put(s, "%llu", (unsigned long long)i + 1);
    first = 0;
  }
  put(s, "]");
}

static void put_wstatus(mvr_strbuf *s, int st) {
  int sig = st & 0x7f;
  if (sig == 0) return (void)put(s, "{WIFEXITED(s) && WEXITSTATUS(s) == %d}", (st >> 8) & 0xff);
  if (sig == 0x7f) {
    put(s, "{WIFSTOPPED(s) && WSTOPSIG(s) == ");
    put_signal(s, (st >> 8) & 0xff);
    return (void)put(s, "}");
  }
  put(s, "{WIFSIGNALED(s) && WTERMSIG(s) == ");
  put_signal(s, sig);
  put(s, "%s}", st & 0x80 ? " && WCOREDUMP(s)" : "");
}

static void put_ipv6(mvr_strbuf *s, const uint8_t *b) {
  unsigned g[8];
  for (int i = 0; i < 8; i++) g[i] = (unsigned)(b[2 * i] << 8 | b[2 * i + 1]);
  int best = -1, bestlen = 0;
  for (int i = 0; i < 8;) {
    if (g[i]) {
      i++;
      continue;
    }
    int j = i;
    while (j < 8 && !g[j]) j++;
    if (j - i > bestlen && j - i >= 2) best = i, bestlen = j - i;
    i = j;
  }
  for (int i = 0; i < 8; i++) {
    if (i == best) {
      put(s, "::");
      i += bestlen - 1;
      continue;
    }
    put(s, "%s%x", i && i != best + bestlen ? ":" : "", g[i]);
  }
}

static void put_struct(mvr_strbuf *s, unsigned idx, const uint8_t *b, uint64_t len);

static void put_prim(mvr_strbuf *s, const struct mvr_field *f, const uint8_t *b) {
  unsigned size = prim_size(f->type);
  uint64_t v = rd(b, size, 0);
  int is_signed = f->type == MVR_F_I8 || f->type == MVR_F_I16 || f->type == MVR_F_I32 || f->type == MVR_F_I64 ||
                  f->type == MVR_F_FD;
  if (f->fmt == MVR_FMT_WSTATUS) return put_wstatus(s, (int)(int32_t)v);
  if (f->fmt == MVR_FMT_UNION64)
    return (void)put(s, "{u32=%u, u64=%llu}", (unsigned)(uint32_t)v, (unsigned long long)v);
  if (f->type == MVR_F_PTR && !f->values) return (void)put(s, v ? "0x%llx" : "NULL", (unsigned long long)v);
  if (f->values) return put_value(s, f->values, v, f->fmt, size <= 4);
  if (f->fmt != MVR_FMT_DEC) return put_number(s, v, f->fmt, size <= 4);
  if (is_signed) put(s, "%lld", (long long)sext(v, size));
  else put(s, "%llu", (unsigned long long)v);
}

/* One field's value; 0 when its bytes are not all there (a string may end early). */
static int put_field(mvr_strbuf *s, const struct mvr_field *f, const uint8_t *b, uint64_t len, uint64_t at,
                     uint64_t size) {
  if (at + size > len) {
    if ((f->type != MVR_F_CSTR && f->type != MVR_F_BYTES && f->type != MVR_F_SUNPATH) || at >= len) return 0;
    size = len - at;
  }
  const uint8_t *p = b + at;
  switch (f->type) {
    case MVR_F_STRUCT: {
      uint32_t sz = mvr_structs[f->sub].size;
      if (f->count > 1) put(s, "[");
      for (unsigned k = 0; k < f->count; k++) {
        if (k) put(s, ", ");
        put_struct(s, f->sub, p + (uint64_t)k * sz, sz);
      }
      if (f->count > 1) put(s, "]");
      return 1;
    }
    case MVR_F_BYTES: put_bytes(s, p, size); return 1;
    case MVR_F_CSTR: put_span(s, p, cstrlen(p, size), 0, cstrlen(p, size)); return 1;
    case MVR_F_SUNPATH:
      if (size > 0 && p[0] == 0) {
        put(s, "@");
        put_span(s, p + 1, cstrlen(p + 1, size - 1), 0, cstrlen(p + 1, size - 1));
      } else put_span(s, p, cstrlen(p, size), 0, cstrlen(p, size));
      return 1;
    case MVR_F_SIGSET: put_sigset(s, p, size); return 1;
    case MVR_F_INADDR: put(s, "inet_addr(\"%u.%u.%u.%u\")", p[0], p[1], p[2], p[3]); return 1;
    case MVR_F_IN6ADDR:
      put(s, "inet_pton(AF_INET6, \"");
      put_ipv6(s, p);
      put(s, "\", &%s)", f->name);
      return 1;
    case MVR_F_BE16: put(s, "htons(%llu)", (unsigned long long)rd(p, 2, 1)); return 1;
    case MVR_F_BE32: put(s, "htonl(%llu)", (unsigned long long)rd(p, 4, 1)); return 1;
    default: {
      unsigned one = prim_size(f->type);
      if (!one) return 0;
      if (f->count > 1) put(s, "[");
      for (unsigned k = 0; k < f->count; k++) {
        if (k) put(s, ", ");
        put_prim(s, f, p + (uint64_t)k * one);
      }
      if (f->count > 1) put(s, "]");
      return 1;
    }
  }
}

/* A structure as strace shows it: {name=value, ...}; a single value behind a pointer as [v]. */
static void put_struct(mvr_strbuf *s, unsigned idx, const uint8_t *b, uint64_t len) {
  const struct mvr_struct *st = &mvr_structs[idx];
  const struct mvr_field *fs = &mvr_fields[st->first];
  if (st->count == 1) {
    const struct mvr_field *f = &fs[0];
    int bare = f->type == MVR_F_CSTR || f->type == MVR_F_BYTES || f->count > 1 || f->type == MVR_F_STRUCT;
    if (!bare) put(s, "[");
    if (!put_field(s, f, b, len, f->offset, field_size(f))) put_bytes(s, b, len);
    if (!bare) put(s, "]");
    return;
  }
  int brief = 0, first = 1, cut = 0;
  for (unsigned i = 0; i < st->count; i++) brief |= fs[i].flags & MVR_FF_BRIEF;
  put(s, "{");
  for (unsigned i = 0; i < st->count; i++) {
    const struct mvr_field *f = &fs[i];
    if (f->type == MVR_F_PAD || (brief && !(f->flags & MVR_FF_BRIEF))) continue;
    uint64_t size = field_size(f);
    if (f->offset + size > len) {
      cut = 1;
      break;
    }
    if ((f->flags & MVR_FF_OMIT0) && rd(b + f->offset, prim_size(f->type) ? prim_size(f->type) : 1, 0) == 0) continue;
    put(s, "%s", first ? "" : ", ");
    if (f->type != MVR_F_IN6ADDR) put(s, "%s=", f->name);
    put_field(s, f, b, len, f->offset, size);
    first = 0;
  }
  if (brief || cut) put(s, "%s...", first ? "" : ", ");
  put(s, "}");
}

static int family_struct(const uint8_t *b, uint64_t len) {
  if (len < 2) return -1;
  uint16_t family = (uint16_t)(b[0] | b[1] << 8);
  for (unsigned i = 0; i < MVR_FAMILIES; i++)
    if (mvr_families[i].family == family) return mvr_families[i].strct;
  return -1;
}

/* A socket address: the fields its length covers. */
static void put_sockaddr(mvr_strbuf *s, const uint8_t *b, uint64_t len) {
  int idx = family_struct(b, len);
  if (idx < 0) {
    put(s, "{sa_family=");
    if (len >= 2) put_value(s, set_named("af"), (uint64_t)(b[0] | b[1] << 8), MVR_FMT_DEC, 1);
    put(s, ", ...}");
    return;
  }
  const struct mvr_struct *st = &mvr_structs[idx];
  put(s, "{");
  int first = 1;
  for (unsigned i = 0; i < st->count; i++) {
    const struct mvr_field *f = &mvr_fields[st->first + i];
    if (f->type == MVR_F_PAD) continue;
    uint64_t size = f->type == MVR_F_SUNPATH ? (len > f->offset ? len - f->offset : 0) : field_size(f);
    if (f->offset >= len && f->type != MVR_F_SUNPATH) break;
    if (f->offset + size > len) break;
    put(s, "%s", first ? "" : ", ");
    if (f->type != MVR_F_IN6ADDR) put(s, "%s=", f->name);
    put_field(s, f, b, len, f->offset, size);
    first = 0;
  }
  put(s, "}");
}

/* Control messages: [{cmsg_len=20, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[5]}]. */
static void put_cmsgs(mvr_strbuf *s, const uint8_t *b, uint64_t n) {
  put(s, "[");
  for (uint64_t o = 0; o + 16 <= n;) {
    uint64_t len = rd(b + o, 8, 0);
    int64_t level = sext(rd(b + o + 8, 4, 0), 4), type = sext(rd(b + o + 12, 4, 0), 4);
    uint64_t end = o + (len > 16 ? len : 16);
    if (end > n) end = n;
    const uint8_t *d = b + o + 16;
    uint64_t dn = end - (o + 16);
    put(s, "%s{cmsg_len=%llu, cmsg_level=", o ? ", " : "", (unsigned long long)len);
    put_value(s, set_named("sol"), (uint64_t)level, MVR_FMT_DEC, 1);
    put(s, ", cmsg_type=");
    put_value(s, set_named("scm_type"), (uint64_t)type, MVR_FMT_DEC, 1);
    put(s, ", cmsg_data=");
    if (level == 1 && type == 1) {
      put(s, "[");
      for (uint64_t k = 0; k + 4 <= dn; k += 4) put(s, "%s%d", k ? ", " : "", (int32_t)rd(d + k, 4, 0));
      put(s, "]");
    } else put_bytes(s, d, dn);
    put(s, "}");
    if (len < 16) break;
    o += (len + 7) & ~(uint64_t)7;
  }
  put(s, "]");
}

/* ---- calls ----------------------------------------------------------------------------------- */

/* The parameters of a call for its command (compiler/syscalls/classes.ts, paramsOf). */
static void effective(const struct mvr_syscall_info *si, const int64_t *args, struct mvr_param p[6],
                      struct mvr_ret *ret) {
  for (int j = 0; j < 6; j++) p[j] = si->params[j];
  *ret = si->ret;
  if (!si->cmd) return;
  uint16_t idx[32];
  unsigned n = mvr_si_cmd_entries((uint32_t)(si - mvr_syscall_table), args, idx, 32);
  for (unsigned e = 0; e < n; e++) {
    const struct mvr_cmd_entry *en = &mvr_cmd_entries[idx[e]];
    for (unsigned i = 0; i < en->count; i++) p[mvr_cmd_params[en->first + i].at] = mvr_cmd_params[en->first + i].p;
    if (en->ret.kind) *ret = en->ret;
  }
}

static int is_out(const struct mvr_param *p) { return p->kind == MVR_P_OUT_BYTES || p->kind == MVR_P_OUT_STRUCT; }

static void put_memory(mvr_strbuf *s, const struct mvr_param *ps, unsigned j, const uint8_t *const *buf,
                       const uint64_t *len) {
  const struct mvr_param *p = &ps[j];
  const uint8_t *b = buf[j];
  uint64_t n = len[j];
  switch (p->type) {
    case MVR_T_CSTR: put_span(s, b, cstrlen(b, n), 0, cstrlen(b, n) < SHOW_BYTES ? cstrlen(b, n) : SHOW_BYTES); return;
    case MVR_T_SOCKADDR: put_sockaddr(s, b, n); return;
    case MVR_T_SIGSET: put_sigset(s, b, n); return;
    case MVR_T_CMSG: put_cmsgs(s, b, n); return;
    case MVR_T_MSGHDR: {
      put(s, "{");
      int first = 1;
      for (unsigned k = 0; k < 6; k++) {
        if (ps[k].from != (int8_t)j || ps[k].part != MVR_PART_NAME) continue;
        put(s, "msg_name=");
        if (buf[k] && len[k]) put_sockaddr(s, buf[k], len[k]);
        else put(s, "NULL");
        first = 0;
      }
      put(s, "%smsg_iov=", first ? "" : ", ");
      put_bytes(s, b, n);
      for (unsigned k = 0; k < 6; k++) {
        if (ps[k].from != (int8_t)j || !buf[k] || !len[k]) continue;
        if (ps[k].part == MVR_PART_CONTROL) {
          put(s, ", msg_control=");
          put_cmsgs(s, buf[k], len[k]);
        } else if (ps[k].part == MVR_PART_FLAGS && len[k] >= 4) {
          put(s, ", msg_flags=");
          put_value(s, set_named("msg_flags"), rd(buf[k], 4, 0), MVR_FMT_HEX, 1);
        }
      }
      put(s, "}");
      return;
    }
    case MVR_T_STRUCT:
      if (p->len_param >= 0 && p->fixed_size) {
        uint32_t sz = mvr_structs[p->strct].size;
        put(s, "[");
        for (uint64_t o = 0; sz && o + sz <= n; o += sz) {
          if (o) put(s, ", ");
          put_struct(s, p->strct, b + o, sz);
        }
        put(s, "]");
      } else put_struct(s, p->strct, b, n);
      return;
    default: put_bytes(s, b, n); return;
  }
}

static void put_args(mvr_strbuf *s, uint32_t nr, const int64_t *args, const uint8_t *const *buf, const uint64_t *len,
                     int failed) {
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  put(s, "%s(", mvr_si_name(nr));
  if (!si) {
    for (unsigned i = 0; i < 6; i++) put(s, "%s0x%llx", i ? ", " : "", (unsigned long long)args[i]);
    put(s, ")");
    return;
  }
  struct mvr_param ps[6];
  struct mvr_ret ret;
  effective(si, args, ps, &ret);
  unsigned arity = si->nargs;
  /* Arguments the kernel ignores at the end of the list are not shown (as strace does). */
  while (arity > 0 && (ps[arity - 1].flags & MVR_PF_UNUSED)) arity--;
  for (unsigned i = 0; i < arity && i < 6; i++) {
    const struct mvr_param *p = &ps[i];
    int b32 = (p->flags & MVR_PF_BITS32) != 0;
    uint64_t v = (uint64_t)args[i];
    if (i) put(s, ", ");
    switch (p->kind) {
      case MVR_P_FD:
      case MVR_P_INT: put_value(s, p->values, v, p->fmt, b32); break;
      case MVR_P_FLAGS:
        put_value(s, p->values, v, p->values || p->fmt != MVR_FMT_DEC ? p->fmt : MVR_FMT_HEX, b32);
        break;
      case MVR_P_SIZE: put(s, "%llu", (unsigned long long)v); break;
      case MVR_P_PTR: put(s, v ? "0x%llx" : "NULL", (unsigned long long)v); break;
      case MVR_P_PATH:
        if (buf && buf[i]) put_span(s, buf[i], len[i], 0, len[i]);
        else put(s, v ? "0x%llx" : "NULL", (unsigned long long)v);
        break;
      default:
        if (buf && buf[i] && !(is_out(p) && failed)) put_memory(s, ps, i, buf, len);
        else put(s, v ? "0x%llx" : "NULL", (unsigned long long)v);
        break;
    }
  }
  put(s, ")");
}

static void put_ret(mvr_strbuf *s, uint32_t nr, const int64_t *args, int64_t r) {
  if (r < 0 && r > -4096) {
    const char *name = NULL;
    const char *text = errno_text(-r, &name);
    if (text) put(s, " = -1 %s (%s)", name, text);
    else put(s, " = -1 ERRNO_%lld (Unknown error %lld)", (long long)-r, (long long)-r);
    return;
  }
  const struct mvr_syscall_info *si = mvr_syscall_lookup(nr);
  struct mvr_param ps[6];
  struct mvr_ret ret = {0, 0, 0};
  if (si) effective(si, args, ps, &ret);
  if (ret.kind == MVR_P_PTR) put(s, r ? " = 0x%llx" : " = 0", (unsigned long long)r);
  else if (ret.kind == MVR_P_FLAGS) {
    put(s, " = ");
    put_number(s, (uint64_t)r, ret.fmt == MVR_FMT_OCT ? MVR_FMT_OCT : MVR_FMT_HEX, 0);
    if (ret.values) {
      put(s, " (flags ");
      put_value(s, ret.values, (uint64_t)r, MVR_FMT_HEX, 1);
      put(s, ")");
    }
  } else if (ret.kind == MVR_P_INT && ret.fmt == MVR_FMT_OCT) put(s, r ? " = 0%llo" : " = 0", (unsigned long long)r);
  else put(s, " = %lld", (long long)r);
}

size_t mvr_format_event(char *out, size_t cap, const mvr_event *ev, int has_ret) {
  if (!cap) return 0;
  mvr_strbuf s;
  mvr_sb_fixed(&s, out, cap);
  put_args(&s, ev->nr, ev->args, ev->buf, ev->buf_len, has_ret && ev->ret < 0 && ev->ret > -4096);
  if (!has_ret) put(&s, " = ?");
  else put_ret(&s, ev->nr, ev->args, ev->ret);
  return s.len;
}

size_t mvr_format_call(char *out, size_t cap, const mvr_call *call) {
  if (!cap) return 0;
  mvr_strbuf s;
  mvr_sb_fixed(&s, out, cap);
  put_args(&s, call->nr, call->args, call->buf, call->buf_len, 0);
  return s.len;
}

/* ---- where two calls differ ------------------------------------------------------------------- */

/* Whether byte `off` of a structure is compared, and the string field that holds it, if any:
 * padding, pointers and ignored fields are not (compiler/syscalls/layout.ts, isCompared). */
static int compared_at(unsigned idx, uint64_t off, uint64_t *str_start, uint64_t *str_len, int *sunpath) {
  const struct mvr_struct *st = &mvr_structs[idx];
  for (unsigned i = 0; i < st->count; i++) {
    const struct mvr_field *f = &mvr_fields[st->first + i];
    uint64_t size = field_size(f);
    if (off < f->offset || off >= f->offset + size) continue;
    if (f->type == MVR_F_STRUCT) {
      uint32_t sz = mvr_structs[f->sub].size;
      uint64_t rel = off - f->offset, base = rel - rel % sz;
      int r = compared_at(f->sub, rel - base, str_start, str_len, sunpath);
      *str_start += f->offset + base;
      return r;
    }
    if (f->type == MVR_F_PAD || f->type == MVR_F_PTR || (f->flags & MVR_FF_IGNORE)) return 0;
    if (f->type == MVR_F_CSTR || f->type == MVR_F_SUNPATH) {
      *str_start = f->offset;
      *str_len = size;
      *sunpath = f->type == MVR_F_SUNPATH;
    }
    return 1;
  }
  return 1;
}

/* Byte i of a buffer's meaningful bytes (0 where not compared), for a MVR_T_STRUCT or sockaddr. */
static int canon_byte(int idx, const uint8_t *b, uint64_t n, uint64_t i) {
  if (idx < 0) return b[i];
  uint64_t ss = 0, sl = 0;
  int sun = 0;
  if (!compared_at((unsigned)idx, i, &ss, &sl, &sun)) return 0;
  if (sl) {
    if (sun && ss < n && b[ss] == 0) return b[i];
    for (uint64_t q = ss; q < i; q++)
      if (b[q] == 0) return 0;
  }
  return b[i];
}

/* The meaningful length: up to the last compared field; a trailing string ends at its NUL. */
static uint64_t canon_len(int idx, const uint8_t *b, uint64_t n) {
  if (idx < 0) return n;
  const struct mvr_struct *st = &mvr_structs[idx];
  uint64_t end = 0, tail_start = 0, tail_len = 0;
  int tail_sun = 0;
  for (unsigned i = 0; i < st->count; i++) {
    const struct mvr_field *f = &mvr_fields[st->first + i];
    if (f->type == MVR_F_PAD || f->type == MVR_F_PTR || (f->flags & MVR_FF_IGNORE)) continue;
    end = f->offset + field_size(f);
    tail_len = f->type == MVR_F_CSTR || f->type == MVR_F_SUNPATH ? field_size(f) : 0;
    tail_start = f->offset;
    tail_sun = f->type == MVR_F_SUNPATH;
  }
  uint64_t cut = n < end ? n : end;
  if (tail_len && tail_start < n) {
    if (tail_sun && b[tail_start] == 0) return n;
    uint64_t to = tail_start + tail_len < n ? tail_start + tail_len : n;
    for (uint64_t i = tail_start; i < to; i++)
      if (b[i] == 0) return i < cut ? i : cut;
  }
  return cut;
}

static int layout_of(const struct mvr_param *p, const uint8_t *b, uint64_t n) {
  if (p->type == MVR_T_SOCKADDR) return family_struct(b, n);
  if (p->type == MVR_T_STRUCT && !(p->len_param >= 0 && p->fixed_size)) return p->strct;
  return -1;
}

size_t mvr_format_difference(char *out, size_t cap, const mvr_event *ev, const mvr_call *call) {
  if (!cap) return 0;
  mvr_strbuf s;
  mvr_sb_fixed(&s, out, cap);
  if (ev->nr != call->nr) {
    put(&s, "a different syscall");
    return s.len;
  }
  const struct mvr_syscall_info *si = mvr_syscall_lookup(call->nr);
  struct mvr_param ps[6];
  struct mvr_ret ret;
  if (si) effective(si, ev->args, ps, &ret);
  for (unsigned j = 0; j < 6; j++) {
    if (!si) {
      if (ev->args[j] == call->args[j]) continue;
      put(&s, "argument %u: 0x%llx (follower) vs 0x%llx (leader)", j + 1, (unsigned long long)call->args[j],
          (unsigned long long)ev->args[j]);
      return s.len;
    }
    const struct mvr_param *p = &ps[j];
    if (p->kind == MVR_P_NONE || p->kind == MVR_P_PTR || (p->flags & MVR_PF_UNUSED) || is_out(p)) continue;
    int b32 = (p->flags & MVR_PF_BITS32) != 0;
    unsigned named = j < si->nargs ? j : (unsigned)p->from;
    if (p->kind == MVR_P_FD || p->kind == MVR_P_INT || p->kind == MVR_P_SIZE || p->kind == MVR_P_FLAGS) {
      if ((p->flags & MVR_PF_LAYOUT) || width((uint64_t)ev->args[j], b32) == width((uint64_t)call->args[j], b32))
        continue;
      put(&s, "argument %u: ", j + 1);
      put_value(&s, p->values, (uint64_t)call->args[j], p->fmt, b32);
      put(&s, " (follower) vs ");
      put_value(&s, p->values, (uint64_t)ev->args[j], p->fmt, b32);
      put(&s, " (leader)");
      return s.len;
    }
    const uint8_t *a = ev->buf[j], *b = call->buf[j];
    uint64_t la = a ? ev->buf_len[j] : 0, lb = b ? call->buf_len[j] : 0;
    int ia = a ? layout_of(p, a, la) : -1, ib = b ? layout_of(p, b, lb) : -1;
    uint64_t na = a ? canon_len(ia, a, la) : 0, nb = b ? canon_len(ib, b, lb) : 0;
    if (p->type == MVR_T_CSTR) na = a ? cstrlen(a, la) : 0, nb = b ? cstrlen(b, lb) : 0;
    uint64_t at = 0;
    while (at < na && at < nb && canon_byte(ia, a, la, at) == canon_byte(ib, b, lb, at)) at++;
    if (at == na && at == nb) continue;
    put(&s, "argument %u%s at byte %llu (%llu bytes vs %llu): ", named + 1, j < si->nargs ? "" : " (its msghdr)",
        (unsigned long long)at, (unsigned long long)nb, (unsigned long long)na);
    uint64_t from = at > 16 ? at - 16 : 0;
    if (b) put_span(&s, b, nb, from, at + 16);
    put(&s, " (follower) vs ");
    if (a) put_span(&s, a, na, from, at + 16);
    put(&s, " (leader)");
    return s.len;
  }
  put(&s, "no argument differs in meaning");
  return s.len;
}

size_t mvr_format_rule(char *out, size_t cap, const mvr_rule_info *info, uint32_t count, uint32_t idx) {
  if (!cap) return 0;
  mvr_strbuf s;
  mvr_sb_fixed(&s, out, cap);
  if (idx == MVR_RULE_DEFAULT) {
    put(&s, "default rule (a syscall matches itself)");
  } else if (info && idx < count) {
    const mvr_rule_info *ri = &info[idx];
    put(&s, "%s:%u:%u%s%s: %s", ri->file ? ri->file : "?", ri->line, ri->column, ri->name && *ri->name ? " @" : "",
        ri->name ? ri->name : "", ri->text ? ri->text : "");
  } else {
    put(&s, "rule #%u", idx); /* the module that decided is not at hand */
  }
  return s.len;
}
