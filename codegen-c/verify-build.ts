// Builds the native `mvrc verify` program for a rule file: the module `mvrc build` generates
// (emitC: the same rules.c, with the runtime's matcher) compiled into one program with
// runtime-c/verify/mvr_verify.c, which drives it over the events compiler/traces/native.ts streams
// to it. Programs are cached by a hash of everything that goes into them (the generated files, the
// runtime headers, mvr_verify.c, the compiler's identity and flags) under $XDG_CACHE_HOME/mvrc, as
// the runtime is (runtime-build.ts), so verifying again with the same rules compiles nothing; a
// rule file with #include items is built afresh each time (its headers are not part of the hash).
// C errors in rule blocks are diagnostics at their .mvr positions, as in `mvrc build`.
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Automaton } from '../compiler/lower/automaton.ts';
import type { Program } from '../compiler/check/program-types.ts';
import { Diag } from '../compiler/core/diagnostic-messages.ts';
import { DiagnosticBag, type Diagnostic } from '../compiler/core/diagnostics.ts';
import { CFLAGS, parseCcOutput, runtimeIncludeDir } from './cc.ts';
import { emitC } from './emit.ts';
import { defaultCacheDir, defaultRuntimeSourceDir } from './runtime-build.ts';

export interface VerifierBuild {
  /** The program, when it was built (or found in the cache). */
  exe?: string;
  /** No C compiler could be started: the caller falls back to the interpreter. */
  notFound: boolean;
  /** The compiler's findings (C errors in rule blocks: MVR5001 at the .mvr line). */
  diagnostics: Diagnostic[];
  /** True when this call compiled it. */
  built: boolean;
  /** A directory to remove after the run (an uncached build). */
  scratch?: string;
}

export interface VerifierBuildOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  cacheDir?: string;
}

// No -fPIC: a program. -O2 as the runtime's modules are built.
const VERIFY_CFLAGS = CFLAGS.filter((f) => f !== '-fPIC');

export function verifierSource(): string {
  return path.join(defaultRuntimeSourceDir(), 'verify', 'mvr_verify.c');
}

function compilerId(cc: string, env: NodeJS.ProcessEnv): string | Error {
  const [cmd, ...pre] = cc.trim().split(/\s+/);
  try {
    return execFileSync(cmd ?? 'cc', [...pre, '--version'], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0] ?? cc;
  } catch (e) {
    return e as Error;
  }
}

export function buildVerifier(program: Program, automaton: Automaton, opts: VerifierBuildOptions = {}): VerifierBuild {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const cc = env['CC'] || 'cc';
  const entry = program.files[0]?.path ?? '';
  const id = compilerId(cc, env);
  if (id instanceof Error) {
    const bag = new DiagnosticBag();
    const e = id as NodeJS.ErrnoException;
    bag.add(Diag.CCompilerNotFound, entry, { offset: 0, length: 0 }, [cc, e.code === 'ENOENT' ? 'not found' : e.message]);
    return { notFound: true, diagnostics: bag.items, built: false };
  }
  const { files, manifest } = emitC(program, automaton, { moduleName: 'rules' });
  const inc = runtimeIncludeDir();
  const src = verifierSource();
  const headers = ['mvr_rules.h', ...manifest.runtimeHeaders];
  const h = createHash('sha256');
  h.update(`${id}\n${VERIFY_CFLAGS.join(' ')}\n`);
  for (const [name, text] of [...files].sort(([a], [b]) => a.localeCompare(b))) h.update(`${name}\n${text}\n`);
  for (const f of [...headers.map((x) => path.join(inc, x)), src]) h.update(`${path.basename(f)}\n${readFileSync(f, 'latin1')}\n`, 'latin1');
  const key = h.digest('hex').slice(0, 20);
  const cached = program.includes.length === 0;
  const root = opts.cacheDir ?? defaultCacheDir(env);
  const dir = path.join(root, `verify-${key}`);
  const exe = path.join(dir, 'mvr-verify');
  if (cached && existsSync(exe)) return { exe, notFound: false, diagnostics: [], built: false };

  mkdirSync(root, { recursive: true });
  const tmp = mkdtempSync(path.join(root, `.build-verify-${key}-`));
  for (const [name, text] of files) writeFileSync(path.join(tmp, name), text);
  const incs = [tmp, inc, ...manifest.includeDirs.map((d) => path.resolve(cwd, d))].flatMap((d) => ['-I', d]);
  const [cmd, ...pre] = cc.trim().split(/\s+/);
  const args = [...pre, ...VERIFY_CFLAGS, '-fdiagnostics-color=never', ...incs, src, '-o', path.join(tmp, 'mvr-verify')];
  let r = spawnSync(cmd ?? 'cc', ['-fdiagnostics-column-unit=byte', ...args], { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 && /-fdiagnostics-column-unit/.test(r.stderr ?? '')) r = spawnSync(cmd ?? 'cc', args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    const stderr = r.stderr ?? '';
    let diagnostics = parseCcOutput(stderr, program.sources, entry, cwd);
    if (!diagnostics.some((d) => d.severity === 'error')) {
      const bag = new DiagnosticBag();
      bag.add(Diag.CCompilerFailed, entry, { offset: 0, length: 0 }, [stderr.trim().split('\n').slice(0, 5).join('; ') || r.error?.message || `exit status ${r.status}`]);
      diagnostics = [...diagnostics, ...bag.items];
    }
    return { notFound: false, diagnostics, built: false };
  }
  if (!cached) return { exe: path.join(tmp, 'mvr-verify'), notFound: false, diagnostics: [], built: true, scratch: tmp };
  try {
    renameSync(tmp, dir);
  } catch (e) {
    // Another verify of the same rules won the race: use its program.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(exe)) throw e;
  }
  return { exe, notFound: false, diagnostics: [], built: true };
}
