// Runs one of the example update scripts N times, one after the other (the machine's cores are
// shared: never at once), and prints each try's outcome and, for a failed one, why: the lines the
// script printed about retirements, failed or wrong answers, lost keys, or its error.
//
//   npm run build && node bench/update-tries.mjs redis|memcached|nginx [--tries N] [-- ARGS...]
//
// ARGS go to the script (e.g. `-- --keys 100000`). Exit 0 when every try completed, 1 otherwise.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVERS = ['redis', 'memcached', 'nginx'];
const args = process.argv.slice(2);
const server = args[0];
let tries = 10;
const dash = args.indexOf('--');
const extra = dash >= 0 ? args.slice(dash + 1) : [];
const own = dash >= 0 ? args.slice(1, dash) : args.slice(1);
for (let i = 0; i < own.length; i++) {
  if (own[i] === '--tries' && /^\d+$/.test(own[i + 1] ?? '')) tries = Number(own[++i]);
  else usage(`bad argument '${own[i]}'`);
}
if (!SERVERS.includes(server)) usage(`the server must be one of ${SERVERS.join(', ')}`);

function usage(msg) {
  process.stderr.write(`update-tries: error: ${msg}\nusage: node bench/update-tries.mjs ${SERVERS.join('|')} [--tries N] [-- ARGS...]\n`);
  process.exit(2);
}

/** The lines of a failed try's output that say why. */
function why(out) {
  const keep = out.split('\n').filter((l) => /retired|did NOT|failed, [1-9]|[1-9]\d* wrong|read back intact \(|error|refused|gave up|divergence|hang|crash/i.test(l));
  return keep.slice(0, 8).join('\n    ') || out.trim().split('\n').slice(-5).join('\n    ');
}

const script = join(REPO, 'examples', server, 'update.ts');
let passed = 0;
const failures = [];
console.log(`${server}: ${tries} tries of examples/${server}/update.ts ${extra.join(' ')}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (let t = 1; t <= tries; t++) {
  const t0 = Date.now();
  const r = spawnSync('npx', ['tsx', script, ...extra], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const s = ((Date.now() - t0) / 1000).toFixed(0);
  const retried = /after (\d+) retired attempt/.exec(out);
  if (r.status === 0) {
    passed++;
    console.log(`try ${t}: passed (${s} s)${retried ? `, after ${retried[1]} retried attempt(s)` : ''}`);
  } else {
    failures.push(t);
    console.log(`try ${t}: FAILED (exit ${r.status}, ${s} s)\n    ${why(out)}`);
  }
}
console.log(`${server}: ${passed} of ${tries} passed${failures.length ? `; failed: tries ${failures.join(', ')}` : ''}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
process.exit(passed === tries ? 0 : 1);
