// Start-up of the CLI: the TypeScript compiler API (~9 MB) is loaded only for files with typed
// blocks (scripts/build.mjs makes the import lazy; any eager use would load it for every command).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, mvrc, tempDir } from './helpers/cli.ts';

describe('CLI start-up', function () {
  this.timeout(60_000);
  const dir = tempDir('mvrc-startup-');
  // Preloaded into the CLI's process: reports on exit whether anything resolved 'typescript'.
  const hook = join(dir, 'hook.cjs');
  writeFileSync(
    hook,
    `const M = require('node:module'); const orig = M._resolveFilename; let ts = false;
M._resolveFilename = function (req, ...rest) { if (req === 'typescript') ts = true; return orig.call(this, req, ...rest); };
process.on('exit', () => process.stderr.write(ts ? 'TYPESCRIPT-LOADED\\n' : 'TYPESCRIPT-NOT-LOADED\\n'));\n`,
  );
  const run = (args: string[]) => mvrc(args, { cwd: dir, env: { NODE_OPTIONS: `--require ${hook}` } });
  // A copy of the built CLI in directory d (another installation); `note` makes its bundles differ.
  const install = (d: string, note?: string) => {
    mkdirSync(d, { recursive: true });
    copyFileSync(CLI, join(d, 'mvrc.cjs'));
    for (const bundle of ['mvrc-bundle.cjs', 'mvrc-check.cjs']) {
      copyFileSync(join(CLI, '..', bundle), join(d, bundle));
      if (note) appendFileSync(join(d, bundle), `\n// ${note}\n`);
    }
    return join(d, 'mvrc.cjs');
  };

  it('check, compile and build of a file without typed blocks never load TypeScript', () => {
    writeFileSync(join(dir, 'plain.mvr'), 'open(_,_,_) => dup(_), lseek(_,_,_)\nread(fd,s,n) {{ return n > 0; }} => read(fd,s,n)\nwrite(1,"x",_) => nothing\n');
    for (const args of [['check', 'plain.mvr'], ['build', 'plain.mvr', '-o', 'out'], ['fmt', 'plain.mvr'], ['--help']]) {
      const r = run(args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
      expect(r.stderr, args.join(' ')).to.contain('TYPESCRIPT-NOT-LOADED');
    }
  });

  it('a file with a typed block does load it (the hook sees the load)', () => {
    writeFileSync(join(dir, 'typed.mvr'), 'read(fd, s, _) if (s.startsWith("A")) as r => r(fd, "b", 1)\n');
    const r = run(['check', 'typed.mvr']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('TYPESCRIPT-LOADED');
  });

  it('two installations keep their own V8 code caches in the shared cache directory', () => {
    // Two copies of the CLI whose bundles differ (two checkouts, a global and a project install):
    // each run writes its cache and removes only its own earlier ones, so neither deletes the
    // other's and both start from a cache.
    const cache = join(dir, 'xdg-cache');
    const installs = ['a', 'b'].map((name) => {
      return install(join(dir, `install-${name}`), name === 'b' ? 'another build' : undefined);
    });
    writeFileSync(join(dir, 'one.mvr'), 'write(1,"x",_) => nothing\n');
    const runIn = (cli: string) => spawnSync(process.execPath, [cli, 'check', join(dir, 'one.mvr')], { env: { ...process.env, XDG_CACHE_HOME: cache }, encoding: 'utf8' });
    const caches = () => readdirSync(join(cache, 'mvrc')).filter((f) => f.endsWith('.v8cache'));
    for (const cli of [...installs, ...installs]) expect(runIn(cli).status).to.equal(0);
    expect(caches()).to.have.length(2);
  });

  it('a first run that only prints the version leaves the code cache to the next real command', () => {
    // A cache written by `--version` holds none of the front end, and every later check would
    // compile it again: the first real command writes it instead.
    const d = join(dir, 'install-c');
    install(d, 'a third build');
    const cache = join(dir, 'xdg-cache-c');
    const run = (args: string[]) => spawnSync(process.execPath, [join(d, 'mvrc.cjs'), ...args], { env: { ...process.env, XDG_CACHE_HOME: cache }, encoding: 'utf8' });
    const caches = () => {
      try {
        return readdirSync(join(cache, 'mvrc')).filter((f) => f.endsWith('.v8cache'));
      } catch {
        return [];
      }
    };
    expect(run(['--version']).status).to.equal(0);
    expect(caches(), 'after --version').to.have.length(0);
    writeFileSync(join(dir, 'two.mvr'), 'write(1,"y",_) => nothing\n');
    expect(run(['check', join(dir, 'two.mvr')]).status).to.equal(0);
    expect(caches(), 'after check').to.have.length(1);
  });

  it('check (its own, smaller bundle) and the other commands keep one code cache each', () => {
    // dist/mvrc.cjs runs dist/mvrc-check.cjs for check and fmt, dist/mvrc-bundle.cjs for the
    // rest: a graph or build must not remove the check bundle's cache (nor a check theirs), or
    // every check after a build would compile its front end again.
    const d = join(dir, 'install-d');
    const cli = install(d, 'a fourth build');
    const cache = join(dir, 'xdg-cache-d');
    writeFileSync(join(dir, 'three.mvr'), 'write(1,"z",_) => nothing\n');
    const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: dir, env: { ...process.env, XDG_CACHE_HOME: cache }, encoding: 'utf8' });
    const caches = () => readdirSync(join(cache, 'mvrc')).filter((f) => f.endsWith('.v8cache'));
    let r = run(['check', 'three.mvr']);
    expect(r.status, r.stderr).to.equal(0);
    expect(caches(), 'after check').to.have.length(1);
    r = run(['graph', 'three.mvr']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('digraph');
    expect(caches(), 'after graph').to.have.length(2);
    r = run(['fmt', 'three.mvr']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('write(1, "z", _) => nothing');
    expect(caches(), 'after fmt').to.have.length(2);
  });
});
