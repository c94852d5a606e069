// docs/language.md: every code block marked `mvr example` parses and checks without errors, or,
// when the marker names a code (`mvr example MVR4001`), produces that diagnostic. The reference
// and the docs stay inside the repository: no link in README.md or docs/ points outside it.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diagnoseExample } from '../compiler/cli/explain.ts';
import { REPO } from './helpers/cli.ts';

/** The fenced blocks of a Markdown text whose info string starts with `mvr example`. */
export function exampleBlocks(md: string): { line: number; expect: string | undefined; text: string }[] {
  const out: { line: number; expect: string | undefined; text: string }[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^```mvr example(?:\s+(MVR\d{4}))?\s*$/.exec(lines[i]!);
    if (!m) continue;
    const start = i + 1;
    let j = start;
    while (j < lines.length && lines[j] !== '```') j++;
    out.push({ line: start, expect: m[1], text: lines.slice(start, j).join('\n') + '\n' });
    i = j;
  }
  return out;
}

describe('docs/language.md', () => {
  const md = readFileSync(join(REPO, 'docs', 'language.md'), 'utf8');
  const blocks = exampleBlocks(md);

  it('has examples for every section, found by the extractor', () => {
    expect(blocks.length).to.be.at.least(10);
    expect(exampleBlocks('```mvr example MVR2001\nraed()\n```\n```mvr\nnot an example\n```\n')).to.deep.equal([{ line: 1, expect: 'MVR2001', text: 'raed()\n' }]);
  });

  for (const b of blocks) {
    it(`the example at line ${b.line} ${b.expect ? `produces ${b.expect}` : 'checks without errors'}`, () => {
      const { diagnostics } = diagnoseExample(b.text);
      const errors = diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`);
      if (b.expect) expect(diagnostics.map((d) => d.code)).to.include(b.expect);
      else expect(errors).to.deep.equal([]);
    });
  }

  it('README.md and docs/ point nothing outside the repository (the language reference is docs/language.md)', () => {
    const files = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const bad: string[] = [];
    for (const f of files) {
      const text = readFileSync(join(REPO, f), 'utf8');
      text.split('\n').forEach((l, i) => {
        // ../shared (the spec folder beside the repository), machine paths, links that climb out of
        // the repository, and the v1 spec by file name (docs/language.md replaces it).
        if (/\.\.\/shared\b|\/work\/|\]\(\.\.\/\.\.\/|LANGUAGE\.md/.test(l) || (f === 'README.md' && /\]\(\.\.\//.test(l))) bad.push(`${f}:${i + 1}: ${l.trim()}`);
      });
    }
    expect(bad).to.deep.equal([]);
  });
});
