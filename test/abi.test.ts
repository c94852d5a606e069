// The names and numbers the C runtime and the TypeScript side share come from one data file,
// runtime-c/common/mvr_abi.tsv, through scripts/gen-abi.ts: the generated files are up to date,
// the hand-written contract headers carry the same values, and no source spells one of the shared
// environment names itself.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ABI_TSV_PATH, parseAbiTsv, patchHeader, renderAbiC } from '../scripts/gen-abi.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const entries = parseAbiTsv(readFileSync(join(ROOT, ABI_TSV_PATH), 'utf8')).entries;
const envNames = entries.filter((e) => e.type === 'str').map((e) => e.value);

function files(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (f === 'node_modules' || f.startsWith('.')) continue;
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (ext.test(f)) out.push(p);
  }
  return out;
}

/** The shared environment names a source writes as a string literal of its own. */
function literalEnvNames(text: string, names: readonly string[]): string[] {
  return names.filter((n) => new RegExp(`["'\`]${n}["'\`=]`).test(text));
}

describe('shared names and numbers (runtime-c/common/mvr_abi.tsv)', () => {
  it('the generated files and the contract headers are up to date (gen-abi --check)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-abi.ts', '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
  });

  it('a changed value makes the generated header and a contract header differ', () => {
    const changed = entries.map((e) => (e.name === 'MVR_FD_BASE' ? { ...e, value: '901' } : e));
    expect(renderAbiC(changed)).to.not.equal(readFileSync(join(ROOT, 'runtime-c/include/mvr_abi.h'), 'utf8'));
    expect(renderAbiC(changed)).to.contain('#define MVR_FD_BASE 901 ');
    const rules = entries.filter((e) => e.name === 'MVR_MAX_LEADER_ACTIONS');
    const errors: string[] = [];
    expect(patchHeader('#define MVR_MAX_LEADER_ACTIONS 63 /* x */\n', 'include/mvr_rules.h', rules, errors)).to.equal(
      '#define MVR_MAX_LEADER_ACTIONS 64 /* x */\n',
    );
    expect(errors).to.deep.equal([]);
    patchHeader('/* no define here */\n', 'include/mvr_rules.h', rules, errors);
    expect(errors).to.have.length(1);
    expect(errors[0]).to.contain('MVR_MAX_LEADER_ACTIONS');
  });

  it('rejects bad rows with their line', () => {
    const bad = ['MVR_A\tint\tx\tmvr_abi.h\tm', 'lower\tint\t1\tmvr_abi.h\tm', 'MVR_B\tfloat\t1\tmvr_abi.h\tm', 'MVR_C\tstr\ta"b\tmvr_abi.h\tm',
      'MVR_D\tint\t1\t../x.h\tm', 'MVR_E\tint\t1', 'MVR_F\tint\t1\tmvr_abi.h\tm', 'MVR_F\tint\t2\tmvr_abi.h\tm'];
    const r = parseAbiTsv(bad.join('\n'), 't.tsv');
    expect(r.errors.map((e) => e.split(':')[1])).to.deep.equal(['1', '2', '3', '4', '5', '6', '8']);
    expect(r.entries.map((e) => e.name)).to.deep.equal(['MVR_F']);
  });

  it('no C or TypeScript source spells a shared environment name itself', () => {
    expect(literalEnvNames('getenv("MVR_DSU_CTL_FD")', envNames)).to.deep.equal(['MVR_DSU_CTL_FD']);
    expect(literalEnvNames('"env=MVR_DSU_CTL_FD=%d"', envNames)).to.deep.equal([]); // caught below by the prefix form
    expect(literalEnvNames('getenv(MVR_ENV_DSU_CTL_FD)', envNames)).to.deep.equal([]);
    const generated = new Set(['runtime-c/include/mvr_abi.h', 'compiler/core/abi.generated.ts']);
    const sources = [
      ...files(join(ROOT, 'runtime-c'), /\.[ch]$/),
      ...files(join(ROOT, 'examples'), /\.[ch]$/),
      ...['compiler', 'codegen-c', 'scripts'].flatMap((d) => files(join(ROOT, d), /\.ts$/)),
    ];
    const found: string[] = [];
    for (const f of sources) {
      const rel = relative(ROOT, f);
      if (generated.has(rel)) continue;
      const text = readFileSync(f, 'utf8');
      for (const n of literalEnvNames(text, envNames)) found.push(`${rel}: ${n}`);
      for (const n of envNames) if (text.includes(`"env=${n}=`)) found.push(`${rel}: env=${n}`);
    }
    expect(found).to.deep.equal([]);
  });
});
