// Bundles the CLI into one file (fast start-up: one module to load, no resolution at run time).
// Runs on `npm install` (prepare) so that `npx mvrc` works right after a clone + install.
import { build } from 'esbuild';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';

// The TypeScript compiler API (~9 MB) is needed only by rules with typed blocks. It stays an
// external runtime dependency and is loaded on first use: the bundle sees a proxy whose first
// property access requires the real module. `__esModule` is answered without loading so that
// esbuild's interop helper does not trigger the load at start-up.
const lazyTypeScript = {
  name: 'lazy-typescript',
  setup(b) {
    b.onResolve({ filter: /^typescript$/ }, (args) => (args.namespace === 'lazy-ts' ? { path: 'typescript', external: true } : { path: 'typescript', namespace: 'lazy-ts' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-ts' }, () => ({
      contents: `let real;
const load = () => (real ??= loadTypeScript());
// Node 20 has no built-in compile cache: compiling typescript.js (~9 MB) takes ~150 ms, so its
// V8 code cache is kept under the user's cache directory (keyed by Node version, file size and
// mtime). Any problem falls back to a plain require.
function loadTypeScript() {
  try {
    const fs = require('node:fs'), path = require('node:path'), vm = require('node:vm'), os = require('node:os'), Module = require('node:module');
    const file = require.resolve('typescript');
    const st = fs.statSync(file);
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    const cacheFile = path.join(base, 'mvrc', 'typescript-' + process.version + '-' + st.size + '-' + Math.floor(st.mtimeMs) + '.v8cache');
    let cached;
    try { cached = fs.readFileSync(cacheFile); } catch {}
    const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData: cached });
    const mod = { exports: {} };
    script.runInThisContext().call(mod.exports, mod.exports, require, mod, file, path.dirname(file));
    if (!cached || script.cachedDataRejected) {
      try {
        fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
        const tmp = cacheFile + '.' + process.pid;
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
      } catch {}
    }
    return mod.exports;
  } catch {
    return require('typescript');
  }
}
module.exports = new Proxy({}, {
  get: (_t, key) => (key === '__esModule' ? false : load()[key]),
  has: (_t, key) => key in load(),
});`,
      loader: 'js',
    }));
  },
};

// Chevrotain's Lexer constructor first fills a 65,536-entry array mapping char codes above 255 to
// `255 + floor(code / 255)` (its "optimized index"), in a loop that runs interpreted at start-up:
// ~10 ms of the CPU `mvrc check` spends on a small file, for a table a division replaces. The
// bundle computes the index instead and never fills the table (same values; chevrotain reads the
// table only through charCodeToOptimizedIndex). The build fails if chevrotain's code changes.
const chevrotainCharIndex = {
  name: 'chevrotain-char-index',
  setup(b) {
    b.onLoad({ filter: /chevrotain[\\/]lib[\\/]src[\\/]scan[\\/]lexer\.js$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      for (const [from, to] of [
        ['        : charCodeToOptimizedIdxMap[charCode];', '        : 255 + ~~(charCode / 255);'],
        ['    if (isEmpty(charCodeToOptimizedIdxMap)) {', '    if (false) {'],
      ]) {
        if (!text.includes(from)) throw new Error(`scripts/build.mjs: chevrotain's lexer.js changed (no '${from.trim()}'): update the chevrotain-char-index plugin`);
        text = text.replace(from, to);
      }
      return { contents: text, loader: 'js' };
    });
  },
};

