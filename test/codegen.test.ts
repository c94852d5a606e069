// Generated C: baselines for the LANGUAGE.md §7 examples (test/cases/codegen/NAME.mvr ->
// NAME.c beside it; `MVR_ACCEPT=1 npx mocha test/codegen.test.ts` rewrites them), warning-free
// builds, byte-identical output, C errors reported at their .mvr location, and the CLI commands.
import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAutomaton, leaderCandidates } from '../compiler/lower/automaton.ts';
import { main } from '../compiler/cli/main.ts';
import type { CliIO } from '../compiler/cli/types.ts';
import { loadProgram } from '../compiler/check/program.ts';
import { LineMap } from '../compiler/core/span.ts';
import { syscallByName } from '../compiler/syscalls/lookup.ts';
import { buildModule } from '../codegen-c/cc.ts';
import { emitC } from '../codegen-c/emit.ts';
import { removeScratchDirs, scratchDir } from '../codegen-c/harness/testing.ts';

const CASES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cases', 'codegen');
const ACCEPT = process.env['MVR_ACCEPT'] === '1';

function compileCase(name: string) {
  const program = loadProgram([name], { cwd: CASES });
  const errors = program.diagnostics.filter((d) => d.severity === 'error');
  expect(errors.map((d) => `${d.code} ${d.message}`), `${name} checks`).to.deep.equal([]);
  return { program, ...emitC(program, buildAutomaton(program), { moduleName: name.replace(/\.mvr$/, '') }) };
}

function captureIO(cwd: string, env: NodeJS.ProcessEnv = process.env): CliIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    cwd,
    isTTY: false,
    env: { ...env, NO_COLOR: '1' },
  };
  return io;
}

