// Bundles the CLI into one file (fast start-up: one module to load, no resolution at run time).
// Runs on `npm install` (prepare) so that `npx mvrc` works right after a clone + install.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

await build({
  entryPoints: ['compiler/cli.ts'],
  outfile: 'dist/mvrc.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  banner: { js: '#!/usr/bin/env node' },
  // The TypeScript compiler API is large and only needed for typed blocks; it stays a
  // runtime dependency loaded on first use instead of being inlined into the bundle.
  external: ['typescript'],
  sourcemap: 'linked',
  logLevel: 'warning',
});
chmodSync('dist/mvrc.cjs', 0o755);
