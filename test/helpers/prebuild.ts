// A mocha root hook (.mocharc.json "require"): builds the C runtime and the empty rule file's
// module into the cache (~/.cache/mvrc) once, before any test runs. Tests that start `mvrc run`
// wait a few seconds for a server's first line; had they to compile the runtime themselves, a
// machine busy enough to make the compile outlast that wait would kill it before it reached the
// cache, in every such test in turn.
import { buildRuntime } from '../../codegen-c/runtime-build.ts';
import { buildEmptyRules } from '../../compiler/cli/empty-rules.ts';

export const mochaHooks = {
  beforeAll(this: Mocha.Context): void {
    if (process.platform !== 'linux' || process.arch !== 'x64') return;
    this.timeout(600_000);
    buildRuntime();
    const io = { stdout: () => {}, stderr: (t: string) => void process.stderr.write(t), cwd: process.cwd(), isTTY: false, env: process.env };
    if (buildEmptyRules(io) === null) throw new Error('cannot build the empty rule file\'s module');
  },
};
