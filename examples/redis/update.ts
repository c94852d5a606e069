// A live update of a running redis-server between two of Debian's own builds, under checked load:
//
//   npx tsx examples/redis/update.ts [--keys N] [--from VERSION] [--to VERSION] [--stop-after STAGE]
//
// Fetches both builds (scripts/fetch-debian-build.sh: `apt-get download` + `dpkg -x`, nothing is
// installed), starts the old one as a single updatable leader (`mvrc run --control`), loads N keys,
// then keeps 8 checked clients running while `mvrc ctl update --state replay` starts the new build
// beside it (it replays the old one's journal through examples/redis/redis.mvr, then follows live),
// promotes it and commits. At the end every loaded key is read back. It prints what happened at each
// stage and exits 0 only if the update completed with no failed or wrong answer and no lost key.
// `--stop-after caught-up` ends after the catch-up (both versions running, the old one leading).
// The steps are examples/lib/update.ts's; the checked client is client.ts.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchBuild, liveUpdate, runMain } from '../lib/update.ts';
import { redis } from './client.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Debian bookworm's redis 7.0.15 builds: the release and the security update (CVE fixes). */
export const RELEASES: Record<string, string> = { deb12u7: '5:7.0.15-1~deb12u7', deb12u10: '5:7.0.15-1~deb12u10' };

/** Both packages of one release, unpacked into .cache/debian/redis-RELEASE; its redis-server path. */
export function fetchRedis(release: string): string {
  const v = RELEASES[release]!;
  return fetchBuild(`redis-${release}`, [`redis-tools=${v}`, `redis-server=${v}`], 'usr/bin/redis-server');
}

/** redis-server's command line: its port on loopback, nothing written to disk. */
export const redisArgs = (port: number): string[] => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

/** The rules both ways (the old version follows the new one after promote, so a rollback keeps its state). */
export const REDIS_RULES = join(HERE, 'redis.mvr');

export async function main(argv: string[]): Promise<number> {
  let keys = 100_000;
  let from = 'deb12u7';
  let to = 'deb12u10';
  let stopAfter: 'caught-up' | 'commit' = 'commit';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === '--keys' && v && /^\d+$/.test(v)) (keys = Number(v)), i++;
    else if (a === '--from' && v && v in RELEASES) (from = v), i++;
    else if (a === '--to' && v && v in RELEASES) (to = v), i++;
    else if (a === '--stop-after' && (v === 'caught-up' || v === 'commit')) (stopAfter = v), i++;
    else {
      process.stderr.write(
        `update: error: bad argument '${a}'\nusage: npx tsx examples/redis/update.ts [--keys N] [--from ${Object.keys(RELEASES).join('|')}] [--to ...] [--stop-after caught-up|commit]\n`,
      );
      return 2;
    }
  }
  const oldBin = fetchRedis(from);
  const newBin = fetchRedis(to);
  return liveUpdate(redis, {
    keys,
    stopAfter,
    oldName: RELEASES[from]!,
    newName: RELEASES[to]!,
    oldCmd: (port) => [oldBin, ...redisArgs(port)],
    newCmd: (port) => [newBin, ...redisArgs(port)],
    rules: REDIS_RULES,
    // A divergence that comes from timing (Redis's cron reading /proc/self/stat at another event)
    // is retried: the new version starts again and replays the journal.
    retries: 2,
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runMain(main);
