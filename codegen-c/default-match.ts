// The default match's per-syscall tables (how each argument is compared, whether a follower-only
// call may be executed, which argument is the fd and which the byte count; per-command changes;
// the programs that give a structure's meaningful bytes). They depend only on the syscall model,
// so scripts/gen-syscalls.ts writes them once into runtime-c/include/mvr_default_match.h and every
// generated rule module includes it. runtime-c/include/mvr_matcher.h reads them exactly as
// compiler/syscalls/meaning.ts decides (the differential test checks that both agree).
import { compareClass, countSource, type CompareClass } from '../compiler/syscalls/classes.ts';
import { canonProgram, type CanonProgram } from '../compiler/syscalls/layout.ts';
import type { ParamInfo, ParamKind, StructInfo, SyscallInfo } from '../compiler/syscalls/types.ts';
import { SPECIAL_TYPES } from '../compiler/syscalls/types.ts';

export function isScalarKind(kind: ParamKind): boolean {
  return kind === 'fd' || kind === 'int' || kind === 'size' || kind === 'flags' || kind === 'ptr';
}

const CLS: Record<CompareClass, number> = { none: 0, scalar: 1, content: 2, out: 3, outret: 4 };

/** Canonicalization programs: 0 plain bytes, 1 a C string (up to its NUL), 2 a sockaddr (by its
 *  family's program), then one per structure (single, or an array of elements). */
class Canons {
  readonly rows: string[] = ['  { MVR_CN_PLAIN, 0, 0, 0, -1, 0 }, /* plain bytes */', '  { MVR_CN_CSTR, 0, 0, 0, -1, 0 }, /* cstr */', '  { MVR_CN_SOCKADDR, 0, 0, 0, -1, 0 }, /* sockaddr */'];
  readonly ops: string[] = [];
  private readonly index = new Map<string, number>();
  constructor(private readonly structOf: (n: string) => StructInfo | undefined) {}

  /** The program of a structure; elem: the element size of an array (0: a single structure). */
  structure(s: StructInfo, elem: number): number {
    const key = `${s.name}/${elem}`;
    const known = this.index.get(key);
    if (known !== undefined) return known;
    const p: CanonProgram = canonProgram(s, this.structOf);
    if (p.ops.length > 32) throw new Error(`struct ${s.name}: more than 32 comparison steps`);
    const id = this.rows.length;
    this.rows.push(`  { MVR_CN_STRUCT, ${this.ops.length}, ${p.ops.length}, ${p.end}, ${p.tail ?? -1}, ${elem} }, /* ${s.name}${elem ? '[]' : ''} */`);
    for (const o of p.ops) this.ops.push(`  { MVR_CO_${o.op.toUpperCase()}, ${o.offset}, ${o.length} },`);
    this.index.set(key, id);
    return id;
  }

  of(p: ParamInfo | undefined): number {
    const t = p?.type;
    if (t === undefined || compareClass(p) !== 'content') return 0;
    if (t === 'cstr') return 1;
    if (t === 'sockaddr') return 2;
    if ((SPECIAL_TYPES as readonly string[]).includes(t)) return 0;
    const s = this.structOf(t);
    if (!s) return 0;
    return this.structure(s, p!.lenParam !== undefined && p!.fixedSize !== undefined ? s.size : 0);
  }
}

function u64(v: bigint): string {
  return `0x${BigInt.asUintN(64, v).toString(16)}ull`;
}

