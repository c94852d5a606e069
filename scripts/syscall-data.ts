// Reads compiler/syscalls/x86_64.tsv (its header comment documents the format) into the model of
// compiler/syscalls/types.ts and checks it. Never throws on bad data: every problem is an error
// line "FILE:LINE: message". scripts/gen-syscalls.ts renders the result as TypeScript and C.
import type {
  CommandEntry,
  CommandTable,
  DerivedPart,
  Direction,
  EffectClass,
  FieldType,
  ParamInfo,
  ParamKind,
  RetInfo,
  SelectorMatch,
  StructField,
  StructInfo,
  SyscallInfo,
  TaskInfo,
  ValueSet,
} from '../compiler/syscalls/types.ts';
import { SPECIAL_TYPES } from '../compiler/syscalls/types.ts';

export const KINDS: readonly ParamKind[] = ['fd', 'int', 'size', 'flags', 'ptr', 'in_bytes', 'out_bytes', 'path', 'in_struct', 'out_struct'];
const EFFECTS: readonly EffectClass[] = ['local', 'readonly', 'external'];
const MAX_ARGS = 6;
const FIELD_TYPES: readonly string[] = ['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'be16', 'be32', 'ptr', 'fd', 'pad', 'bytes', 'cstr', 'inaddr', 'in6addr', 'sigset', 'sunpath'];
const PRIM_SIZE: Record<string, number> = { i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4, i64: 8, u64: 8, be16: 2, be32: 4, ptr: 8, fd: 4, inaddr: 4, in6addr: 16 };
const PARTS: readonly DerivedPart[] = ['name', 'control', 'flags', 'msgs'];

export interface ParseResult {
  syscalls: SyscallInfo[]; // sorted by number
  values: ValueSet[];
  structs: StructInfo[];
  /** Which struct a sockaddr of each family is (`family=` on a @struct line). */
  families: [bigint, string][];
  errors: string[]; // "FILE:LINE: message"
}

interface RawCommands {
  line: number;
  syscall: string;
  selectors: string[];
  mask?: string;
  entries: { line: number; fields: string[] }[];
}

/** A number as C writes it: decimal, 0x hex, leading-0 octal, optional minus. */
export function parseIntLiteral(text: string): bigint | undefined {
  const m = /^(-?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const d = m[2]!;
  const v = /^0[xX]/.test(d) ? BigInt(d) : d.length > 1 && d.startsWith('0') ? BigInt(`0o${d.slice(1)}`) : BigInt(d);
  return m[1] === '-' ? -v : v;
}

/** Parses and validates the data text. */
export function parseSyscallTsv(text: string, file: string = 'compiler/syscalls/x86_64.tsv'): ParseResult {
  const syscalls: SyscallInfo[] = [];
  const values: ValueSet[] = [];
  const structs: StructInfo[] = [];
  const families: [bigint, string][] = [];
  const errors: string[] = [];
  const byName = new Map<string, number>();
  const byNr = new Map<number, number>();
  // Pending references, resolved once everything is read.
  const syscallLines = new Map<SyscallInfo, number>();
  const rawCommands: RawCommands[] = [];
  const valueLines = new Map<string, number>();
  const structLines = new Map<string, number>();
  const familyNames: { line: number; name: string; struct: string }[] = [];

  type Section = { kind: 'skip' } | { kind: 'syscalls' } | { kind: 'values'; set: ValueSet & { entries: [string, bigint, string?][] }; raw: { line: number; name: string; value: string; text?: string }[] } | { kind: 'struct'; s: StructInfo; raw: { line: number; fields: string[] }[] } | { kind: 'commands'; c: RawCommands };
  let section: Section = { kind: 'syscalls' };
  const pendingValues: { set: ValueSet & { entries: [string, bigint, string?][] }; raw: { line: number; name: string; value: string; text?: string }[] }[] = [];
  const pendingStructs: { s: StructInfo; raw: { line: number; fields: string[] }[] }[] = [];

  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const err = (msg: string): void => {
      errors.push(`${file}:${lineNo}: ${msg}`);
    };
    const hash = raw.indexOf('#');
    const line = (hash >= 0 ? raw.slice(0, hash) : raw).trimEnd();
    if (line.trim() === '') return;
    const fields = line.split(/\t+/).filter((f) => f !== '').map((f) => f.trim()).filter((f) => f !== '');
    if (line.startsWith('@')) {
      // Until the header is read, lines belong to no section (a bad header must not give its
      // lines to the section before it).
      section = { kind: 'skip' };
      const head = line.slice(1).trim().split(/\s+/);
      const what = head[0];
      if (what === 'syscalls') section = { kind: 'syscalls' };
      else if (what === 'values') {
        const [, name, kindText, ...rest] = head;
        if (!name || !/^[a-z_][a-z0-9_]*$/.test(name)) return err(`@values needs a lower-case set name`);
        if (kindText !== 'enum' && kindText !== 'bits' && kindText !== 'enum+bits') return err(`@values ${name}: kind '${kindText ?? ''}' is not enum, bits or enum+bits`);
        if (valueLines.has(name)) return err(`@values ${name}: defined twice (first on line ${valueLines.get(name)})`);
        valueLines.set(name, lineNo);
        const set: ValueSet & { entries: [string, bigint, string?][] } = { name, kind: kindText, entries: [] };
        for (const r of rest) {
          const m = /^mask=(.+)$/.exec(r);
          const v = m ? parseIntLiteral(m[1]!) : undefined;
          if (v === undefined) return err(`@values ${name}: unknown attribute '${r}' (expected mask=N)`);
          set.mask = v;
        }
        if (kindText === 'enum+bits' && set.mask === undefined) return err(`@values ${name}: enum+bits needs mask=N`);
        const rawEntries: { line: number; name: string; value: string; text?: string }[] = [];
        section = { kind: 'values', set, raw: rawEntries };
        pendingValues.push({ set, raw: rawEntries });
        values.push(set);
      } else if (what === 'struct') {
        const [, name, sizeText, ...rest] = head;
        if (!name || !/^[a-z_][a-z0-9_]*$/.test(name)) return err(`@struct needs a lower-case name`);
        if ((SPECIAL_TYPES as readonly string[]).includes(name)) return err(`@struct ${name}: the name is a built-in type`);
        const size = sizeText !== undefined ? parseIntLiteral(sizeText) : undefined;
        if (size === undefined || size <= 0n) return err(`@struct ${name}: size '${sizeText ?? ''}' is not a positive number`);
        if (structLines.has(name)) return err(`@struct ${name}: defined twice (first on line ${structLines.get(name)})`);
        structLines.set(name, lineNo);
        const s: StructInfo = { name, size: Number(size), fields: [] };
        const ctype: string[] = [];
        for (const r of rest) {
          const fm = /^family=(.+)$/.exec(r);
          if (fm) familyNames.push({ line: lineNo, name: fm[1]!, struct: name });
          else ctype.push(r);
        }
        if (ctype.length) s.ctype = ctype.join(' ');
        const rawFields: { line: number; fields: string[] }[] = [];
        section = { kind: 'struct', s, raw: rawFields };
        pendingStructs.push({ s, raw: rawFields });
        structs.push(s);
      } else if (what === 'commands') {
        const [, sc, sel, ...rest] = head;
        if (!sc || !sel) return err('@commands needs a syscall name and its selector parameter(s)');
        const c: RawCommands = { line: lineNo, syscall: sc, selectors: sel.split(','), entries: [] };
        for (const r of rest) {
          const m = /^mask=(.+)$/.exec(r);
          if (!m) return err(`@commands ${sc}: unknown attribute '${r}' (expected mask=N)`);
          c.mask = m[1]!;
        }
        section = { kind: 'commands', c };
        rawCommands.push(c);
      } else return err(`unknown section '@${what ?? ''}' (expected @syscalls, @values, @struct or @commands)`);
      return;
    }
    switch (section.kind) {
      case 'values': {
        const parts = line.trim().split(/\t+/);
        const [name, value, ...desc] = parts.map((p) => p.trim());
        if (!name || value === undefined) return err(`a value line is NAME<TAB>VALUE[<TAB>DESCRIPTION]`);
        section.raw.push({ line: lineNo, name, value, ...(desc.length ? { text: desc.join(' ') } : {}) });
        return;
      }
      case 'struct':
        section.raw.push({ line: lineNo, fields });
        return;
      case 'commands':
        section.c.entries.push({ line: lineNo, fields });
        return;
      case 'skip':
        return;
      case 'syscalls':
        break;
    }
    const sc = parseSyscallLine(fields, err);
    if (!sc) return;
    if (byName.has(sc.name)) return err(`${sc.name}: duplicate name (first on line ${byName.get(sc.name)})`);
    if (byNr.has(sc.nr)) return err(`${sc.name}: duplicate number ${sc.nr} (first on line ${byNr.get(sc.nr)})`);
    byName.set(sc.name, lineNo);
    byNr.set(sc.nr, lineNo);
    syscallLines.set(sc, lineNo);
    syscalls.push(sc);
  });

  // ---- value sets: names are one namespace (C macro names), so commands and strace text can
  // use them without saying which set; a name has one value everywhere.
  const global = new Map<string, { value: bigint; line: number }>();
  const resolveNumber = (t: string): bigint | undefined => {
    if (t.includes('|')) {
      let v = 0n;
      for (const p of t.split('|')) {
        const x = resolveNumber(p.trim());
        if (x === undefined) return undefined;
        v |= x;
      }
      return v;
    }
    return parseIntLiteral(t) ?? global.get(t)?.value;
  };
  for (const { set, raw } of pendingValues) {
    for (const r of raw) {
      const e = (msg: string): void => void errors.push(`${file}:${r.line}: ${msg}`);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(r.name)) {
        e(`@values ${set.name}: '${r.name}' is not a C identifier`);
        continue;
      }
      const v = resolveNumber(r.value);
      if (v === undefined) {
        e(`@values ${set.name}: ${r.name}: '${r.value}' is not a number or a name defined above`);
        continue;
      }
      const prev = global.get(r.name);
      if (prev && prev.value !== v) {
        e(`${r.name} is ${v} here but ${prev.value} on line ${prev.line}: a name has one value`);
        continue;
      }
      if (!prev) global.set(r.name, { value: v, line: r.line });
      if (set.entries.some(([n]) => n === r.name)) {
        e(`@values ${set.name}: ${r.name} listed twice`);
        continue;
      }
      set.entries.push(r.text !== undefined ? [r.name, v, r.text] : [r.name, v]);
    }
  }
  const valueSet = new Map(values.map((v) => [v.name, v]));

  // ---- structures
  const structByName = new Map(structs.map((s) => [s.name, s]));
  for (const { s, raw } of pendingStructs) {
    for (const r of raw) {
      const e = (msg: string): void => void errors.push(`${file}:${r.line}: @struct ${s.name}: ${msg}`);
      const [name, offText, typeText, ...attrs] = r.fields;
      if (!name || offText === undefined || typeText === undefined) {
        e('a field line is NAME<TAB>OFFSET<TAB>TYPE[<TAB>values=SET|fmt=F]');
        continue;
      }
      const off = parseIntLiteral(offText);
      if (off === undefined || off < 0n) {
        e(`${name}: offset '${offText}' is not a number`);
        continue;
      }
      const tm = /^(struct:[a-z_][a-z0-9_]*|[a-z0-9]+)(?:\[(\d+)\])?$/.exec(typeText);
      if (!tm || (!tm[1]!.startsWith('struct:') && !FIELD_TYPES.includes(tm[1]!))) {
        e(`${name}: type '${typeText}' is not one of ${FIELD_TYPES.join(' ')} or struct:NAME, optionally [N]`);
        continue;
      }
      const f: StructField = { name, offset: Number(off), type: tm[1] as FieldType };
      if (tm[2] !== undefined) f.count = Number(tm[2]);
      if (['bytes', 'cstr', 'pad', 'sigset', 'sunpath'].includes(f.type) && f.count === undefined) {
        e(`${name}: ${f.type} needs its size in bytes, ${f.type}[N]`);
        continue;
      }
      let bad = false;
      for (const a of attrs) {
        const am = /^(values|fmt|label)=(.+)$/.exec(a);
        if (a === 'ignore') f.ignore = true;
        else if (a === 'brief') f.brief = true;
        else if (a === 'omit0') f.omit0 = true;
        else if (!am) {
          e(`${name}: unknown attribute '${a}' (expected values=SET, fmt=oct|hex|dec|wstatus|union64, label=NAME, ignore, brief or omit0)`);
          bad = true;
        } else if (am[1] === 'label') f.label = am[2]!;
        else if (am[1] === 'values') {
          if (!valueSet.has(am[2]!)) {
            e(`${name}: no value set '${am[2]}'`);
            bad = true;
          } else f.values = am[2]!;
        } else if (am[2] === 'oct' || am[2] === 'hex' || am[2] === 'dec' || am[2] === 'wstatus' || am[2] === 'union64') f.fmt = am[2];
        else {
          e(`${name}: fmt '${am[2]}' is not oct, hex, dec, wstatus or union64`);
          bad = true;
        }
      }
      if (bad) continue;
      s.fields.push(f);
    }
  }
  const fieldSize = (f: StructField): number | undefined => {
    if (f.type.startsWith('struct:')) {
      const t = structByName.get(f.type.slice(7));
      return t ? t.size * (f.count ?? 1) : undefined;
    }
    if (['bytes', 'cstr', 'pad', 'sigset', 'sunpath'].includes(f.type)) return f.count;
    return PRIM_SIZE[f.type]! * (f.count ?? 1);
  };
  for (const s of structs) {
    const line = structLines.get(s.name)!;
    let end = 0;
    for (const f of s.fields) {
      const size = fieldSize(f);
      if (size === undefined) {
        errors.push(`${file}:${line}: @struct ${s.name}: field ${f.name}: no struct '${f.type.slice(7)}'`);
        continue;
      }
      if (f.offset < end) errors.push(`${file}:${line}: @struct ${s.name}: field ${f.name} at ${f.offset} overlaps the field before it (which ends at ${end})`);
      end = f.offset + size;
      if (end > s.size) errors.push(`${file}:${line}: @struct ${s.name}: field ${f.name} ends at ${end}, past the size ${s.size}`);
    }
  }
  for (const fnm of familyNames) {
    const v = global.get(fnm.name)?.value ?? parseIntLiteral(fnm.name);
    if (v === undefined) errors.push(`${file}:${fnm.line}: @struct ${fnm.struct}: family '${fnm.name}' is not a value name`);
    else families.push([v, fnm.struct]);
  }

  // ---- parameters: value sets and types exist, sizes follow from structs
  const checkParam = (p: ParamInfo, where: string, line: number): void => {
    const e = (msg: string): void => void errors.push(`${file}:${line}: ${where}: ${msg}`);
    if (p.values !== undefined && !valueSet.has(p.values)) e(`no value set '${p.values}'`);
    if (p.type !== undefined && !(SPECIAL_TYPES as readonly string[]).includes(p.type)) {
      const s = structByName.get(p.type);
      if (!s) e(`no struct or built-in type '${p.type}'`);
      else if (p.fixedSize === undefined && p.lenParam === undefined) p.fixedSize = s.size;
      else if (p.fixedSize !== undefined && p.fixedSize !== s.size) e(`size=${p.fixedSize} but struct ${s.name} is ${s.size} bytes`);
    }
  };
  for (const sc of syscalls) {
    const line = syscallLines.get(sc)!;
    sc.params.forEach((p) => checkParam(p, `${sc.name}.${p.name}`, line));
    sc.extra?.forEach((p) => checkParam(p, `${sc.name}.${p.name}`, line));
    if (sc.ret?.values !== undefined && !valueSet.has(sc.ret.values)) errors.push(`${file}:${line}: ${sc.name}: no value set '${sc.ret.values}'`);
    if (sc.detailed) {
      const problem = checkParams(sc);
      if (problem) errors.push(`${file}:${line}: ${sc.name}: ${problem}`);
    }
  }

  // ---- command tables
  const scByName = new Map(syscalls.map((s) => [s.name, s]));
  const seenCommands = new Set<string>();
  for (const c of rawCommands) {
    const e = (line: number, msg: string): void => void errors.push(`${file}:${line}: @commands ${c.syscall}: ${msg}`);
    const sc = scByName.get(c.syscall);
    if (!sc) {
      e(c.line, 'no such syscall');
      continue;
    }
    if (seenCommands.has(sc.name)) {
      e(c.line, 'a syscall has one command table');
      continue;
    }
    seenCommands.add(sc.name);
    if (!sc.detailed) {
      e(c.line, 'the syscall is not described');
      continue;
    }
    const selectors = c.selectors.map((n) => sc.params.findIndex((p) => p.name === n));
    if (selectors.some((s) => s < 0) || selectors.length > 2) {
      e(c.line, `selectors '${c.selectors.join(',')}' must be one or two of its parameters`);
      continue;
    }
    const table: CommandTable = { selectors, entries: [] };
    if (c.mask !== undefined) {
      const m = resolveNumber(c.mask);
      if (m === undefined) e(c.line, `mask '${c.mask}' is not a number`);
      else table.mask = m;
    }
    for (const en of c.entries) {
      const [matchText, ...rest] = en.fields;
      const conds = matchText!.split(',');
      if (conds.length !== selectors.length) {
        e(en.line, `'${matchText}' has ${conds.length} condition(s) for ${selectors.length} selector(s)`);
        continue;
      }
      const match: SelectorMatch[] = [];
      let ok = true;
      for (const t of conds) {
        if (t === '*') match.push({ any: true });
        else if (t.startsWith('&')) {
          const v = resolveNumber(t.slice(1));
          if (v === undefined) ok = false;
          else match.push({ all: v });
        } else {
          const v = resolveNumber(t);
          if (v === undefined) ok = false;
          else match.push({ eq: v });
        }
      }
      if (!ok) {
        e(en.line, `'${matchText}' names a value no @values set defines`);
        continue;
      }
      const entry: CommandEntry = { label: matchText!, match, params: [] };
      for (const f of rest) {
        if (f === 'retfd') entry.returnsFd = true;
        else if (f === 'blocks') entry.blocks = true;
        else if (f.startsWith('->')) {
          const r = parseRet(f.slice(2));
          if (typeof r === 'string') e(en.line, `${matchText}: return '${f}': ${r}`);
          else entry.ret = r;
        } else {
          const p = parseParam(f);
          if (typeof p === 'string') {
            e(en.line, `${matchText}: parameter '${f}': ${p}`);
            continue;
          }
          const at = sc.params.findIndex((q) => q.name === p.name);
          if (at < 0) {
            e(en.line, `${matchText}: ${sc.name} has no parameter '${p.name}'`);
            continue;
          }
          checkParam(p, `${sc.name}.${p.name} (${matchText})`, en.line);
          const merged = sc.params.map((q, k) => (k === at ? p : q));
          const problem = checkParams({ ...sc, params: merged });
          if (problem) e(en.line, `${matchText}: ${problem}`);
          entry.params.push({ at, param: p });
        }
      }
      if (entry.ret?.values !== undefined && !valueSet.has(entry.ret.values)) e(en.line, `${matchText}: no value set '${entry.ret.values}'`);
      table.entries.push(entry);
    }
    sc.commands = table;
  }
  syscalls.sort((a, b) => a.nr - b.nr);
  return { syscalls, values, structs, families, errors };
}