// `mvrc check` and `mvrc fmt` (the commands a rule author runs most, often from an editor's save
// hook) get a bundle of their own: the same entry with every other command's module left out, so
// that V8 reads, deserializes and runs ~40% less code at their start-up (the trace readers, the
// interpreter, the C generator's back end, the runtime driver, the language server's services).
// dist/mvrc.cjs picks the bundle from the command name.
const FRONT_COMMANDS = ['check', 'fmt'];
const backEndCommands = {
  name: 'back-end-commands',
  setup(b) {
    b.onResolve({ filter: /^\.\/[a-z-]+\.ts$/ }, (args) => {
      if (!/compiler[\\/]cli[\\/]main\.ts$/.test(args.importer)) return undefined;
      const name = args.path.slice(2, -3);
      if (FRONT_COMMANDS.includes(name) || name === 'types') return undefined;
      return { path: name, namespace: 'back-end-command' };
    });
    b.onLoad({ filter: /.*/, namespace: 'back-end-command' }, (args) => ({
      // Never reached: dist/mvrc.cjs runs this bundle only for the front commands.
      contents: `export async function run() { throw new Error('mvrc ${'${args.path}'} is not in the check bundle (dist/mvrc-check.cjs)'); }`,
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // The protocol library of `mvrc lsp` (~215 KB minified) stays a runtime dependency, required
  // only when the lsp command's module is first run: bundled, V8 would parse it at every start of
  // every command (~10-15 ms of `mvrc check`'s start-up for a command it never runs).
  external: ['vscode-languageserver', 'vscode-languageserver/node', 'vscode-languageserver-textdocument'],
  define: { 'process.env.MVRC_SKIP_GRAMMAR_VALIDATION': '"1"' },
  minify: true,
  sourcemap: 'linked',
  logLevel: 'warning',
};
await build({ ...common, entryPoints: ['compiler/cli/main.ts'], outfile: 'dist/mvrc-check.cjs', plugins: [lazyTypeScript, chevrotainCharIndex, backEndCommands] });
await build({
  entryPoints: ['compiler/cli/main.ts'],
  outfile: 'dist/mvrc-bundle.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  plugins: [lazyTypeScript, chevrotainCharIndex],
  // The protocol library of `mvrc lsp` (~215 KB minified) stays a runtime dependency, required
  // only when the lsp command's module is first run: bundled, V8 would parse it at every start of
  // every command (~10-15 ms of `mvrc check`'s start-up for a command it never runs).
  external: ['vscode-languageserver', 'vscode-languageserver/node', 'vscode-languageserver-textdocument'],
  define: { 'process.env.MVRC_SKIP_GRAMMAR_VALIDATION': '"1"' },
  minify: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});

// dist/mvrc.cjs runs the bundle with a V8 code cache, for the same reason as TypeScript above:
// Node 20 compiles the bundle's functions anew on every start (~30-40 ms of the ~150 ms a small
// \`mvrc check\` may take). The cache is written once per Node version and bundle, after a run
// (then it holds the functions that run compiled); any problem falls back to a plain require.
// The cache's name carries a hash of the bundle's path: several installations (a global one, a
// project's, several checkouts) share the user's cache directory, and each removes only its own
// earlier caches — keyed by size and mtime alone, each one's cleanup deleted the others' cache,
// so every run compiled the bundle anew.
writeFileSync(
  'dist/mvrc.cjs',
  `#!/usr/bin/env node
'use strict';
const fs = require('node:fs'), path = require('node:path'), vm = require('node:vm'), os = require('node:os'), Module = require('node:module');
// check and fmt run their own, smaller bundle (see FRONT_COMMANDS in scripts/build.mjs).
const file = path.join(__dirname, ${JSON.stringify(FRONT_COMMANDS)}.includes(process.argv[2]) ? 'mvrc-check.cjs' : 'mvrc-bundle.cjs');
let script, cacheFile, cached, h;
try {
  const st = fs.statSync(file);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  h = 0x811c9dc5;
  for (let i = 0; i < file.length; i++) h = Math.imul(h ^ file.charCodeAt(i), 0x01000193) >>> 0;
  cacheFile = path.join(base, 'mvrc', 'mvrc-' + h.toString(16) + '-' + process.version + '-' + st.size + '-' + Math.floor(st.mtimeMs) + '.v8cache');
  try { cached = fs.readFileSync(cacheFile); } catch {}
  script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData: cached });
} catch {
  script = undefined;
}
if (!script) {
  require(file);
} else {
  // The bundle runs as this module (its entry check is require.main === module).
  const req = Module.createRequire(file);
  req.main = module;
  // The cache holds the functions this run compiled: one written by \`mvrc --version\` would leave
  // every later check to compile its front end again (~30 ms). So a run that only prints help or
  // the version leaves the writing to the next real command.
  const trivial = process.argv.length <= 2 || /^(--version|-V|--help|-h|help)$/.test(process.argv[2]);
  if ((!cached || script.cachedDataRejected) && !trivial) {
    process.on('exit', () => {
      try {
        fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
        const tmp = cacheFile + '.' + process.pid;
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
        // Caches of this installation's earlier builds are never read again (other
        // installations' caches, with another path hash, are theirs to remove).
        const own = 'mvrc-' + h.toString(16) + '-';
        for (const f of fs.readdirSync(path.dirname(cacheFile))) {
          if (f.startsWith(own) && f.endsWith('.v8cache') && f !== path.basename(cacheFile)) fs.rmSync(path.join(path.dirname(cacheFile), f), { force: true });
        }
      } catch {}
    });
  }
  script.runInThisContext().call(module.exports, module.exports, req, module, file, __dirname);
}
`,
);
chmodSync('dist/mvrc.cjs', 0o755);

// Write the V8 code cache of this build now, from a real command (a check of the std rule files),
// so that the first command a user types starts from a cache holding the front end. Best effort:
// a build without a writable cache directory still works, it compiles on first use.
{
  const { spawnSync } = await import('node:child_process');
  const { readdirSync } = await import('node:fs');
  const std = readdirSync('stdlib-rules').filter((f) => f.endsWith('.mvr')).map((f) => `stdlib-rules/${f}`);
  spawnSync(process.execPath, ['dist/mvrc.cjs', 'check', '--no-warnings', ...std], { stdio: 'ignore' });
  // The full bundle's cache, from a command only it runs (compile: the back end).
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const out = mkdtempSync(`${tmpdir()}/mvrc-build-`);
  spawnSync(process.execPath, ['dist/mvrc.cjs', 'compile', std[0], '-o', out], { stdio: 'ignore' });
  rmSync(out, { recursive: true, force: true });
}
