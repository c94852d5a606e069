// A live update of a running nginx between two of Debian's own builds, under checked load:
//
//   npx tsx examples/nginx/update.ts [--files N] [--stop-after caught-up|commit]
//
// Fetches both builds (scripts/fetch-debian-build.sh): bookworm's 1.22.1-9+deb12u9 and the security
// update 1.22.1-9+deb12u12. nginx runs as one process (`master_process off`, one worker's work in
// it): a role switch does not cover child processes yet, so a master with workers cannot be
// promoted. Its configuration (written here, in a temporary prefix) serves N static files and a
// generated answer; 8 checked clients run while `mvrc ctl update --state replay` starts the new
// build beside it, then promote and commit; every file is read back from the new version.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchBuild, liveUpdate, runMain } from '../lib/update.ts';
import { fileBody, fileName, nginxClient } from './client.ts';

export const RELEASES = { from: '1.22.1-9+deb12u9', to: '1.22.1-9+deb12u12' };

export function fetchNginx(version: string): string {
  return fetchBuild(`nginx-${version}`, [`nginx=${version}`], 'usr/sbin/nginx');
}

/** A prefix folder with N files under html/static and a configuration for one process on `port`. */
function prefix(files: number): { dir: string; conf: (port: number) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'mvrc-nginx-'));
  mkdirSync(join(dir, 'html', 'static'), { recursive: true });
  for (let i = 0; i < files; i++) writeFileSync(join(dir, 'html', 'static', fileName(i)), fileBody(i));
  const conf = (port: number) => {
    const path = join(dir, `nginx-${port}.conf`);
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${join(dir, t)};`).join(' ');
    writeFileSync(
      path,
      `daemon off; master_process off; worker_processes 1; error_log stderr; pid ${join(dir, 'nginx.pid')};
events { worker_connections 256; }
http {
  access_log off; ${temp}
  server {
    listen 127.0.0.1:${port};
    location /static/ { root ${join(dir, 'html')}; }
    location /echo/ { return 200 "ok $request_uri\\n"; }
  }
}
`,
    );
    return path;
  };
  return { dir, conf };
}

export async function main(argv: string[]): Promise<number> {
  let files = 1000;
  let stopAfter: 'caught-up' | 'commit' = 'commit';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === '--files' && v && /^\d+$/.test(v)) (files = Number(v)), i++;
    else if (a === '--stop-after' && (v === 'caught-up' || v === 'commit')) (stopAfter = v), i++;
    else {
      process.stderr.write(`update: error: bad argument '${a}'\nusage: npx tsx examples/nginx/update.ts [--files N] [--stop-after caught-up|commit]\n`);
      return 2;
    }
  }
  const oldBin = fetchNginx(RELEASES.from);
  const newBin = fetchNginx(RELEASES.to);
  const p = prefix(files);
  const cmd = (bin: string) => (port: number) => [bin, '-p', p.dir, '-e', 'stderr', '-c', p.conf(port)];
  try {
    // No rules: every call of the two builds matches.
    return await liveUpdate(nginxClient(files), { keys: files, stopAfter, oldName: RELEASES.from, newName: RELEASES.to, oldCmd: cmd(oldBin), newCmd: cmd(newBin) });
  } finally {
    rmSync(p.dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runMain(main);