function parseSyscallLine(fields: string[], err: (msg: string) => void): SyscallInfo | undefined {
  if (fields.length < 6) {
    err(`expected at least 6 tab-separated fields (nr, name, arity, effect, policy, params), got ${fields.length}`);
    return undefined;
  }
  const [nrText, name, arityText, effectText, attrsText, ...paramFields] = fields as [string, string, string, string, string, ...string[]];
  if (!/^(0|[1-9][0-9]*)$/.test(nrText)) return void err(`syscall number '${nrText}' is not a non-negative integer`);
  const nr = Number(nrText);
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) return void err(`syscall name '${name}' is not a lower-case identifier`);
  if (!/^[0-6]$/.test(arityText)) return void err(`${name}: arity '${arityText}' is not 0..${MAX_ARGS}`);
  const arity = Number(arityText);
  if (!(EFFECTS as readonly string[]).includes(effectText)) return void err(`${name}: effect '${effectText}' is not one of ${EFFECTS.join(', ')}`);
  const effect = effectText as EffectClass;

  const sc: SyscallInfo = { name, nr, arity, params: [], detailed: true, effect, recorded: false };
  let rec: boolean | undefined;
  if (attrsText !== '-') {
    for (const attr of attrsText.split(',')) {
      let m: RegExpExecArray | null;
      if ((m = /^fd=([0-5])$/.exec(attr))) sc.fdParam = Number(m[1]);
      else if (attr === 'retfd') sc.returnsFd = true;
      else if ((m = /^fds=([0-5]|scm)$/.exec(attr))) sc.newFds = m[1] === 'scm' ? 'scm' : Number(m[1]);
      else if (attr === 'rec') rec = true;
      else if (attr === 'own') rec = false;
      else if ((m = /^task=(fork|vfork|clone|clone3)(?::([0-5]))?$/.exec(attr))) {
        const t: TaskInfo = { how: m[1] as TaskInfo['how'] };
        if (m[2] !== undefined) t.param = Number(m[2]);
        if ((t.how === 'clone' || t.how === 'clone3') !== (t.param !== undefined)) return void err(`${name}: task=${t.how} ${t.param === undefined ? 'needs' : 'takes no'} :N (the parameter holding the flags)`);
        sc.task = t;
      } else if (attr === 'noret') sc.noReturn = 'always';
      else if (attr === 'noret=success') sc.noReturn = 'success';
      else if (attr === 'blocks') sc.blocks = true;
      else if (attr === 'ni') sc.ni = true;
      else return void err(`${name}: unknown attribute '${attr}' (expected fd=N, retfd, fds=N|scm, rec, own, task=..., noret, noret=success, blocks or ni)`);
    }
  }
  const real: string[] = [];
  const extra: string[] = [];
  let inExtra = false;
  for (const f of paramFields) {
    if (f === '|') inExtra = true;
    else if (f.startsWith('->')) {
      const r = parseRet(f.slice(2));
      if (typeof r === 'string') return void err(`${name}: return '${f}': ${r}`);
      sc.ret = r;
    } else (inExtra ? extra : real).push(f);
  }
  if (real.length === 1 && real[0] === '?') {
    sc.detailed = false;
    sc.params = Array.from({ length: arity }, (_, k) => ({ name: `a${k}`, kind: 'int' as const, dir: 'in' as const }));
    if (effect !== 'external') return void err(`${name}: an undescribed syscall ('?') must be external`);
    if (sc.fdParam !== undefined) return void err(`${name}: fd=N needs described parameters`);
  } else if (real.length === 1 && real[0] === 'void') {
    sc.params = [];
  } else {
    for (const field of real) {
      const p = parseParam(field);
      if (typeof p === 'string') return void err(`${name}: parameter '${field}': ${p}`);
      if (p.derived) return void err(`${name}: parameter '${field}': from= and part= are for derived parameters, after '|'`);
      sc.params.push(p);
    }
  }
  if (sc.params.length !== arity) {
    return void err(`${name}: arity ${arity} but ${sc.params.length} parameter${sc.params.length === 1 ? '' : 's'} described`);
  }
  if (extra.length) {
    sc.extra = [];
    for (const field of extra) {
      const p = parseParam(field);
      if (typeof p === 'string') return void err(`${name}: derived parameter '${field}': ${p}`);
      if (!p.derived) return void err(`${name}: derived parameter '${field}' needs from=N and part=P`);
      sc.extra.push(p);
    }
    if (arity + sc.extra.length > MAX_ARGS) return void err(`${name}: ${arity} parameters and ${sc.extra.length} derived ones are more than ${MAX_ARGS}`);
  }
  // What the runtime records: everything but calls local to the process, except the ones whose
  // results the follower must share (new descriptors) — `rec`/`own` override that default.
  const createsFds = sc.returnsFd === true || sc.newFds !== undefined;
  sc.recorded = rec ?? (effect !== 'local' || createsFds);
  if (!sc.recorded && createsFds) return void err(`${name}: a call that creates descriptors is recorded (the follower must hold them too): drop 'own'`);
  return sc;
}

