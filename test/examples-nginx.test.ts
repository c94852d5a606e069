// examples/nginx/update.ts end to end, as a user runs it: Debian's nginx 1.22.1-9+deb12u9 (fetched
// with apt-get download, unpacked beside the installed one) runs as one process (master_process
// off) under mvrc serving 300 static files; the 1.22.1-9+deb12u12 security update catches up by
// replaying its journal, follows live, is promoted and committed while 8 checked HTTP clients run;
// every answer is checked and every file read back from the new version.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './helpers/cli.ts';

describe('examples/nginx: a live update between two Debian builds of nginx (one process)', function () {
  this.timeout(300_000);

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    // The builds come from Debian's archive; on another distribution there is nothing to fetch.
    if (spawnSync('apt-get', ['--version']).status !== 0) this.skip();
  });

  it('deb12u9 -> deb12u12 by replay, promote and commit under checked load: no failed or wrong answer, every file served', () => {
    const r = spawnSync('npx', ['tsx', join(REPO, 'examples', 'nginx', 'update.ts'), '--files', '300'], { cwd: REPO, encoding: 'utf8', timeout: 280_000 });
    const out = `${r.stdout}${r.stderr}`;
    expect(r.status, out).to.equal(0);
    expect(out).to.match(/caught up: \d+ journal events/);
    expect(out).to.match(/promote: version 2 \(pid \d+\) leads/);
    expect(out).to.match(/commit: version 2 \(pid \d+\) leads alone/);
    expect(out).to.match(/clients: [1-9]\d* answers checked, 0 failed, 0 wrong/);
    expect(out).to.contain('files: 300 of 300 read back intact');
    expect(out).to.match(/stage: single leader, version 2 leads; retirements: \d+/);
    expect(out).to.contain('the update completed');
  });
});