export function renderDefaultMatchHeader(syscalls: readonly SyscallInfo[], structs: readonly StructInfo[], families: readonly (readonly [bigint, string])[]): string {
  const structByName = new Map(structs.map((s) => [s.name, s]));
  const structOf = (n: string): StructInfo | undefined => structByName.get(n);
  const canons = new Canons(structOf);
  const byNr = new Map(syscalls.map((s) => [s.nr, s]));
  const count = syscalls.reduce((m, s) => Math.max(m, s.nr), 0) + 1;
  const entries: string[] = [];
  const overrides: string[] = [];
  const rows: string[] = [];
  const param = (p: ParamInfo | undefined): { cls: number; canon: number; bits32: boolean } => ({ cls: CLS[compareClass(p)], canon: canons.of(p), bits32: p?.bits === 32 });

  for (let nr = 0; nr < count; nr++) {
    const sc = byNr.get(nr);
    if (!sc) {
      rows.push('  { 0, 0, MVR_NONE, MVR_NONE, { 0, 0, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0 }, 0, MVR_NONE, 0, 0 },');
      continue;
    }
    const all = [...sc.params, ...(sc.extra ?? [])];
    const cls: number[] = [];
    const canon: number[] = [];
    let bits = 0;
    for (let j = 0; j < 6; j++) {
      const q = param(all[j]);
      cls.push(q.cls);
      canon.push(q.canon);
      if (q.bits32) bits |= 1 << j;
    }
    const src = countSource(sc);
    const countArg = src?.arg !== undefined ? String(src.arg) : 'MVR_NONE';
    const countBuf = src?.buf !== undefined ? String(src.buf) : 'MVR_NONE';
    const exec = sc.effect === 'local' || sc.effect === 'readonly' ? 1 : 0;
    const fd = sc.fdParam !== undefined ? String(sc.fdParam) : 'MVR_NONE';
    const first = entries.length;
    const c = sc.commands;
    if (c) {
      for (const e of c.entries) {
        const conds = c.selectors.map((s, k) => {
          const sp = sc.params[s]!;
          const m = e.match[k]!;
          const width = sp.bits === 32 ? 0xffffffffn : (1n << 64n) - 1n;
          const mask = (k === 0 && c.mask !== undefined ? c.mask : (1n << 64n) - 1n) & width;
          if ('any' in m) return `{ MVR_CM_ANY, ${s}, ${u64(mask)}, 0 }`;
          if ('eq' in m) return `{ MVR_CM_EQ, ${s}, ${u64(mask)}, ${u64(m.eq & width)} }`;
          return `{ MVR_CM_ALL, ${s}, ${u64(mask)}, ${u64(m.all & width)} }`;
        });
        while (conds.length < 2) conds.push('{ MVR_CM_ANY, 0, 0, 0 }');
        entries.push(`  { { ${conds.join(', ')} }, ${overrides.length}, ${e.params.length} }, /* ${sc.name} ${e.label} */`);
        for (const { at, param: p } of e.params) {
          const q = param(p);
          overrides.push(`  { ${at}, ${q.cls}, ${q.bits32 ? 1 : 0}, ${q.canon} }, /* ${sc.name} ${e.label} ${p.name} */`);
        }
      }
    }
    rows.push(
      `  { 1, ${exec}, ${fd}, ${countArg}, { ${cls.join(', ')} }, { ${canon.join(', ')} }, 0x${bits.toString(16)}, ${countBuf}, ${c ? first : 0}, ${c ? entries.length - first : 0} }, /* ${sc.nr} ${sc.name} */`,
    );
  }
  const famRows = families.map(([f, name]) => `  { ${f}, ${canons.structure(structOf(name)!, 0)} }, /* ${name} */`);
  return [
    '/* mvr_default_match.h — generated by scripts/gen-syscalls.ts from compiler/syscalls/x86_64.tsv; do not edit.',
    ' * How the default match compares each argument of each syscall (docs/semantics.md). Included by',
    ' * every generated rule module, after mvr_module.h (which defines MVR_NONE); mvr_matcher.h reads',
    ' * it as compiler/syscalls/meaning.ts decides. */',
    '#ifndef MVR_DEFAULT_MATCH_H',
    '#define MVR_DEFAULT_MATCH_H',
    '',
    '#include <stdint.h>',
    '',
    `#define MVR_SC_COUNT ${count}u /* syscall numbers covered */`,
    '',
    '/* known: described; exec: a follower-only call may be executed (local or read-only effect);',
    ' * fd_arg: the fd argument; count_arg / count_buf: where EMULATE\'s count comes from, an argument',
    ' * or a buffer\'s length (gathered data: the bytes gathered, or the capacity offered), MVR_NONE if none;',
    ' * cls: per argument (derived ones past the arity), MVR_C_NONE (not compared) / SCALAR / CONTENT /',
    ' * OUT / OUTRET; canon: the program giving a CONTENT argument\'s meaningful bytes (mvr_canons);',
    ' * bits32: arguments the kernel reads as 32-bit ints (bit j: argument j, compared by its low half);',
    ' * cmd_first/cmd_count: per-command changes (mvr_dm_entries). */',
    'struct mvr_sc { uint8_t known, exec, fd_arg, count_arg; uint8_t cls[6]; uint16_t canon[6]; uint8_t bits32, count_buf; uint16_t cmd_first, cmd_count; };',
    '',
    '/* Per-command changes: every entry whose conditions hold applies in order, each override',
    ' * replacing how one argument is compared. A condition tests argument `sel` (its low 32 bits when',
    ' * it is an int) under `mask`: MVR_CM_ANY, MVR_CM_EQ (== value), MVR_CM_ALL (every bit of value). */',
    'enum { MVR_CM_ANY, MVR_CM_EQ, MVR_CM_ALL };',
    'struct mvr_dm_cond { uint8_t kind, sel; uint64_t mask, value; };',
    'struct mvr_dm_entry { struct mvr_dm_cond cond[2]; uint16_t first, count; };',
    'struct mvr_dm_override { uint8_t arg, cls, bits32; uint16_t canon; };',
    '',
    '/* Meaningful bytes (compiler/syscalls/layout.ts): MVR_CN_STRUCT runs `count` steps from `first`',
    ' * (MVR_CO_ZERO: never compared; MVR_CO_CSTR: nothing after its NUL; MVR_CO_SUNPATH: the same,',
    ' * unless it starts with NUL, an abstract name), keeps the bytes before `end` (step `tail`, a',
    ' * string, ends them at its NUL); elem > 0: an array of elem-byte elements, each kept whole. */',
    'enum { MVR_CN_PLAIN, MVR_CN_CSTR, MVR_CN_SOCKADDR, MVR_CN_STRUCT };',
    'enum { MVR_CO_ZERO, MVR_CO_CSTR, MVR_CO_SUNPATH };',
    'struct mvr_canon { uint8_t kind; uint16_t first, count, end; int8_t tail; uint16_t elem; };',
    'struct mvr_canon_op { uint8_t op; uint16_t offset, length; };',
    'struct mvr_canon_family { uint16_t family, canon; };',
    '',
    'static const struct mvr_sc mvr_sc[MVR_SC_COUNT] = {',
    ...rows,
    '};',
    '',
    `static const struct mvr_dm_entry mvr_dm_entries[${Math.max(entries.length, 1)}] = {`,
    ...(entries.length ? entries : ['  { { { 0, 0, 0, 0 }, { 0, 0, 0, 0 } }, 0, 0 },']),
    '};',
    `static const struct mvr_dm_override mvr_dm_overrides[${Math.max(overrides.length, 1)}] = {`,
    ...(overrides.length ? overrides : ['  { 0, 0, 0, 0 },']),
    '};',
    `static const struct mvr_canon mvr_canons[${canons.rows.length}] = {`,
    ...canons.rows,
    '};',
    `static const struct mvr_canon_op mvr_canon_ops[${Math.max(canons.ops.length, 1)}] = {`,
    ...(canons.ops.length ? canons.ops : ['  { 0, 0, 0 },']),
    '};',
    `#define MVR_CANON_FAMILIES ${famRows.length}u`,
    `static const struct mvr_canon_family mvr_canon_families[${Math.max(famRows.length, 1)}] = {`,
    ...(famRows.length ? famRows : ['  { 0, 0 },']),
    '};',
    '',
    '#endif /* MVR_DEFAULT_MATCH_H */',
    '',
  ].join('\n');
}