function parseRet(text: string): RetInfo | string {
  const m = /^([a-z_]+)(?:\[([^\]]*)\])?$/.exec(text);
  if (!m) return 'expected ->KIND or ->KIND[values=SET,fmt=F]';
  const kind = m[1]!;
  if (!['fd', 'int', 'size', 'ptr', 'flags', 'tid'].includes(kind)) return `kind '${kind}' is not fd, int, size, ptr, flags or tid`;
  const r: RetInfo = { kind: kind as RetInfo['kind'] };
  for (const a of m[2] ? m[2].split(',') : []) {
    let am: RegExpExecArray | null;
    if ((am = /^values=([a-z_][a-z0-9_]*)$/.exec(a))) r.values = am[1]!;
    else if ((am = /^fmt=(oct|hex|dec)$/.exec(a))) r.fmt = am[1] as RetInfo['fmt'];
    else return `unknown attribute '${a}' (expected values=SET or fmt=oct|hex|dec)`;
  }
  return r;
}

export function parseParam(field: string): ParamInfo | string {
  const m = /^([a-z_][a-z0-9_]*):([a-z_]+)(?:\[([^\]]*)\])?$/.exec(field);
  if (!m) return 'expected NAME:KIND or NAME:KIND[ATTR,...]';
  const [, name, kindText, attrText] = m as unknown as [string, string, string, string | undefined];
  if (name === 'ret') return "'ret' is the return value's name: describe it as ->KIND";
  if (!(KINDS as readonly string[]).includes(kindText)) return `unknown kind '${kindText}' (expected ${KINDS.join(', ')})`;
  const kind = kindText as ParamKind;
  let dir: Direction = kind === 'out_bytes' || kind === 'out_struct' ? 'out' : 'in';
  const p: ParamInfo = { name, kind, dir };
  let from: number | undefined;
  let part: DerivedPart | undefined;
  let width: 32 | 64 | undefined;
  if (attrText !== undefined && attrText !== '') {
    for (const attr of attrText.split(',')) {
      let am: RegExpExecArray | null;
      if ((am = /^len=([0-5])$/.exec(attr))) p.lenParam = Number(am[1]);
      else if ((am = /^size=([1-9][0-9]*)$/.exec(attr))) p.fixedSize = Number(am[1]);
      else if (attr === 'ret') p.lenFromRet = true;
      else if (attr === 'inout') dir = 'inout';
      else if ((am = /^values=([a-z_][a-z0-9_]*)$/.exec(attr))) p.values = am[1]!;
      else if ((am = /^type=([a-z_][a-z0-9_]*)$/.exec(attr))) p.type = am[1]!;
      else if (attr === 'unused') p.unused = true;
      else if (attr === 'layout') p.layout = true;
      else if (attr === 'w64') width = 64;
      else if (attr === 'w32') width = 32;
      else if ((am = /^fmt=(oct|hex|dec)$/.exec(attr))) p.fmt = am[1] as ParamInfo['fmt'];
      else if ((am = /^alias=([a-z_][a-z0-9_/]*)$/.exec(attr))) p.alias = am[1]!.split('/');
      else if ((am = /^from=([0-5])$/.exec(attr))) from = Number(am[1]);
      else if ((am = /^part=([a-z]+)$/.exec(attr))) {
        if (!(PARTS as readonly string[]).includes(am[1]!)) return `part '${am[1]}' is not one of ${PARTS.join(', ')}`;
        part = am[1] as DerivedPart;
      } else return `unknown attribute '${attr}' (expected len=N, size=N, ret, inout, values=SET, type=T, unused, layout, fmt=F, alias=A, w32, w64, from=N or part=P)`;
    }
  }
  p.dir = dir;
  // The kernel reads fd, int and flags arguments as 32-bit values unless they are long (w64):
  // only those bits are compared and shown (the upper half of the register is undefined).
  if (width === undefined) width = kind === 'fd' || kind === 'int' || kind === 'flags' ? 32 : 64;
  if (width === 32) {
    if (kind !== 'fd' && kind !== 'int' && kind !== 'flags' && kind !== 'size') return 'w32 applies to integers';
    p.bits = 32;
  } else if (kind !== 'fd' && kind !== 'int' && kind !== 'flags' && kind !== 'size' && kind !== 'ptr' && (attrText ?? '').includes('w64')) return 'w64 applies to integers';
  if ((from === undefined) !== (part === undefined)) return 'from=N and part=P go together';
  if (from !== undefined) p.derived = { from, part: part! };
  return p;
}

