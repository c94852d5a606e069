// Runs every benchmark in bench/ in turn (npm run bench). Each prints its own figures and ratios.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv[2];
for (const f of readdirSync(here).filter((f) => f.endsWith('-bench.mjs')).sort()) {
  if (only && !f.startsWith(only)) continue;
  console.log(`\n=== ${f}`);
  const r = spawnSync(process.execPath, [join(here, f)], { stdio: 'inherit' });
  if (r.status !== 0) console.log(`(${f} exited with ${r.status})`);
}
