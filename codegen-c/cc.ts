// The C compiler driver: builds a compiled rule module (DIR/rules.c) into DIR/rules.o and
// DIR/rules.so, and turns the compiler's `file:line:col: error: msg` lines that point into .mvr
// files (thanks to the #line directives of codegen-c/emit.ts) into diagnostics MVR5001/MVR5002
// with the right span. Anything else the compiler says becomes MVR5003; a compiler that cannot be
// started is MVR5004.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Diag } from '../compiler/core/diagnostic-messages.ts';
import { DiagnosticBag, type Diagnostic } from '../compiler/core/diagnostics.ts';

export const CFLAGS = ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-fPIC'];

/** runtime-c/include (mvr_rules.h, mvr_typed.h): beside this module's directory, from the
 *  TypeScript sources (ESM) and from the CommonJS bundle (dist/) alike. */
export function runtimeIncludeDir(): string {
  const env = process.env['MVRC_RUNTIME_INCLUDE'];
  if (env) return env;
  if (typeof __dirname === 'string') return path.resolve(__dirname, '..', 'runtime-c', 'include');
  try {
    return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'runtime-c', 'include');
  } catch {
    return path.resolve('runtime-c', 'include');
  }
}

export interface CcOptions {
  /** The compiler command (default: $CC, else `cc`). */
  cc?: string;
  env?: NodeJS.ProcessEnv;
  /** Working directory: file names in #line directives are relative to it. */
  cwd?: string;
  /** Extra -I directories (those of .mvr files with #include items). */
  includeDirs?: string[];
  /** Source text by .mvr path, to map line:column to spans. */
  sources: ReadonlyMap<string, string>;
  /** The entry .mvr file: where problems that are not in any .mvr file are reported. */
  entry: string;
}

export interface CcResult {
  ok: boolean;
  /** The compiler could not be started at all. */
  notFound: boolean;
  diagnostics: Diagnostic[];
  stderr: string;
}

const MSG_RE = /^(.*?):(\d+):(\d+): (fatal error|error|warning): (.*)$/;

/** The offset of 1-based `line` and byte `column` in `text` (columns count UTF-8 bytes). */
export function offsetOf(text: string, line: number, byteColumn: number): number {
  let off = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.slice(off).search(/\r\n|\r|\n/);
    if (nl < 0) return text.length;
    off += nl + (text.startsWith('\r\n', off + nl) ? 2 : 1);
  }
  const end = text.slice(off).search(/\r|\n/);
  const lineText = end < 0 ? text.slice(off) : text.slice(off, off + end);
  const enc = new TextEncoder();
  let bytes = 0;
  let i = 0;
  while (i < lineText.length && bytes < byteColumn - 1) {
    const cp = lineText.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    bytes += enc.encode(ch).length;
    i += ch.length;
  }
  return off + i;
}

/** Parses compiler output. Messages in .mvr files get MVR5001 (errors) / MVR5002 (warnings, also
 *  those promoted by -Werror); the rest is MVR5003 at the start of the entry file. */
export function parseCcOutput(stderr: string, sources: ReadonlyMap<string, string>, entry: string, cwd = '.'): Diagnostic[] {
  const bag = new DiagnosticBag();
  const byPath = new Map<string, string>();
  for (const k of sources.keys()) {
    byPath.set(k, k);
    byPath.set(path.resolve(cwd, k), k);
  }
  for (const line of stderr.split('\n')) {
    const m = MSG_RE.exec(line);
    if (!m) continue;
    const [, file, ln, col, sev, msg] = m as unknown as [string, string, string, string, string, string];
    const src = byPath.get(file) ?? byPath.get(path.resolve(cwd, file));
    const promoted = /\[-Werror(=[^\]]*)?\]$/.test(msg);
    if (src !== undefined) {
      const text = sources.get(src)!;
      const off = offsetOf(text, Number(ln), Number(col));
      let len = 1;
      while (off + len < text.length && /[A-Za-z0-9_]/.test(text[off]!) && /[A-Za-z0-9_]/.test(text[off + len]!)) len++;
      const tpl = sev === 'warning' || promoted ? Diag.CCompileWarning : Diag.CCompileError;
      bag.add(tpl, src, { offset: Math.min(off, text.length), length: off < text.length ? len : 0 }, [msg]);
    } else {
      bag.add(Diag.CCompilerFailed, entry, { offset: 0, length: 0 }, [`${file}:${ln}:${col}: ${sev}: ${msg}`]);
    }
  }
  return bag.items;
}

/** Runs the compiler; `cc` may carry its own arguments (CC="gcc -m64"). */
function run(cc: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, input?: string) {
  const [cmd, ...pre] = cc.trim().split(/\s+/);
  return spawnSync(cmd ?? 'cc', [...pre, ...args], { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...(input !== undefined ? { input } : {}) });
}

