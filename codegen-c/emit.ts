// C emission of a rule module (runtime-c/include/mvr_rules.h is the contract it implements).
// rules.c holds: the user's #includes, one function per guard and callback (rule variables as
// typed C locals, LANGUAGE.md §5, with `#line` directives so that C compiler errors point into
// the .mvr file), the rule and dispatch tables built from the automaton, and the matcher itself —
// a fixed piece of C (ENGINE below) that mirrors compiler/semantics/interpreter.ts step for step.
// The output depends only on the input: the same program gives byte-identical files.
import type { Automaton } from '../compiler/lower/automaton.ts';
import { lowerRule, type IrArg, type IrCallback, type IrGuard, type IrRule, type VarRef } from '../compiler/lower/ir.ts';
import type { Program } from '../compiler/check/program-types.ts';
import { ruleHasCBlock } from '../compiler/check/program.ts';
import type { CBlock } from '../compiler/syntax/ast.ts';
import { LineMap } from '../compiler/core/span.ts';
import type { ParamKind } from '../compiler/syscalls/types.ts';
import { allSyscalls } from '../compiler/syscalls/lookup.ts';
import { isScalarKind } from './default-match.ts';
import { cStringLiteral, lowerTypedBlockToC, lowerTypedExprToC } from '../compiler/typed/index.ts';

export interface EmitOptions {
  moduleName?: string;
}

export interface ManifestRule {
  id: number;
  file: string;
  line: number;
  column: number;
  name: string;
  kind: string;
  text: string;
}

export interface Manifest {
  module: string;
  abi: number;
  sources: string[];
  files: string[];
  /** Directories (as named to the compiler) holding .mvr files with #include items: passed as -I. */
  includeDirs: string[];
  /** Extra headers the module includes from runtime-c/include. */
  runtimeHeaders: string[];
  rules: ManifestRule[];
}

export interface EmitResult {
  files: Map<string, string>;
  manifest: Manifest;
}

/** Bytes a callback may write into each output (mirrors interpreter.ts CALLBACK_OUT_MAX). */
const SCRATCH = 65536;

const enc = new TextEncoder();
const cstr = (s: string): string => cStringLiteral(enc.encode(s));


const CLS = { ptr: 0, scalar: 1, content: 2, out: 3 } as const;
const OPS = { any: 0, int: 1, bytes: 2, bind: 3, eqLeft: 4, eqSlot: 5 } as const;

