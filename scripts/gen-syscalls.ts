// Generates the syscall table for the compiler (compiler/syscalls/table.generated.ts), for the C
// runtime (runtime-c/include/mvr_syscalls.h) and for generated rule modules (the default match's
// table, runtime-c/include/mvr_default_match.h) from the one data file,
// compiler/syscalls/x86_64.tsv (its header comment documents the columns).
//
//   npx tsx scripts/gen-syscalls.ts           rewrite the generated files
//   npx tsx scripts/gen-syscalls.ts --check   exit 1 when any of them is out of date
//
// Exit status: 0 ok, 1 data errors or stale files (--check), 2 usage or I/O errors.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Direction, EffectClass, ParamInfo, ParamKind, SyscallInfo } from '../compiler/syscalls/types.ts';
import { renderDefaultMatchHeader } from '../codegen-c/default-match.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const TSV_PATH = 'compiler/syscalls/x86_64.tsv';
export const TS_OUT_PATH = 'compiler/syscalls/table.generated.ts';
export const C_OUT_PATH = 'runtime-c/include/mvr_syscalls.h';

const KINDS: readonly ParamKind[] = [
  'fd', 'int', 'size', 'flags', 'ptr', 'in_bytes', 'out_bytes', 'path', 'in_struct', 'out_struct',
];
const EFFECTS: readonly EffectClass[] = ['local', 'readonly', 'external'];
const MAX_ARGS = 6;

export interface ParseResult {
  syscalls: SyscallInfo[]; // sorted by number
  errors: string[]; // "FILE:LINE: message"
}

/** Parses and validates the TSV text. Never throws on bad data: every problem is an error line. */
export function parseSyscallTsv(text: string, file: string = TSV_PATH): ParseResult {
  const syscalls: SyscallInfo[] = [];
  const errors: string[] = [];
  const byName = new Map<string, number>();
  const byNr = new Map<number, number>();
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const err = (msg: string): void => {
      errors.push(`${file}:${lineNo}: ${msg}`);
    };
    const hash = raw.indexOf('#');
    const line = (hash >= 0 ? raw.slice(0, hash) : raw).trimEnd();
    if (line.trim() === '') return;
    const fields = line.split(/\t+/).filter((f) => f !== '');
    if (fields.length < 6) {
      err(`expected at least 6 tab-separated fields (nr, name, arity, effect, attrs, params), got ${fields.length}`);
      return;
    }
    const [nrText, name, arityText, effectText, attrsText, ...paramFields] = fields as [
      string, string, string, string, string, ...string[],
    ];
    if (!/^(0|[1-9][0-9]*)$/.test(nrText)) return err(`syscall number '${nrText}' is not a non-negative integer`);
    const nr = Number(nrText);
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) return err(`syscall name '${name}' is not a lower-case identifier`);
    if (!/^[0-6]$/.test(arityText)) return err(`${name}: arity '${arityText}' is not 0..${MAX_ARGS}`);
    const arity = Number(arityText);
    if (!(EFFECTS as readonly string[]).includes(effectText)) {
      return err(`${name}: effect '${effectText}' is not one of ${EFFECTS.join(', ')}`);
    }
    const effect = effectText as EffectClass;
    if (byName.has(name)) return err(`${name}: duplicate name (first on line ${byName.get(name)})`);
    if (byNr.has(nr)) return err(`${name}: duplicate number ${nr} (first on line ${byNr.get(nr)})`);

    let fdParam: number | undefined;
    let returnsFd = false;
    if (attrsText !== '-') {
      for (const attr of attrsText.split(',')) {
        const fdMatch = /^fd=([0-5])$/.exec(attr);
        if (fdMatch) fdParam = Number(fdMatch[1]);
        else if (attr === 'retfd') returnsFd = true;
        else return err(`${name}: unknown attribute '${attr}' (expected fd=N or retfd)`);
      }
    }

    let detailed: boolean;
    let params: ParamInfo[];
    if (paramFields.length === 1 && paramFields[0] === '?') {
      detailed = false;
      params = Array.from({ length: arity }, (_, k) => ({ name: `a${k}`, kind: 'int' as const, dir: 'in' as const }));
      if (effect !== 'external') return err(`${name}: an undescribed syscall ('?') must be external`);
      if (fdParam !== undefined) return err(`${name}: fd=N needs described parameters`);
    } else if (paramFields.length === 1 && paramFields[0] === 'void') {
      detailed = true;
      params = [];
    } else {
      detailed = true;
      params = [];
      for (const field of paramFields) {
        const p = parseParam(field);
        if (typeof p === 'string') return err(`${name}: parameter '${field}': ${p}`);
        params.push(p);
      }
    }
    if (params.length !== arity) {
      return err(`${name}: arity ${arity} but ${params.length} parameter${params.length === 1 ? '' : 's'} described`);
    }
    if (detailed) {
      const problem = checkParams(params, fdParam);
      if (problem) return err(`${name}: ${problem}`);
    }
    byName.set(name, lineNo);
    byNr.set(nr, lineNo);
    const info: SyscallInfo = { name, nr, arity, params, detailed, effect };
    if (fdParam !== undefined) info.fdParam = fdParam;
    if (returnsFd) info.returnsFd = true;
    syscalls.push(info);
  });
  syscalls.sort((a, b) => a.nr - b.nr);
  return { syscalls, errors };
}