/**
 * `mvrc check`: compiles the C blocks of a rule file (codegen-c/emit.ts emitCBlockCheck) with
 * `-fsyntax-only`, reading the text from standard input, so that C errors are reported at check
 * time with the same codes and .mvr positions as at build. One compiler run per file.
 */
export function checkCBlocks(text: string, opts: CcOptions): CcResult {
  const env = opts.env ?? process.env;
  const cc = opts.cc ?? (env['CC'] || 'cc');
  const cwd = opts.cwd ?? process.cwd();
  const incs = [runtimeIncludeDir(), ...(opts.includeDirs ?? []).map((d) => path.resolve(cwd, d))].flatMap((d) => ['-I', d]);
  const base = CFLAGS.filter((f) => f !== '-O2' && f !== '-fPIC');
  const tail = ['-fsyntax-only', ...incs, '-x', 'c', '-'];
  let r = run(cc, [...base, '-fdiagnostics-column-unit=byte', '-fdiagnostics-color=never', ...tail], cwd, env, text);
  if (r.error) {
    // No compiler is not a finding in the rules: a note says what was left unchecked.
    const e = r.error as NodeJS.ErrnoException;
    const bag = new DiagnosticBag();
    bag.add(Diag.CBlocksNotChecked, opts.entry, { offset: 0, length: 0 }, [cc, e.code === 'ENOENT' ? 'not found' : e.message]);
    return { ok: true, notFound: true, diagnostics: bag.items, stderr: '' };
  }
  if (r.status !== 0 && /-fdiagnostics-column-unit/.test(r.stderr ?? '')) r = run(cc, [...base, ...tail], cwd, env, text);
  const stderr = r.stderr ?? '';
  let diagnostics = parseCcOutput(stderr, opts.sources, opts.entry, cwd);
  if (r.status !== 0 && !diagnostics.some((d) => d.severity === 'error')) {
    diagnostics = [...diagnostics, ...failed(stderr.trim().split('\n').slice(0, 5).join('; ') || `exit status ${r.status}`, opts)];
  }
  return { ok: r.status === 0, notFound: false, diagnostics, stderr };
}

/** Compiles DIR/rules.c to DIR/rules.o and links DIR/rules.so. */
export function buildModule(dir: string, opts: CcOptions): CcResult {
  const env = opts.env ?? process.env;
  const cc = opts.cc ?? (env['CC'] || 'cc');
  const cwd = opts.cwd ?? process.cwd();
  const incs = [dir, runtimeIncludeDir(), ...(opts.includeDirs ?? []).map((d) => path.resolve(cwd, d))].flatMap((d) => ['-I', d]);
  const obj = path.join(dir, 'rules.o');
  const so = path.join(dir, 'rules.so');
  // Byte columns make the #line mapping exact; compilers without the option (clang) count bytes anyway.
  let flags = [...CFLAGS, '-fdiagnostics-column-unit=byte', '-fdiagnostics-color=never'];
  let r = run(cc, [...flags, ...incs, '-c', path.join(dir, 'rules.c'), '-o', obj], cwd, env);
  if (r.error) return notFound(cc, r.error, opts);
  if (r.status !== 0 && /-fdiagnostics-column-unit/.test(r.stderr ?? '')) {
    flags = [...CFLAGS];
    r = run(cc, [...flags, ...incs, '-c', path.join(dir, 'rules.c'), '-o', obj], cwd, env);
  }
  let stderr = r.stderr ?? '';
  let diagnostics = parseCcOutput(stderr, opts.sources, opts.entry, cwd);
  if (r.status === 0) {
    const l = run(cc, ['-shared', '-o', so, obj], cwd, env);
    if (l.error) return notFound(cc, l.error, opts);
    stderr += l.stderr ?? '';
    if (l.status !== 0) {
      diagnostics = [...diagnostics, ...failed(l.stderr || `exit status ${l.status}`, opts)];
      return { ok: false, notFound: false, diagnostics, stderr };
    }
    return { ok: true, notFound: false, diagnostics, stderr };
  }
  if (!diagnostics.some((d) => d.severity === 'error')) diagnostics = [...diagnostics, ...failed(stderr.trim().split('\n').slice(0, 5).join('; ') || `exit status ${r.status}`, opts)];
  return { ok: false, notFound: false, diagnostics, stderr };
}

function failed(msg: string, opts: CcOptions): Diagnostic[] {
  const bag = new DiagnosticBag();
  bag.add(Diag.CCompilerFailed, opts.entry, { offset: 0, length: 0 }, [msg]);
  return bag.items;
}

function notFound(cc: string, err: Error, opts: CcOptions): CcResult {
  const bag = new DiagnosticBag();
  const e = err as NodeJS.ErrnoException;
  bag.add(Diag.CCompilerNotFound, opts.entry, { offset: 0, length: 0 }, [cc, e.code === 'ENOENT' ? 'not found' : e.message]);
  return { ok: false, notFound: true, diagnostics: bag.items, stderr: '' };
}
