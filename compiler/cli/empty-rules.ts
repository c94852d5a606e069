// The rule module of an empty rule file: what the follower runs when `mvrc run` (or `mvrc ctl
// update`) gets no --rules. It is `mvrc build` of an empty program, the very generated C that the
// differential test (test/differential.test.ts) checks against the interpreter, so the runtime has
// a single matcher: the default rule applied by a generated module, with or without rules.
//
// Built once and cached like the runtime (codegen-c/runtime-build.ts): the generated files are
// emitted first (cheap), and the C compiler runs only when no module built from the same files,
// compiler and flags is in the cache ($XDG_CACHE_HOME/mvrc/rules-empty-KEY/rules.so).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildModule, CFLAGS } from '../../codegen-c/cc.ts';
import { defaultCacheDir } from '../../codegen-c/runtime-build.ts';
import { compileCommand } from './compile.ts';
import { EXIT_OK, type CliIO } from './types.ts';

/** The path of the empty rule file's rules.so, built or found in the cache; null when building it
 *  failed (reported on io.stderr). */
export function buildEmptyRules(io: CliIO, cacheDir: string = defaultCacheDir(io.env)): string | null {
  mkdirSync(cacheDir, { recursive: true });
  const tmp = mkdtempSync(path.join(cacheDir, '.rules-empty-'));
  try {
    // A relative entry in a private directory: nothing of the temporary path reaches the
    // generated files (#line directives name the entry), so equal inputs give equal keys.
    writeFileSync(path.join(tmp, 'empty.mvr'), '');
    const quiet: CliIO = { ...io, cwd: tmp, stdout: () => {}, stderr: () => {} };
    const out = path.join(tmp, 'module');
    const r = compileCommand(['empty.mvr', '-o', 'module'], quiet, 'build');
    if (r.status !== EXIT_OK) {
      io.stderr(`mvrc: error: cannot compile the empty rule file (exit status ${r.status})\n`);
      return null;
    }
    const cc = io.env['CC'] || 'cc';
    const h = createHash('sha256');
    h.update(`${compilerId(cc, io.env)}\n${CFLAGS.join(' ')}\n`);
    for (const f of readdirSync(out).sort()) {
      h.update(`${f}\n`);
      h.update(readFileSync(path.join(out, f)));
    }
    const dir = path.join(cacheDir, `rules-empty-${h.digest('hex').slice(0, 20)}`);
    const so = path.join(dir, 'rules.so');
    if (existsSync(so)) return so;
    const built = buildModule(out, { env: io.env, cwd: tmp, sources: r.program!.sources, entry: 'empty.mvr' });
    if (!built.ok) {
      io.stderr(`mvrc: error: cannot build the empty rule file's module:\n${built.stderr}\n`);
      return null;
    }
    try {
      renameSync(out, dir);
    } catch (e) {
      // Another build of the same files won the race: use it.
      if (!existsSync(so)) throw e;
    }
    return so;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function compilerId(cc: string, env: NodeJS.ProcessEnv): string {
  const [cmd, ...pre] = cc.trim().split(/\s+/);
  const r = spawnSync(cmd ?? 'cc', [...pre, '--version'], { env, encoding: 'utf8' });
  return r.status === 0 ? (r.stdout.split('\n')[0] ?? cc) : cc;
}