function parseParam(field: string): ParamInfo | string {
  const m = /^([a-z_][a-z0-9_]*):([a-z_]+)(?:\[([^\]]*)\])?$/.exec(field);
  if (!m) return 'expected NAME:KIND or NAME:KIND[ATTR,...]';
  const [, name, kindText, attrText] = m as unknown as [string, string, string, string | undefined];
  if (!(KINDS as readonly string[]).includes(kindText)) return `unknown kind '${kindText}' (expected ${KINDS.join(', ')})`;
  const kind = kindText as ParamKind;
  let dir: Direction = kind === 'out_bytes' || kind === 'out_struct' ? 'out' : 'in';
  const p: ParamInfo = { name, kind, dir };
  if (attrText !== undefined) {
    for (const attr of attrText.split(',')) {
      let am: RegExpExecArray | null;
      if ((am = /^len=([0-5])$/.exec(attr))) p.lenParam = Number(am[1]);
      else if ((am = /^size=([1-9][0-9]*)$/.exec(attr))) p.fixedSize = Number(am[1]);
      else if (attr === 'ret') p.lenFromRet = true;
      else if (attr === 'inout') dir = 'inout';
      else return `unknown attribute '${attr}' (expected len=N, size=N, ret or inout)`;
    }
  }
  p.dir = dir;
  return p;
}