const BUFFER_KINDS: readonly ParamKind[] = ['in_bytes', 'out_bytes', 'in_struct', 'out_struct'];

/** Consistency rules every described syscall obeys (also asserted by test/syscalls.test.ts). */
export function checkParams(sc: Pick<SyscallInfo, 'params' | 'extra' | 'fdParam' | 'arity'>): string | undefined {
  const { params, fdParam } = sc;
  const names = new Set<string>();
  const all = [...params, ...(sc.extra ?? [])];
  for (const [i, p] of all.entries()) {
    if (names.has(p.name)) return `parameter name '${p.name}' is used twice`;
    names.add(p.name);
    const buffer = BUFFER_KINDS.includes(p.kind);
    const t = p.type;
    if (!buffer && (p.lenParam !== undefined || p.fixedSize !== undefined || p.lenFromRet)) {
      return `parameter ${i} (${p.name}) is ${p.kind}: len=, size= and ret apply to bytes and structures only`;
    }
    if (!buffer && t !== undefined) return `parameter ${i} (${p.name}) is ${p.kind}: type= applies to bytes and structures only`;
    if (p.dir === 'inout' && p.kind !== 'out_struct' && p.kind !== 'out_bytes') {
      return `parameter ${i} (${p.name}): inout applies to outputs only (value-result memory)`;
    }
    if (p.lenFromRet && p.kind !== 'out_bytes' && p.kind !== 'out_struct') {
      return `parameter ${i} (${p.name}): ret applies to outputs only`;
    }
    if (p.values !== undefined && !['int', 'flags', 'fd'].includes(p.kind)) return `parameter ${i} (${p.name}): values= applies to integers`;
    if (p.layout && p.kind !== 'size' && p.kind !== 'out_struct') return `parameter ${i} (${p.name}): layout applies to sizes`;
    // Gathered and scattered data: an iovec array of len= entries, a msghdr, an mmsghdr vector.
    const gathered = t === 'iovec' || t === 'msghdr' || t === 'mmsghdr';
    if (gathered && p.kind !== 'in_bytes' && p.kind !== 'out_bytes') return `parameter ${i} (${p.name}): type=${t} is data: in_bytes or out_bytes`;
    if ((t === 'iovec' || t === 'mmsghdr') && p.lenParam === undefined) return `parameter ${i} (${p.name}): type=${t} needs len=N (its number of entries)`;
    if (t === 'msghdr' && (p.lenParam !== undefined || p.fixedSize !== undefined)) return `parameter ${i} (${p.name}): a msghdr's size is its own`;
    if (t === 'sockaddr' && p.lenParam === undefined && !p.derived) return `parameter ${i} (${p.name}): type=sockaddr needs len=N (its length)`;
    if ((p.kind === 'in_bytes' || p.kind === 'out_bytes') && p.lenParam === undefined && !gathered && !p.derived) {
      return `parameter ${i} (${p.name}) is ${p.kind} and needs len=N`;
    }
    if (buffer && !gathered && !p.derived && p.lenParam === undefined && p.fixedSize === undefined) {
      return `parameter ${i} (${p.name}) is ${p.kind} and needs len=N or size=N`;
    }
    if (p.derived) {
      const src = params[p.derived.from];
      if (i < params.length) return `parameter ${i} (${p.name}): only parameters after '|' are derived`;
      if (!src || (src.type !== 'msghdr' && src.type !== 'mmsghdr')) return `parameter ${i} (${p.name}): from=${p.derived.from} is not a msghdr or mmsghdr parameter`;
      if (p.lenParam !== undefined) return `parameter ${i} (${p.name}): a derived parameter's length is in its msghdr`;
    } else if (i >= params.length) return `parameter ${i} (${p.name}) after '|' needs from=N,part=P`;
    if (p.lenParam !== undefined) {
      const target = params[p.lenParam];
      if (p.lenParam === i || target === undefined) return `parameter ${i} (${p.name}): len=${p.lenParam} is not another parameter`;
      const valueResult = target.kind === 'out_struct' && target.fixedSize === 4 && target.dir === 'inout';
      if (target.kind !== 'size' && !valueResult) {
        return `parameter ${i} (${p.name}): len=${p.lenParam} names ${target.name}, which is neither a size nor a 4-byte inout out_struct`;
      }
    }
  }
  if (fdParam !== undefined && params[fdParam]?.kind !== 'fd') return `fd=${fdParam} does not name an fd parameter`;
  return undefined;
}
