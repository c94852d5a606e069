// Bundles the CLI into one file (fast start-up: one module to load, no resolution at run time).
// Runs on `npm install` (prepare) so that `npx mvrc` works right after a clone + install.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

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
const load = () => (real ??= require('typescript'));
module.exports = new Proxy({}, {
  get: (_t, key) => (key === '__esModule' ? false : load()[key]),
  has: (_t, key) => key in load(),
});`,
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: ['compiler/cli.ts'],
  outfile: 'dist/mvrc.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  banner: { js: '#!/usr/bin/env node' },
  plugins: [lazyTypeScript],
  define: { 'process.env.MVRC_SKIP_GRAMMAR_VALIDATION': '"1"' },
  minify: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});
chmodSync('dist/mvrc.cjs', 0o755);
