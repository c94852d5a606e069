// A live update of a running memcached between two of Debian's own builds, under checked load:
//
//   npx tsx examples/memcached/update.ts [--keys N] [--threads N] [--stop-after caught-up|commit]
//
// Fetches both builds (scripts/fetch-debian-build.sh: `apt-get download` + `dpkg -x`, nothing is
// installed): bookworm's 1.6.18-1 and the security update 1.6.18-1+deb12u1. Starts the old one
// (`-t 4` worker threads) as a single updatable leader (`mvrc run --control`), loads N keys, keeps 8
// checked clients running (client.ts: set/get/incr/delete/append and multi-key get, every answer
// compared with an exact model) while `mvrc ctl update --state replay` starts the new build beside
// it, promotes it and commits. At the end every loaded key is read back. Exits 0 only if the update
// completed with no failed or wrong answer and no lost key.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchBuild, liveUpdate, runMain } from '../lib/update.ts';
import { memcached } from './client.ts';

/** Debian bookworm's memcached 1.6.18 builds: the release and the security update (CVE fixes). */
export const RELEASES = { from: '1.6.18-1', to: '1.6.18-1+deb12u1' };

export function fetchMemcached(version: string): string {
  return fetchBuild(`memcached-${version}`, [`memcached=${version}`], 'usr/bin/memcached');
}

/** memcached's command line: its port on loopback, no UDP, 64 MB, as root `-u root` (it refuses root otherwise). */
export function memcachedArgs(port: number, threads: number): string[] {
  return ['-t', String(threads), '-p', String(port), '-l', '127.0.0.1', '-U', '0', '-m', '256', ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])];
}

export async function main(argv: string[]): Promise<number> {
  let keys = 100_000;
  let threads = 4;
  let stopAfter: 'caught-up' | 'commit' = 'commit';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === '--keys' && v && /^\d+$/.test(v)) (keys = Number(v)), i++;
    else if (a === '--threads' && v && /^[1-9]\d?$/.test(v)) (threads = Number(v)), i++;
    else if (a === '--stop-after' && (v === 'caught-up' || v === 'commit')) (stopAfter = v), i++;
    else {
      process.stderr.write(`update: error: bad argument '${a}'\nusage: npx tsx examples/memcached/update.ts [--keys N] [--threads N] [--stop-after caught-up|commit]\n`);
      return 2;
    }
  }
  const oldBin = fetchMemcached(RELEASES.from);
  const newBin = fetchMemcached(RELEASES.to);
  return liveUpdate(memcached, {
    // One rule: the thread ids in the /proc/self/task/<tid>/comm paths memcached names its threads by.
    rules: join(dirname(fileURLToPath(import.meta.url)), 'memcached.mvr'),
    keys,
    stopAfter,
    oldName: RELEASES.from,
    newName: RELEASES.to,
    oldCmd: (port) => [oldBin, ...memcachedArgs(port, threads)],
    newCmd: (port) => [newBin, ...memcachedArgs(port, threads)],
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runMain(main);
