// examples/memcached/update.ts end to end, as a user runs it: Debian's memcached 1.6.18-1 (fetched
// with apt-get download, unpacked beside the installed one, 4 worker threads) leads under mvrc with
// 5,000 keys; the 1.6.18-1+deb12u1 security update catches up by replaying its journal, follows
// live, is promoted and committed while 8 checked clients run; every answer is checked and every
// key read back from the new version.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './helpers/cli.ts';

describe('examples/memcached: a live update between two Debian builds of memcached', function () {
  this.timeout(300_000);

  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    // The builds come from Debian's archive; on another distribution there is nothing to fetch.
    if (spawnSync('apt-get', ['--version']).status !== 0) this.skip();
  });

  it('1.6.18-1 -> 1.6.18-1+deb12u1 by replay, promote and commit under checked load: no failed or wrong answer, no lost key', () => {
    const r = spawnSync('npx', ['tsx', join(REPO, 'examples', 'memcached', 'update.ts'), '--keys', '5000'], { cwd: REPO, encoding: 'utf8', timeout: 280_000 });
    const out = `${r.stdout}${r.stderr}`;
    expect(r.status, out).to.equal(0);
    expect(out).to.match(/caught up: \d+ journal events/);
    expect(out).to.match(/promote: version 2 \(pid \d+\) leads/);
    expect(out).to.match(/commit: version 2 \(pid \d+\) leads alone/);
    expect(out).to.match(/clients: [1-9]\d* answers checked, 0 failed, 0 wrong/);
    expect(out).to.contain('keys: 5000 of 5000 read back intact');
    expect(out).to.match(/stage: single leader, version 2 leads; retirements: \d+/);
    expect(out).to.contain('the update completed');
  });
});
