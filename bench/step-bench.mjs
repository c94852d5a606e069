// `npm run bench` runs *-bench.mjs with plain node: this runs step-bench.ts through tsx.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'step-bench.ts')], { stdio: 'inherit', cwd: join(here, '..') });
process.exit(r.status ?? 1);