function cType(kind: ParamKind): string {
  return kind === 'size' ? 'size_t' : kind === 'ptr' ? 'unsigned long' : 'long';
}
function isOutKind(kind: ParamKind): boolean {
  return kind === 'out_bytes' || kind === 'out_struct';
}
/** `$(name)` -> ` (name)`: the same length, so gcc's columns still match the .mvr file. */
function rewriteDollar(code: string): string {
  return code.replace(/\$\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)/g, (all: string, name: string) => {
    const r = ' (' + name + ')';
    return r + ' '.repeat(all.length - r.length);
  });
}
function lineDirectiveFile(f: string): string {
  return '"' + f.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

function concatBytes(parts: Uint8Array[], len: number): Uint8Array {
  const out = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `DECL = "..." "...";` from text pieces (already escaped), in lines of ~100 characters: one
 *  string a C compiler reads as a single token, however long. */
function stringInitializer(decl: string, pieces: Iterable<string>): string[] {
  const lines = [`${decl} =`];
  let line = '';
  for (const piece of pieces) {
    line += piece;
    if (line.length >= 100) {
      lines.push(`  "${line}"`);
      line = '';
    }
  }
  if (line || lines.length === 1) lines.push(`  "${line}"`);
  lines[lines.length - 1] += ';';
  return lines;
}

/** `DECL = "..." "...";` with the bytes escaped (octal, three digits; `?` too, against trigraphs). */
function cBytesString(decl: string, bytes: Uint8Array): string[] {
  const escaped = Array.from(bytes, (c) => (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c && c !== 0x3f ? String.fromCharCode(c) : '\\' + c.toString(8).padStart(3, '0')));
  return stringInitializer(decl, escaped);
}

/** `DECL = "1 0 -5 ...";`: the rows' numbers separated by spaces, cut into lines of ~100 characters. */
function numberString(decl: string, rows: readonly (readonly (number | string)[])[]): string[] {
  // One join, then cuts at spaces: per-number string concatenation is far slower at 10^6 numbers.
  const all = rows.map((r) => r.join(' ')).join(' ');
  const lines = [`${decl} =`];
  let at = 0;
  while (at < all.length) {
    let cut = all.indexOf(' ', at + 100);
    cut = cut < 0 ? all.length : cut + 1;
    lines.push(`  "${all.slice(at, cut)}${cut === all.length && all.length ? ' ' : ''}"`);
    at = cut;
  }
  if (lines.length === 1) lines.push('  ""');
  lines[lines.length - 1] += ';';
  return lines;
}

class Out {
  readonly lines: string[] = [];
  push(...ls: string[]): void {
    this.pushAll(ls);
  }
  /** Like push, for arrays too large to spread into a call. */
  pushAll(ls: readonly string[]): void {
    for (const l of ls) for (const part of l.split('\n')) this.lines.push(part);
  }
  /** A marker replaced by `#line N "rules.c"` once line numbers are final. */
  resetLine(): void {
    this.lines.push('\u0000RESET');
  }
  text(): string {
    return this.lines.map((l, i) => (l === '\u0000RESET' ? `#line ${i + 2} "rules.c"` : l)).join('\n') + '\n';
  }
}

export function emitC(program: Program, automaton: Automaton, opts: EmitOptions = {}): EmitResult {
  const moduleName = opts.moduleName ?? 'rules';
  const rules = automaton.rules;
  const lineMaps = new Map<string, LineMap>();
  const lineMap = (f: string): LineMap => {
    let m = lineMaps.get(f);
    if (!m) {
      m = new LineMap(program.sources.get(f) ?? '');
      lineMaps.set(f, m);
    }
    return m;
  };
  const hasTyped = rules.some(
    (r) => r.left.some((l) => l.guard?.kind === 'typed') || r.right.some((it) => it.guard?.kind === 'typed' || it.callback?.kind === 'typed'),
  );
  const hasCallback = rules.some((r) => r.right.some((it) => it.callback));
  const nslots = rules.reduce((m, r) => Math.max(m, r.slots), 1);
  let maxNr = allSyscalls().reduce((m, s) => Math.max(m, s.nr), 0);
  for (const r of rules) for (const it of [...r.left, ...r.right]) if ('alts' in it) for (const a of it.alts) maxNr = Math.max(maxNr, a.nr);
  const NSC = maxNr + 1;

  const o = new Out();
  o.push(
    `/* ${moduleName}: a rule module generated by mvrc from ${program.files.map((f) => f.path).join(', ') || '(no files)'}.`,
    ' * Do not edit: regenerate with `mvrc compile`. Contract: mvr_rules.h; semantics: docs/semantics.md. */',
    '#include <stddef.h>',
    '#include <stdint.h>',
    '#include <string.h>',
    '#include "mvr_rules.h"',
    '#include "rules.h"',
  );
  if (hasTyped) o.push('#include "mvr_typed.h"');
  else o.push('struct mvr_arena; /* typed blocks are not used by this module */');
  // Each #include keeps its .mvr line, so that a missing header is reported at the #include item.
  for (const { file, include } of program.includes) {
    o.push(`#line ${lineMap(file).position(include.span.offset).line} ${lineDirectiveFile(file)}`);
    o.push(include.angled ? `#include <${include.target}>` : `#include "${include.target}"`);
    o.resetLine();
  }
  o.push(
    '',
    `#define MVR_NSC ${NSC}u /* syscall numbers covered by the tables */`,
    `#define MVR_NSLOTS ${nslots}`,
    `#define MVR_SCRATCH ${SCRATCH}`,
    `#define MVR_BEGIN ${Math.max(0, automaton.begin)}u`,
    `#define MVR_BEGIN_START ${automaton.begin >= 0 && !rules[automaton.begin]!.right.every((it) => it.star) ? 0 : -1}`,
    '#include "mvr_module.h" /* declarations every generated module shares */',
    '',
    '/* Matcher state: the part copied per step (core) and per-step scratch space. */',
    'struct mvr_core { uint64_t next, given, stored; int32_t active, pos, begin, pad; int64_t slots[MVR_NSLOTS]; };',
    'struct mvr_state {',
    '  struct mvr_core c;',
  );
  if (hasCallback) o.push('  uint8_t scratch[MVR_MAX_ARGS][MVR_SCRATCH]; /* outputs written by callbacks */');
  if (hasTyped) o.push('  struct mvr_arena arena; /* byte strings built by typed blocks */');
  o.push('};');
  o.push(hasTyped ? '#define MVR_ARENA(st) (&(st)->arena)' : '#define MVR_ARENA(st) ((void)(st), (struct mvr_arena *)0)');
  o.push(hasTyped ? '#define MVR_ARENA_OVERFLOW(st) ((st)->arena.overflow)' : '#define MVR_ARENA_OVERFLOW(st) ((void)(st), 0)');
  o.push(hasCallback ? '#define MVR_SCRATCH_OF(st) ((st)->scratch)' : '#define MVR_SCRATCH_OF(st) ((void)(st), (uint8_t (*)[MVR_SCRATCH])0)');
  o.push('');

  // ---- guards and callbacks ----
  const fnNames = new Map<string, string>();
  for (const r of rules) {
    r.left.forEach((it, i) => {
      if (it.guard) fnNames.set(`${r.id}:l${i}`, emitGuard(o, r, it.guard, r.leftScopes[i]!, `mvr_guard_${r.id}_l${i}`, lineMap));
    });
    r.right.forEach((it, p) => {
      if (it.guard) fnNames.set(`${r.id}:g${p}`, emitGuard(o, r, it.guard, it.scope, `mvr_guard_${r.id}_r${p}`, lineMap));
      if (it.callback) fnNames.set(`${r.id}:c${p}`, emitCallback(o, r, it.callback, it.scope, `mvr_cb_${r.id}_r${p}`, lineMap));
    });
  }

  // ---- syscall table: the same for every module, generated once from the syscall data ----
  o.push('#include "mvr_default_match.h"', '_Static_assert(MVR_NSC <= MVR_SC_COUNT, "mvr_default_match.h is older than the syscall table");', '');

  // ---- the tables, as data the module decodes when it is loaded ----
  // Rules are rows of tables (patterns, items, rules, dispatch lists) that the one matcher of
  // mvr_matcher.h interprets; only guards and callbacks are functions. The rows are written as
  // one string of decimal numbers (mvr_tab) and the literal bytes as one string (mvr_bytes):
  // a C compiler reads a string as one token, where an initializer of the same rows costs it
  // a token per number (100,000 rules: minutes of parsing instead of a second). mvr_tables.h
  // decodes the rows into the structures of mvr_module.h before the first step.
  const bytesParts: Uint8Array[] = [];
  let bytesLen = 0;
  const lits = new Map<string, number>();
  const litOff = (v: Uint8Array, nul = false): number => {
    const key = (nul ? 'z' : 'b') + Buffer.from(v.buffer, v.byteOffset, v.length).toString('latin1');
    let off = lits.get(key);
    if (off === undefined) {
      off = bytesLen;
      lits.set(key, off);
      bytesParts.push(v);
      bytesLen += v.length;
      if (nul) {
        bytesParts.push(new Uint8Array([0]));
        bytesLen += 1;
      }
    }
    return off;
  };
  // Guards and callbacks by number (0: none).
  const guardFns: string[] = ['NULL'];
  const cbFns: string[] = ['NULL'];
  const fnIndex = (list: string[], key: string): number => {
    const name = fnNames.size ? fnNames.get(key) : undefined; // most rules have no blocks
    if (!name) return 0;
    list.push(name);
    return list.length - 1;
  };
  // Argument patterns: groups of six (one per syscall argument); a group is a bit mask of the
  // arguments that test or save something, then 8 numbers for each of them.
  const argGroups: (number | string)[][] = [];
  const argRef = (args: IrArg[]): number => {
    const row: (number | string)[] = [0];
    let mask = 0;
    for (let j = 0; j < 6; j++) {
      const a = args[j];
      if (!a) continue;
      const op = a.op;
      const save = a.saveSlot ?? -1;
      // `_`, and a first occurrence that saves nothing, are no-ops for the matcher.
      if (op.op === 'any' || (op.op === 'bind' && save < 0)) continue;
      mask |= 1 << j;
      let item = 0;
      let arg = 0;
      let slot = 0;
      let blen = 0;
      let ival: number | string = 0;
      let boff = 0;
      if (op.op === 'int') ival = String(BigInt.asIntN(64, op.value));
      else if (op.op === 'bytes') {
        boff = litOff(op.value);
        blen = op.value.length;
      } else if (op.op === 'eqLeft') {
        item = op.item;
        arg = op.arg;
      } else if (op.op === 'eqSlot') slot = op.slot;
      row.push(OPS[op.op], CLS[a.cls], item, arg, save, slot, blen, ival, boff);
    }
    row[0] = mask;
    argGroups.push(row);
    return argGroups.length - 1;
  };
  const altRows: number[][] = [];
  const altsRef = (alts: { nr: number; args: IrArg[] }[]): number => {
    const at = altRows.length;
    for (const a of alts) altRows.push([a.nr, argRef(a.args)]);
    return at;
  };
  const litemRows: number[][] = [];
  const ritemRows: number[][] = [];
  const ruleRows: number[][] = [];
  const u32: number[] = [0];
  const list = (ids: readonly number[]): { off: number; len: number } => {
    const off = u32.length;
    for (const id of ids) u32.push(id);
    return { off, len: ids.length };
  };
  for (const r of rules) {
    const lat = litemRows.length;
    r.left.forEach((it, i) => {
      litemRows.push([altsRef(it.alts), it.alts.length, it.referenced ? 1 : 0, fnIndex(guardFns, `${r.id}:l${i}`)]);
    });
    const rat = ritemRows.length;
    r.right.forEach((it, p) => {
      const kind = it.kind === 'call' ? 0 : it.kind === 'label' ? 1 : 2;
      const alts = it.kind === 'call' ? altsRef(it.alts) : 0;
      const nalts = it.kind === 'call' ? it.alts.length : 0;
      const rargs = it.kind === 'replay' ? argRef(it.args) + 1 : 0;
      const item = it.kind === 'call' ? 0 : it.item;
      ritemRows.push([
        kind,
        it.star ? 1 : 0,
        item,
        it.callback?.kind === 'typed' ? 1 : 0,
        nalts,
        alts,
        rargs,
        fnIndex(guardFns, `${r.id}:g${p}`),
        fnIndex(cbFns, `${r.id}:c${p}`),
      ]);
    });
    const ffn = r.firstFollowerNrs === 'any' ? { off: 0, len: 0 } : list([...r.firstFollowerNrs].sort((a, b) => a - b));
    const rhs = r.rhs === 'seq' ? 0 : r.rhs === 'nothing' ? 1 : 2;
    const reason = r.rhs === 'diverge' ? litOff(enc.encode(r.reason || 'expected divergence'), true) + 1 : 0;
    ruleRows.push([rhs, r.firstFollowerNrs === 'any' ? 1 : 0, r.left.length, r.right.length, lat, rat, reason, ffn.off, ffn.len]);
  }
  // dispatch
  const dispRows: string[] = [];
  const bucketRows: (number | string)[][] = [];
  for (let nr = 0; nr < NSC; nr++) {
    const ids = automaton.leader.get(nr) ?? [];
    const idx = automaton.literal.get(nr);
    if (!idx) {
      const l = ids.length ? list(ids) : { off: 0, len: 0 };
      dispRows.push(`  { -1, ${l.off}u, ${l.len}u, 0u, 0u },`);
    } else {
      const rest = list(idx.rest);
      const boff = bucketRows.length;
      for (const b of idx.buckets) {
        const l = list(b.rules);
        bucketRows.push([String(BigInt.asIntN(64, b.value)), l.off, l.len]);
      }
      dispRows.push(`  { ${idx.arg}, ${rest.off}u, ${rest.len}u, ${boff}u, ${idx.buckets.length}u },`);
    }
  }
  const anyL = list(automaton.nothingAny);
  const nothRows: string[] = [];
  for (let nr = 0; nr < NSC; nr++) {
    const ids = automaton.nothing.get(nr);
    const l = ids ? list(ids) : anyL;
    nothRows.push(`  { ${l.off}u, ${l.len}u },`);
  }

  // The number stream, section by section in the order mvr_tables.h reads it.
  const nargs = argGroups.length;
  const tab: (readonly (number | string)[])[] = [...argGroups, ...altRows, ...litemRows, ...ritemRows, ...ruleRows, u32, ...bucketRows];
  o.push(
    `#define MVR_NARGS ${Math.max(1, nargs)} /* argument pattern groups (six arguments each) */`,
    `#define MVR_NALTS ${Math.max(1, altRows.length)}`,
    `#define MVR_NLITEMS ${Math.max(1, litemRows.length)}`,
    `#define MVR_NRITEMS ${Math.max(1, ritemRows.length)}`,
    `#define MVR_NRULES ${Math.max(1, rules.length)}`,
    `#define MVR_NU32 ${u32.length}`,
    `#define MVR_NBUCKETS ${Math.max(1, bucketRows.length)}`,
  );
  o.push(
    '/* Rows of each section of mvr_tab: argument groups, alternatives, left items, right items, rules, rule-id list entries, buckets. */',
    `static const uint32_t mvr_tab_rows[7] = { ${[nargs, altRows.length, litemRows.length, ritemRows.length, rules.length, u32.length, bucketRows.length].map((n) => `${n}u`).join(', ')} };`,
  );
  o.push(`static const mvr_guard_fn mvr_guard_fns[] = { ${guardFns.join(', ')} };`);
  o.push(`static const mvr_cb_fn mvr_cb_fns[] = { ${cbFns.join(', ')} };`);
  o.push('/* Literal bytes (patterns, rewrites, diverge reasons), by offset. */');
  o.pushAll(cBytesString('static const char mvr_bytes[]', concatBytes(bytesParts, bytesLen)));
  o.push('/* The rows: argument groups, alternatives, left items, right items, rules, rule-id lists, buckets. */');
  o.pushAll(numberString('static const char mvr_tab[]', tab));
  o.push('#include "mvr_tables.h"');
  o.push('/* Leader dispatch by the next leader event\'s syscall number; arg >= 0: second level by that argument. */');
  o.pushAll(['static const struct mvr_disp mvr_lead[MVR_NSC] = {', ...dispRows, '};']);
  o.push('/* `nothing => ...` rules by the follower call\'s syscall number. */');
  o.pushAll(['static const struct mvr_list mvr_noth[MVR_NSC] = {', ...nothRows, '};']);
  o.push(`static const struct mvr_list mvr_noth_any = { ${anyL.off}u, ${anyL.len}u };`, '');

  // ---- rule info ----
  o.push('const uint32_t mvr_rules_abi = MVR_RULES_ABI;', `const uint32_t mvr_rules_count = ${rules.length}u;`);
  o.push('const mvr_rule_info mvr_rules_info[] = {');
  if (!rules.length) o.push('  { "", 0u, 0u, "", "" },');
  for (const r of rules) o.push(`  { ${cstr(r.file)}, ${r.line}u, ${r.column}u, ${cstr(r.name)}, ${cstr(r.text)} },`);
  o.push('};', '');
  // The matcher is the same for every module: runtime-c/include/mvr_matcher.h.
  o.push('#include "mvr_matcher.h"');

  const header = [
    `/* ${moduleName}: generated by mvrc. The module implements mvr_rules.h. */`,
    '#ifndef MVR_GENERATED_RULES_H',
    '#define MVR_GENERATED_RULES_H',
    '#include "mvr_rules.h"',
    `#define MVR_MODULE_NAME ${cstr(moduleName)}`,
    `#define MVR_MODULE_RULES ${rules.length}u`,
    '#endif',
    '',
  ].join('\n');

  const sources = program.files.map((f) => f.path);
  const includeDirs = [...new Set(program.includes.map((i) => dirnameOf(i.file)))];
  const manifest: Manifest = {
    module: moduleName,
    abi: 1,
    sources,
    files: ['rules.c', 'rules.h', 'mvr_rules.h', 'mvr_module.h', 'mvr_tables.h', 'mvr_matcher.h', 'mvr_default_match.h', ...(hasTyped ? ['mvr_typed.h'] : [])],
    includeDirs,
    runtimeHeaders: ['mvr_module.h', 'mvr_tables.h', 'mvr_matcher.h', 'mvr_default_match.h', ...(hasTyped ? ['mvr_typed.h'] : [])],
    rules: rules.map((r) => ({ id: r.id, file: r.file, line: r.line, column: r.column, name: r.name, kind: ruleKind(r), text: r.text })),
  };
  return { files: new Map([['rules.c', o.text()], ['rules.h', header]]), manifest };
}

const hasCBlock = ruleHasCBlock;

/**
 * What `mvrc check` gives the C compiler (`-fsyntax-only`): the file's #include items and one
 * function per C guard and callback, exactly as `emitC` writes them (same locals, same `#line`
 * mapping, so errors land on the same .mvr line and column as at build), without the tables and
 * the matcher. Undefined when the program has neither C blocks nor #include items.
 */
export function emitCBlockCheck(program: Program): string | undefined {
  const withC = program.rules.filter(hasCBlock);
  if (!withC.length && !program.includes.length) return undefined;
  const lineMaps = new Map<string, LineMap>();
  const lineMap = (f: string): LineMap => {
    let m = lineMaps.get(f);
    if (!m) lineMaps.set(f, (m = new LineMap(program.sources.get(f) ?? '')));
    return m;
  };
  const o = new Out();
  o.push('/* C blocks of a rule file, compiled by `mvrc check` to find C errors before a build. */');
  o.push('#include <stddef.h>', '#include <stdint.h>', '#include <string.h>', '#include "mvr_rules.h"', 'struct mvr_arena;');
  for (const { file, include } of program.includes) {
    o.push(`#line ${lineMap(file).position(include.span.offset).line} ${lineDirectiveFile(file)}`);
    o.push(include.angled ? `#include <${include.target}>` : `#include "${include.target}"`);
    o.resetLine();
  }
  o.push(`#define MVR_SCRATCH ${SCRATCH}`, '#include "mvr_module.h"', '');
  const guards: string[] = [];
  const cbs: string[] = [];
  for (const rule of withC) {
    const r = lowerRule(rule, program.sources.get(rule.file) ?? '', lineMap(rule.file));
    r.left.forEach((it, i) => {
      if (it.guard?.kind === 'c') guards.push(emitGuard(o, r, it.guard, r.leftScopes[i]!, `mvr_guard_${r.id}_l${i}`, lineMap));
    });
    r.right.forEach((it, p) => {
      if (it.guard?.kind === 'c') guards.push(emitGuard(o, r, it.guard, it.scope, `mvr_guard_${r.id}_r${p}`, lineMap));
      if (it.callback?.kind === 'c') cbs.push(emitCallback(o, r, it.callback, it.scope, `mvr_cb_${r.id}_r${p}`, lineMap));
    });
  }
  // Referenced from non-static tables, so that -Wunused-function stays quiet about them.
  o.push(`const mvr_guard_fn mvr_check_guards[] = { ${[...guards, 'NULL'].join(', ')} };`);
  o.push(`const mvr_cb_fn mvr_check_callbacks[] = { ${[...cbs, 'NULL'].join(', ')} };`);
  return o.text();
}

function ruleKind(r: IrRule): string {
  if (r.kind === 'begin') return 'begin';
  if (r.kind === 'nothing') return r.rhs === 'diverge' ? 'nothing-diverge' : 'follower-only';
  return r.rhs === 'seq' ? 'mapping' : r.rhs === 'nothing' ? 'leader-only' : 'diverge';
}

function dirnameOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : p.slice(0, i);
}

// ---- blocks ----

function declare(o: Out, scope: VarRef[], mode: 'guard' | 'callback'): string[] {
  const after: string[] = [];
  for (const v of scope) {
    const n = v.name;
    const scalar = isScalarKind(v.kind);
    const t = cType(v.kind);
    if (v.from === 'left') {
      const e = `mvr_c->lev[${v.item}]`;
      if (scalar) o.push(`  ${t} ${n} = (${t})${e}->args[${v.arg}]; (void)${n};`);
      else o.push(`  const char *${n} = (const char *)${e}->buf[${v.arg}]; size_t ${n}_len = (size_t)${e}->buf_len[${v.arg}]; (void)${n}; (void)${n}_len;`);
    } else if (v.from === 'slot') {
      o.push(`  ${t} ${n} = (${t})mvr_c->slots[${v.slot}]; (void)${n};`);
    } else if (v.from === 'gone') {
      if (scalar) o.push(`  ${t} ${n} = 0; (void)${n};`);
      else o.push(`  const char *${n} = NULL; size_t ${n}_len = 0; (void)${n}; (void)${n}_len;`);
    } else {
      const j = v.arg;
      if (scalar) o.push(`  ${t} ${n} = (${t})mvr_c->call->args[${j}]; (void)${n};`);
      else if (!isOutKind(v.kind))
        o.push(`  const char *${n} = (const char *)mvr_c->call->buf[${j}]; size_t ${n}_len = (size_t)mvr_c->call->buf_len[${j}]; (void)${n}; (void)${n}_len;`);
      else if (mode === 'guard')
        o.push(`  const char *${n} = NULL; size_t ${n}_len = 0; size_t ${n}_cap = (size_t)mvr_c->call->buf_len[${j}]; (void)${n}; (void)${n}_len; (void)${n}_cap;`);
      else {
        o.push(
          `  size_t ${n}_cap = (size_t)(mvr_c->call->buf_len[${j}] < MVR_SCRATCH ? mvr_c->call->buf_len[${j}] : MVR_SCRATCH);`,
          `  char *${n} = (char *)mvr_scratch[${j}];`,
          `  size_t ${n}_len = 0;`,
          `  const int mvr_had_${j} = mvr_out->out[${j}] != NULL;`,
          `  if (mvr_had_${j}) {`,
          `    ${n}_len = (size_t)(mvr_out->out_len[${j}] < ${n}_cap ? mvr_out->out_len[${j}] : ${n}_cap);`,
          `    if (${n}_len) memmove(${n}, mvr_out->out[${j}], ${n}_len);`,
          '  }',
          `  (void)${n}; (void)${n}_len; (void)${n}_cap;`,
        );
        after.push(
          `  if (mvr_had_${j} || ${n}_len > 0) {`,
          `    if (${n}_len > ${n}_cap) ${n}_len = ${n}_cap;`,
          `    mvr_out->out[${j}] = (const uint8_t *)${n};`,
          `    mvr_out->out_len[${j}] = ${n}_len;`,
          '  }',
        );
      }
    }
  }
  return after;
}

/** Copies a C block with `#line` so that its first character keeps its .mvr line and column. */
function emitCBlock(o: Out, r: IrRule, b: CBlock, lineMap: (f: string) => LineMap): void {
  const text = lineMapText(lineMap(r.file));
  const pos = lineMap(r.file).position(b.codeOffset);
  const lineStart = b.codeOffset - (pos.column - 1);
  const prefix = text.slice(lineStart, b.codeOffset);
  const pad = ' '.repeat(enc.encode(prefix).length);
  o.push(`#line ${pos.line} ${lineDirectiveFile(r.file)}`);
  o.push(pad + rewriteDollar(b.code));
  // What follows is attributed to the end of the block (an unclosed brace is reported there).
  const end = lineMap(r.file).position(b.codeOffset + b.code.length);
  o.push(`#line ${end.line} ${lineDirectiveFile(r.file)}`);
}

function lineMapText(m: LineMap): string {
  return m.text;
}

function emitGuard(o: Out, r: IrRule, g: IrGuard, scope: VarRef[], name: string, lineMap: (f: string) => LineMap): string {
  o.push(`/* rule ${r.id} (${r.file.replace(/\*\//g, '* /')}:${r.line}): guard */`);
  o.push(`static int ${name}(const struct mvr_ctx *mvr_c, struct mvr_arena *mvr_arena) {`, '  (void)mvr_c; (void)mvr_arena;');
  declare(o, scope, 'guard');
  if (g.kind === 'c') {
    // Falling off the end of a predicate accepts: the slides-style first block of a right-hand
    // item (`read(fd,ss,n) {{ ...args... }} {{ ret += 7; }}`) only adjusts arguments.
    o.push('  {');
    emitCBlock(o, r, g.block, lineMap);
    o.push('  }');
    o.resetLine();
    o.push('  return 1;', '}');
  } else {
    o.push(g.checked ? `  return ${lowerTypedExprToC(g.checked)};` : '  return 0; /* the typed guard did not check */', '}');
  }
  o.resetLine();
  o.push('');
  return name;
}

function emitCallback(o: Out, r: IrRule, cb: IrCallback, scope: VarRef[], name: string, lineMap: (f: string) => LineMap): string {
  o.push(`/* rule ${r.id} (${r.file.replace(/\*\//g, '* /')}:${r.line}): callback */`);
  o.push(
    `static void ${name}(const struct mvr_ctx *mvr_c, mvr_step *mvr_out, uint8_t (*mvr_scratch)[MVR_SCRATCH], struct mvr_arena *mvr_arena) {`,
    '  (void)mvr_c; (void)mvr_out; (void)mvr_scratch; (void)mvr_arena;',
  );
  const after = declare(o, scope.filter((v) => v.name !== cb.retName), 'callback');
  o.push(`  long ${cb.retName} = (long)mvr_out->ret;`);
  o.push('  {');
  if (cb.kind === 'c') emitCBlock(o, r, cb.block, lineMap);
  else o.push(cb.checked ? lowerTypedBlockToC(cb.checked) : '/* the typed callback did not check */');
  o.push('  }');
  o.resetLine();
  o.push(`  mvr_out->ret = (int64_t)${cb.retName};`, ...after, '}', '');
  return name;
}

