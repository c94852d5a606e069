// The C we write has one format (.clang-format at the root; examples/kv and runtime-c/dsu refine
// it): every such file passes `clang-format --dry-run --Werror`. Generated headers are left to
// their generators. Skipped, saying so, where clang-format is not installed
// (scripts/install-deps.sh installs it).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Written by scripts/gen-syscalls.ts and scripts/gen-abi.ts, in their own layout. */
const GENERATED = new Set(['runtime-c/include/mvr_syscalls.h', 'runtime-c/include/mvr_default_match.h', 'runtime-c/include/mvr_abi.h']);

function cFiles(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...cFiles(p));
    else if (/\.[ch]$/.test(f)) out.push(p);
  }
  return out;
}

const haveClangFormat = spawnSync('clang-format', ['--version'], { encoding: 'utf8' }).status === 0;

describe('C formatting (clang-format --dry-run --Werror)', function () {
  this.timeout(300_000);
  before(function () {
    if (!haveClangFormat) {
      console.log('    (skipped: clang-format is not installed; scripts/install-deps.sh installs it)');
      this.skip();
    }
  });

  it('every C file we write is formatted', () => {
    const files = ['runtime-c', 'codegen-c/harness', 'test/fixtures', 'examples/kv']
      .flatMap((d) => cFiles(join(ROOT, d)))
      .filter((f) => !GENERATED.has(relative(ROOT, f)));
    expect(files.length).to.be.greaterThan(60);
    const r = spawnSync('clang-format', ['--dry-run', '--Werror', ...files], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const bad = [...new Set([...r.stderr.matchAll(/^(\/[^:]+):\d+:\d+: error/gm)].map((m) => relative(ROOT, m[1]!)))];
    expect(bad, `not formatted (clang-format -i FILE):\n${bad.join('\n')}`).to.deep.equal([]);
    expect(r.status).to.equal(0);
  });

  it('a file that breaks the style is caught, in either style', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mvrc-cf-'));
    try {
      copyFileSync(join(ROOT, '.clang-format'), join(dir, '.clang-format'));
      mkdirSync(join(dir, 'kv'));
      copyFileSync(join(ROOT, 'examples/kv/.clang-format'), join(dir, 'kv', '.clang-format'));
      const good2 = 'int f(int x) {\n  if (x) return 1;\n  return 0;\n}\n';
      const good8 = 'int f(int x)\n{\n\tif (x)\n\t\treturn 1;\n\treturn 0;\n}\n';
      const cases: [string, string, number][] = [
        ['good.c', good2, 0],
        ['bad.c', good2.replace('  if', '    if'), 1],
        ['kv/good.c', good8, 0],
        ['kv/bad.c', good2, 1],
      ];
      for (const [name, text, status] of cases) {
        writeFileSync(join(dir, name), text);
        expect(spawnSync('clang-format', ['--dry-run', '--Werror', join(dir, name)]).status, name).to.equal(status);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
