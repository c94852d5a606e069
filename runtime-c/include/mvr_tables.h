/* mvr_tables.h — the tables of a generated rule module, decoded from its rows.
 * Not a standalone header: each rules.c that mvrc generates includes it once, after mvr_tab,
 * mvr_tab_rows, mvr_bytes, mvr_guard_fns, mvr_cb_fns and the MVR_N* array sizes (codegen-c/emit.ts
 * writes them), and before mvr_matcher.h, which reads the structures filled here.
 *
 * Why rows in a string: a rule without C or typed blocks is pure data, and a C compiler reads a
 * string literal as one token where an initializer costs a token per number; with 100,000 rules
 * that is the difference between about a second and minutes. The rows are decoded once, when the
 * module is loaded (a constructor; mvr_tables_init() is also called by every entry point, for
 * compilers without constructors), into static structures: the module still never allocates.
 *
 * mvr_tab is decimal numbers separated by one space, section after section, with the number of
 * rows of each in mvr_tab_rows (an array, not macros: a loop to a constant 0 would warn):
 *   argument groups: a bit mask of the arguments that test or save something,
 *     then for each: op cls item arg save slot blen ival bytes-offset (other arguments: no-ops);
 *   alternatives: nr argument-group;
 *   left items: first-alternative nalts referenced guard-number;
 *   right items: kind star item typed-callback nalts first-alternative
 *     (replay argument group + 1, or 0) guard-number callback-number;
 *   rules: rhs ffn_any nleft nright first-left-item first-right-item
 *     (reason offset + 1, or 0) ffn_off ffn_len;
 *   rule-id lists (numbers); literal buckets: value off len.
 * Guard and callback numbers index mvr_guard_fns / mvr_cb_fns (0: none); offsets index mvr_bytes. */

static struct mvr_arg mvr_args[MVR_NARGS * MVR_MAX_ARGS];
static struct mvr_alt mvr_alts[MVR_NALTS];
static struct mvr_litem mvr_litems[MVR_NLITEMS];
static struct mvr_ritem mvr_ritems[MVR_NRITEMS];
static struct mvr_rule mvr_rule_table[MVR_NRULES];
static uint32_t mvr_u32[MVR_NU32];
static struct mvr_bucket mvr_buckets[MVR_NBUCKETS];
static int mvr_tables_ready;

static int64_t mvr_num(const char **p) {
  const char *s = *p;
  int neg = 0;
  uint64_t v = 0;
  if (*s == '-') {
    neg = 1;
    s++;
  }
  while (*s >= '0' && *s <= '9') v = v * 10u + (uint64_t)(*s++ - '0');
  if (*s == ' ') s++;
  *p = s;
  return neg ? (int64_t)(0u - v) : (int64_t)v;
}

static const uint8_t *mvr_bytes_at(int64_t off) { return (const uint8_t *)mvr_bytes + off; }

static void mvr_tables_init(void) {
  if (mvr_tables_ready) return;
  const char *p = mvr_tab;
  for (uint32_t g = 0; g < mvr_tab_rows[0]; g++) {
    struct mvr_arg *a = &mvr_args[g * MVR_MAX_ARGS];
    uint32_t mask = (uint32_t)mvr_num(&p);
    for (int j = 0; j < MVR_MAX_ARGS; j++) {
      struct mvr_arg x = {0, 0, 0, 0, -1, 0, 0, 0, NULL};
      if (mask & (1u << j)) {
        x.op = (uint8_t)mvr_num(&p);
        x.cls = (uint8_t)mvr_num(&p);
        x.item = (uint8_t)mvr_num(&p);
        x.arg = (uint8_t)mvr_num(&p);
        x.save = (int16_t)mvr_num(&p);
        x.slot = (uint16_t)mvr_num(&p);
        x.blen = (uint32_t)mvr_num(&p);
        x.ival = mvr_num(&p);
        int64_t off = mvr_num(&p);
        if (x.op == MVR_OP_BYTES) x.bytes = mvr_bytes_at(off);
      }
      a[j] = x;
    }
  }
  for (uint32_t i = 0; i < mvr_tab_rows[1]; i++) {
    mvr_alts[i].nr = (uint32_t)mvr_num(&p);
    mvr_alts[i].args = &mvr_args[(size_t)mvr_num(&p) * MVR_MAX_ARGS];
  }
  for (uint32_t i = 0; i < mvr_tab_rows[2]; i++) {
    struct mvr_litem *it = &mvr_litems[i];
    int64_t at = mvr_num(&p);
    it->nalts = (uint32_t)mvr_num(&p);
    it->alts = it->nalts ? &mvr_alts[at] : NULL;
    it->referenced = (uint8_t)mvr_num(&p);
    it->guard = mvr_guard_fns[mvr_num(&p)];
  }
  for (uint32_t i = 0; i < mvr_tab_rows[3]; i++) {
    struct mvr_ritem *it = &mvr_ritems[i];
    it->kind = (uint8_t)mvr_num(&p);
    it->star = (uint8_t)mvr_num(&p);
    it->item = (uint8_t)mvr_num(&p);
    it->typed_cb = (uint8_t)mvr_num(&p);
    it->nalts = (uint32_t)mvr_num(&p);
    int64_t at = mvr_num(&p);
    it->alts = it->nalts ? &mvr_alts[at] : NULL;
    int64_t rargs = mvr_num(&p);
    it->rargs = rargs ? &mvr_args[(size_t)(rargs - 1) * MVR_MAX_ARGS] : NULL;
    it->guard = mvr_guard_fns[mvr_num(&p)];
    it->cb = mvr_cb_fns[mvr_num(&p)];
  }
  for (uint32_t i = 0; i < mvr_tab_rows[4]; i++) {
    struct mvr_rule *r = &mvr_rule_table[i];
    r->rhs = (uint8_t)mvr_num(&p);
    r->ffn_any = (uint8_t)mvr_num(&p);
    r->nleft = (uint32_t)mvr_num(&p);
    r->nright = (uint32_t)mvr_num(&p);
    int64_t lat = mvr_num(&p);
    int64_t rat = mvr_num(&p);
    r->left = r->nleft ? &mvr_litems[lat] : NULL;
    r->right = r->nright ? &mvr_ritems[rat] : NULL;
    int64_t reason = mvr_num(&p);
    r->reason = reason ? (const char *)mvr_bytes_at(reason - 1) : NULL;
    r->ffn_off = (uint32_t)mvr_num(&p);
    r->ffn_len = (uint32_t)mvr_num(&p);
  }
  for (uint32_t i = 0; i < mvr_tab_rows[5]; i++) mvr_u32[i] = (uint32_t)mvr_num(&p);
  for (uint32_t i = 0; i < mvr_tab_rows[6]; i++) {
    mvr_buckets[i].value = mvr_num(&p);
    mvr_buckets[i].off = (uint32_t)mvr_num(&p);
    mvr_buckets[i].len = (uint32_t)mvr_num(&p);
  }
  mvr_tables_ready = 1;
}

#if defined(__GNUC__)
__attribute__((constructor)) static void mvr_tables_load(void) { mvr_tables_init(); }
#endif