describe('C code generation', function () {
  this.timeout(120_000);
  after(removeScratchDirs);
  const cases = readdirSync(CASES).filter((f) => f.endsWith('.mvr')).sort();

  it('has the LANGUAGE.md §7 example cases', () => {
    expect(cases).to.include.members(['varan.mvr', 'vsftpd.mvr', 'slides.mvr', 'mvedsua-typed.mvr']);
  });

  for (const name of cases) {
    describe(name, () => {
      it('matches the baseline', () => {
        const { files } = compileCase(name);
        const c = files.get('rules.c')!;
        const baseline = path.join(CASES, name.replace(/\.mvr$/, '.c'));
        if (ACCEPT || !existsSync(baseline)) {
          if (!ACCEPT) throw new Error(`no baseline ${baseline}: run with MVR_ACCEPT=1`);
          writeFileSync(baseline, c);
        }
        expect(c === readFileSync(baseline, 'utf8'), `${name}: generated C differs from ${path.basename(baseline)} (MVR_ACCEPT=1 to accept)`).to.equal(true);
      });

      it('is byte-identical when compiled twice', () => {
        const a = compileCase(name);
        const b = compileCase(name);
        expect(b.files.get('rules.c')).to.equal(a.files.get('rules.c'));
        expect(b.files.get('rules.h')).to.equal(a.files.get('rules.h'));
        expect(JSON.stringify(b.manifest)).to.equal(JSON.stringify(a.manifest));
      });

      it('builds with -Wall -Wextra -Werror and no diagnostics', () => {
        const { program, files, manifest } = compileCase(name);
        const dir = scratchDir('codegen-');
        for (const [f, text] of files) writeFileSync(path.join(dir, f), text);
        const r = buildModule(dir, { cwd: CASES, sources: program.sources, entry: name, includeDirs: manifest.includeDirs });
        expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).to.deep.equal([]);
        expect(r.ok).to.equal(true);
        expect(existsSync(path.join(dir, 'rules.so'))).to.equal(true);
        expect(existsSync(path.join(dir, 'rules.o'))).to.equal(true);
      });
    });
  }

  it('reports a C error inside a block at its .mvr line and column (MVR5001)', () => {
    const dir = scratchDir('cerr-');
    // The error is on the second line of a multi-line block, after a `$(x)` rewrite on the same line.
    const text = [
      '// a C error inside a callback',
      'write(_,_,_) => write(_,_,count) -> (ret) {',
      '    $(ret) = $(count) + no_such_name;',
      '  }',
      '',
    ].join('\n');
    writeFileSync(path.join(dir, 'bad.mvr'), text);
    const program = loadProgram(['bad.mvr'], { cwd: dir });
    expect(program.diagnostics.filter((d) => d.severity === 'error')).to.deep.equal([]);
    const { files } = emitC(program, buildAutomaton(program), {});
    const out = path.join(dir, 'out');
    mkdirSync(out, { recursive: true });
    for (const [f, t] of files) writeFileSync(path.join(out, f), t);
    const r = buildModule(out, { cwd: dir, sources: program.sources, entry: 'bad.mvr' });
    expect(r.ok).to.equal(false);
    const d = r.diagnostics.find((x) => x.code === 'MVR5001');
    expect(d, JSON.stringify(r.diagnostics)).to.not.equal(undefined);
    expect(d!.file).to.equal('bad.mvr');
    const pos = new LineMap(text).position(d!.span.offset);
    expect(pos).to.deep.equal({ line: 3, column: text.split('\n')[2]!.indexOf('no_such_name') + 1 });
    expect(text.slice(d!.span.offset, d!.span.offset + d!.span.length)).to.equal('no_such_name');
    expect(d!.message).to.contain('no_such_name');
  });

  it('mvrc compile writes the module, the contract header and a manifest with rule locations', async () => {
    const dir = scratchDir('cli-');
    writeFileSync(path.join(dir, 'r.mvr'), '// two rules\nopen(_,_,_) => dup(_), lseek(_,_,_)\n  @quiet nothing => gettimeofday(_,_)\n');
    const io = captureIO(dir);
    const status = await main(['compile', 'r.mvr', '-o', 'mod'], io);
    expect(status, io.err).to.equal(0);
    for (const f of ['rules.c', 'rules.h', 'mvr_rules.h', 'manifest.json']) expect(existsSync(path.join(dir, 'mod', f)), f).to.equal(true);
    const m = JSON.parse(readFileSync(path.join(dir, 'mod', 'manifest.json'), 'utf8'));
    expect(m.rules).to.have.length(2);
    expect(m.rules[0]).to.include({ file: 'r.mvr', line: 2, column: 1, text: 'open(_,_,_) => dup(_), lseek(_,_,_)' });
    expect(m.rules[1]).to.include({ file: 'r.mvr', line: 3, column: 3, name: 'quiet' });
  });

  it('mvrc build reports C errors with exit 1 and a missing compiler with exit 2 (MVR5004)', async () => {
    const dir = scratchDir('cli-');
    writeFileSync(path.join(dir, 'bad.mvr'), 'read(fd,s,n) {{ return undeclared_thing; }} => read(fd,s,n)\n');
    const io = captureIO(dir);
    expect(await main(['build', 'bad.mvr', '-o', 'out'], io), io.err).to.equal(1);
    expect(io.err).to.match(/bad\.mvr:1:24: error MVR5001: C compiler: .*undeclared_thing/);

    writeFileSync(path.join(dir, 'ok.mvr'), 'open(_,_,_) => dup(_), lseek(_,_,_)\n');
    const io2 = captureIO(dir, { ...process.env, CC: path.join(dir, 'no-such-cc') });
    expect(await main(['build', 'ok.mvr', '-o', 'out2'], io2)).to.equal(2);
    expect(io2.err).to.contain('MVR5004');

    const io3 = captureIO(dir);
    expect(await main(['build', 'ok.mvr', '-o', 'out3'], io3), io3.err).to.equal(0);
    expect(existsSync(path.join(dir, 'out3', 'rules.so'))).to.equal(true);
  });

  it('dispatches on the leader syscall, then on a literal argument, keeping file order', () => {
    const dir = scratchDir('disp-');
    const rules = ['write(1,_,_) => write(1,_,_), gettid()', 'write(2,_,_) => write(2,_,_), gettid()', 'write(_,"x",_) => nothing', 'write(1,"y",_) => nothing', 'write(3,_,_) => nothing', 'read(_,_,_) => nothing'];
    writeFileSync(path.join(dir, 'd.mvr'), rules.join('\n') + '\n');
    const program = loadProgram(['d.mvr'], { cwd: dir });
    const a = buildAutomaton(program);
    const write = a.rules[0]!.left[0]!.alts[0]!.nr;
    const read = a.rules[5]!.left[0]!.alts[0]!.nr;
    expect(leaderCandidates(a, write, [1n, 0n, 0n, 0n, 0n, 0n])).to.deep.equal([0, 2, 3]);
    expect(leaderCandidates(a, write, [2n, 0n, 0n, 0n, 0n, 0n])).to.deep.equal([1, 2]);
    expect(leaderCandidates(a, write, [7n, 0n, 0n, 0n, 0n, 0n])).to.deep.equal([2]);
    expect(leaderCandidates(a, read, [1n, 0n, 0n, 0n, 0n, 0n])).to.deep.equal([5]);
    expect(leaderCandidates(a, write + 1000, [0n, 0n, 0n, 0n, 0n, 0n])).to.deep.equal([]);
  });

  it('mvrc compile without -o is a usage error (exit 2)', async () => {
    const io = captureIO(scratchDir('cli-'));
    expect(await main(['compile', 'x.mvr'], io)).to.equal(2);
    expect(io.err).to.contain('-o');
  });

  it('mvrc graph prints the automaton as DOT', async () => {
    const dir = scratchDir('cli-');
    writeFileSync(path.join(dir, 'g.mvr'), 'open(_,_,_) => dup(_), lseek(_,_,_)\nnothing => gettimeofday(_,_)\nbegin => getrlimit(_) *, readlink(_)\n');
    const io = captureIO(dir);
    expect(await main(['graph', 'g.mvr'], io), io.err).to.equal(0);
    expect(io.out).to.match(/^digraph mvr \{/);
    expect(io.out).to.contain('leader open');
    expect(io.out).to.contain('follower gettimeofday');
    expect(io.out).to.contain('start -> R2');
    expect(io.out).to.match(/R2_r0 -> R2_r0 \[label="\*"\]/);
  });

  it('mvrc graph numbers the rules in the order the matcher tries them, and has a legend', async () => {
    const dir = scratchDir('cli-');
    // File order mixes the kinds: leader-only first, then a mapping, a diverge, another
    // leader-only, a follower-only rule. The matcher tries mappings and diverges, then the
    // default, then leader-only rules (docs/semantics.md); nothing => rules come from the follower.
    writeFileSync(
      path.join(dir, 'mixed.mvr'),
      [
        'read(_, _, _) => nothing',
        'read(0, _, _) => read(0, _, _), getpid()',
        'read(1, _, _) => diverge "old command"',
        'read(2, _, _) => nothing',
        'nothing => getpid()',
      ].join('\n') + '\n',
    );
    const io = captureIO(dir);
    expect(await main(['graph', 'mixed.mvr'], io), io.err).to.equal(0);
    const read = syscallByName('read')!.nr;
    const getpid = syscallByName('getpid')!.nr;
    const edges = [...io.out.matchAll(new RegExp(`^  L${read} -> (\\w+) \\[.*label="([^"]+)"\\];$`, 'gm'))].map((m) => `${m[2]} ${m[1]}`);
    expect(edges).to.deep.equal(['1 R1', '2 R2', '3 default default', '4 no default R0', '5 no default R3']);
    expect(io.out).to.contain(`F${getpid} -> R4 [label="1"]`);
    // a legend naming every kind of node
    expect(io.out).to.contain('subgraph cluster_legend');
    for (const kind of ['dispatch', 'rule (file:line)', 'left items', 'right items', 'the default match', 'diverge', 'nothing: the leader events are skipped', 'the order rules are tried']) {
      expect(io.out).to.contain(kind);
    }
  });
});