/** Consistency rules every described syscall obeys (also asserted by test/syscalls.test.ts). */
function checkParams(params: readonly ParamInfo[], fdParam: number | undefined): string | undefined {
  const names = new Set<string>();
  for (const [i, p] of params.entries()) {
    if (names.has(p.name)) return `parameter name '${p.name}' is used twice`;
    names.add(p.name);
    const buffer = p.kind === 'in_bytes' || p.kind === 'out_bytes' || p.kind === 'in_struct' || p.kind === 'out_struct';
    if (!buffer && (p.lenParam !== undefined || p.fixedSize !== undefined || p.lenFromRet)) {
      return `parameter ${i} (${p.name}) is ${p.kind}: len=, size= and ret apply to bytes and structures only`;
    }
    if (p.dir === 'inout' && p.kind !== 'out_struct') {
      return `parameter ${i} (${p.name}): inout applies to out_struct only (value-result memory)`;
    }
    if (p.lenFromRet && p.kind !== 'out_bytes' && p.kind !== 'out_struct') {
      return `parameter ${i} (${p.name}): ret applies to outputs only`;
    }
    if ((p.kind === 'in_bytes' || p.kind === 'out_bytes') && p.lenParam === undefined) {
      return `parameter ${i} (${p.name}) is ${p.kind} and needs len=N`;
    }
    if (buffer && p.lenParam === undefined && p.fixedSize === undefined) {
      return `parameter ${i} (${p.name}) is ${p.kind} and needs len=N or size=N`;
    }
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

function tsString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function renderParamTs(p: ParamInfo): string {
  const parts = [`name: ${tsString(p.name)}`, `kind: ${tsString(p.kind)}`, `dir: ${tsString(p.dir)}`];
  if (p.lenParam !== undefined) parts.push(`lenParam: ${p.lenParam}`);
  if (p.lenFromRet) parts.push('lenFromRet: true');
  if (p.fixedSize !== undefined) parts.push(`fixedSize: ${p.fixedSize}`);
  return `{ ${parts.join(', ')} }`;
}

/** The TypeScript module: a plain data array, sorted by number. */
export function renderTs(syscalls: readonly SyscallInfo[]): string {
  const out: string[] = [
    `// Generated by scripts/gen-syscalls.ts from ${TSV_PATH}. Do not edit: change the TSV and rerun`,
    '// `npx tsx scripts/gen-syscalls.ts`. Look syscalls up through compiler/syscalls/lookup.ts.',
    "import type { SyscallInfo } from './types.ts';",
    '',
    'export const SYSCALL_TABLE: readonly SyscallInfo[] = [',
  ];
  for (const s of syscalls) {
    const parts = [`name: ${tsString(s.name)}`, `nr: ${s.nr}`, `arity: ${s.arity}`];
    if (s.detailed) {
      parts.push(s.params.length === 0 ? 'params: []' : `params: [\n    ${s.params.map(renderParamTs).join(',\n    ')},\n  ]`);
    } else {
      parts.push(`params: [${s.params.map(renderParamTs).join(', ')}]`);
    }
    parts.push(`detailed: ${s.detailed}`, `effect: ${tsString(s.effect)}`);
    if (s.fdParam !== undefined) parts.push(`fdParam: ${s.fdParam}`);
    if (s.returnsFd) parts.push('returnsFd: true');
    out.push(`  { ${parts.join(', ')} },`);
  }
  out.push('];', '');
  return out.join('\n');
}

const C_KIND: Record<ParamKind, string> = {
  fd: 'MVR_P_FD',
  int: 'MVR_P_INT',
  size: 'MVR_P_SIZE',
  flags: 'MVR_P_FLAGS',
  ptr: 'MVR_P_PTR',
  in_bytes: 'MVR_P_IN_BYTES',
  out_bytes: 'MVR_P_OUT_BYTES',
  path: 'MVR_P_PATH',
  in_struct: 'MVR_P_IN_STRUCT',
  out_struct: 'MVR_P_OUT_STRUCT',
};
const C_EFFECT: Record<EffectClass, string> = {
  local: 'MVR_E_LOCAL',
  readonly: 'MVR_E_READONLY',
  external: 'MVR_E_EXTERNAL',
};

/** The C header: the same table indexed by syscall number. */
export function renderC(syscalls: readonly SyscallInfo[]): string {
  const max = syscalls.reduce((m, s) => Math.max(m, s.nr), -1) + 1;
  const out: string[] = [
    `/* mvr_syscalls.h — the x86-64 syscall table for the runtime. Generated by scripts/gen-syscalls.ts`,
    ` * from ${TSV_PATH} (which documents every field); do not edit, change the TSV and rerun`,
    ' * `npx tsx scripts/gen-syscalls.ts`.',
    ' *',
    ' * Buffer lengths: a parameter with len_param >= 0 has the length given by that parameter: its value',
    ' * when it is MVR_P_SIZE, or the socklen_t it points to when it is a 4-byte MVR_P_OUT_STRUCT',
    ' * (value-result, as in accept). With fixed_size as well, the length counts elements of fixed_size',
    ' * bytes. len_from_ret: the bytes (or elements) written are the return value. */',
    '#ifndef MVR_SYSCALLS_H',
    '#define MVR_SYSCALLS_H',
    '',
    '#include <stddef.h>',
    '#include <stdint.h>',
    '',
    'enum mvr_param_kind {',
    '  MVR_P_NONE, MVR_P_FD, MVR_P_INT, MVR_P_SIZE, MVR_P_FLAGS, MVR_P_PTR,',
    '  MVR_P_IN_BYTES, MVR_P_OUT_BYTES, MVR_P_PATH, MVR_P_IN_STRUCT, MVR_P_OUT_STRUCT',
    '};',
    '',
    '/* local: only the calling process; readonly: observes the world; external: visible outside. */',
    'enum mvr_effect { MVR_E_LOCAL, MVR_E_READONLY, MVR_E_EXTERNAL };',
    '',
    'struct mvr_param {',
    '  uint8_t kind;         /* enum mvr_param_kind; MVR_P_NONE past nargs */',
    '  int8_t len_param;     /* index of the length parameter, or -1 */',
    '  uint8_t len_from_ret; /* bytes (or elements) written = return value */',
    '  uint32_t fixed_size;  /* structure size, or element size with len_param; 0 = none */',
    '};',
    '',
    'struct mvr_syscall_info {',
    '  const char *name;   /* NULL: no syscall has this number */',
    '  uint8_t nargs;',
    '  uint8_t effect;     /* enum mvr_effect */',
    '  int8_t fd_param;    /* the fd the effect applies to, or -1 */',
    '  uint8_t returns_fd; /* the return value is a new fd */',
    '  uint8_t detailed;   /* 0: parameters undescribed (all MVR_P_INT) */',
    '  struct mvr_param params[6];',
    '};',
    '',
    `#define MVR_SYSCALL_MAX ${max}`,
    '',
    '/* Indexed by syscall number. Included by several translation units, hence static and unused. */',
    'static const struct mvr_syscall_info mvr_syscall_table[MVR_SYSCALL_MAX] __attribute__((unused)) = {',
  ];
  for (const s of syscalls) {
    const params = s.params.map(
      (p) =>
        `{ ${C_KIND[p.kind]}, ${p.lenParam ?? -1}, ${p.lenFromRet ? 1 : 0}, ${p.fixedSize ?? 0} }`,
    );
    const fields = [
      `.name = "${s.name}"`,
      `.nargs = ${s.arity}`,
      `.effect = ${C_EFFECT[s.effect]}`,
      `.fd_param = ${s.fdParam ?? -1}`,
      `.returns_fd = ${s.returnsFd ? 1 : 0}`,
      `.detailed = ${s.detailed ? 1 : 0}`,
    ];
    if (params.length > 0) fields.push(`.params = { ${params.join(', ')} }`);
    out.push(`  [${s.nr}] = { ${fields.join(', ')} },`);
  }
  out.push(
    '};',
    '',
    '/* The entry for a syscall number, or NULL when the number is unknown. */',
    'static inline const struct mvr_syscall_info *mvr_syscall_lookup(long nr) {',
    '  if (nr < 0 || nr >= MVR_SYSCALL_MAX || mvr_syscall_table[nr].name == NULL) return NULL;',
    '  return &mvr_syscall_table[nr];',
    '}',
    '',
    '#endif /* MVR_SYSCALLS_H */',
    '',
  );
  return out.join('\n');
}

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    process.stderr.write(`gen-syscalls: unknown argument '${unknown[0]}'\nusage: gen-syscalls [--check]\n`);
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(ROOT + TSV_PATH, 'utf8');
  } catch (e) {
    process.stderr.write(`gen-syscalls: cannot read ${TSV_PATH}: ${(e as Error).message}\n`);
    return 2;
  }
  const { syscalls, errors } = parseSyscallTsv(text);
  if (errors.length > 0) {
    process.stderr.write(errors.join('\n') + '\n');
    return 1;
  }
  const outputs: [string, string][] = [
    [TS_OUT_PATH, renderTs(syscalls)],
    [C_OUT_PATH, renderC(syscalls)],
    ['runtime-c/include/mvr_default_match.h', renderDefaultMatchHeader(syscalls)],
  ];
  let stale = 0;
  for (const [path, content] of outputs) {
    let current: string | undefined;
    try {
      current = readFileSync(ROOT + path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === content) continue;
    if (check) {
      process.stderr.write(`gen-syscalls: ${path} is out of date; run npx tsx scripts/gen-syscalls.ts\n`);
      stale++;
      continue;
    }
    try {
      writeFileSync(ROOT + path, content);
    } catch (e) {
      process.stderr.write(`gen-syscalls: cannot write ${path}: ${(e as Error).message}\n`);
      return 2;
    }
    process.stdout.write(`gen-syscalls: wrote ${path}\n`);
  }
  return stale > 0 ? 1 : 0;
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(fileURLToPath(import.meta.url)) === realpathSync(script);
  } catch {
    return false;
  }
}

if (isMainModule()) {
  process.exitCode = main(process.argv.slice(2));
}
