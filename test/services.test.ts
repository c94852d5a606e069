// The language services (compiler/services) in process: the cursor contexts completion must tell
// apart, and hover/definition cases the end-to-end test (test/lsp.test.ts) does not cover.
import { expect } from 'chai';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { analyze } from '../compiler/services/analysis.ts';
import { completionsAt } from '../compiler/services/completion.ts';
import { formatText } from '../compiler/services/format.ts';
import { hoverAt } from '../compiler/services/hover.ts';
import { definitionAt, documentSymbols } from '../compiler/services/navigation.ts';
import { REPO, tempDir } from './helpers/cli.ts';

const dir = tempDir('mvrc-services-');

/** `text` with a `|` marking the cursor: the analysis of the text without it, and the offset. */
function at(marked: string, files: Record<string, string> = {}) {
  const offset = marked.indexOf('|');
  if (offset < 0) throw new Error('no cursor (|) in the text');
  const text = marked.slice(0, offset) + marked.slice(offset + 1);
  const entry = path.join(dir, 'doc.mvr'); // never written: the text comes from the overlay
  const open = new Map<string, string>([[entry, text], ...Object.entries(files).map(([n, t]): [string, string] => [path.join(dir, n), t])]);
  const a = analyze(entry, { cwd: dir, stdlibDir: path.join(REPO, 'stdlib-rules'), overlay: (p) => open.get(p) });
  return { a, text, offset };
}

function labels(marked: string, files?: Record<string, string>): string[] {
  const { a, text, offset } = at(marked, files);
  return completionsAt(a, text, offset).map((c) => c.label);
}

describe('language services', () => {
  describe('completion', () => {
    it('offers syscalls, groups and keywords at the start of a rule, labels only on its right side', () => {
      const start = labels('group io = { read(_, _, _) }\nrea|');
      expect(start).to.include.members(['read', 'readv', 'io', 'nothing', 'begin']);
      const right = labels('read(fd, _, _) as r,\n  write(_, _, _) as w =>\n  |');
      expect(right.slice(0, 2)).to.deep.equal(['r', 'w']);
      expect(right).to.include.members(['nothing', 'diverge', 'write']);
      const left = labels('read(fd, _, _) as r, wr|');
      expect(left).to.include('write').and.not.include('r');
    });

    it('offers nothing inside comments, strings, C blocks, typed blocks, or where a new name goes', () => {
      expect(labels('// rea|')).to.deep.equal([]);
      expect(labels('/* rea| */')).to.deep.equal([]);
      expect(labels('write(_, "rea|", _) => nothing')).to.deep.equal([]);
      expect(labels('read(fd, _, _) {{ rea| }} => nothing')).to.deep.equal([]);
      expect(labels('read(fd, s, _) if (s.rea|) => nothing')).to.deep.equal([]);
      expect(labels('read(fd, _, _) as re|')).to.deep.equal([]);
      expect(labels('group re|')).to.deep.equal([]);
      expect(labels('@re|')).to.deep.equal([]);
    });

    it('offers _ and the variables of the rule inside an argument list', () => {
      const args = labels('read(fd, buf, _) => write(f|');
      expect(args).to.deep.equal(['_', 'buf', 'fd']);
    });

    it('offers syscalls and groups as group members', () => {
      const members = labels('group a = { read(_, _, _) }\ngroup b = { a, wri|');
      expect(members).to.include.members(['write', 'a']).and.not.include('nothing');
    });

    it('completes std modules, std/ itself and sibling rule files inside an import', () => {
      writeFileSync(path.join(dir, 'sibling.mvr'), '');
      expect(labels('import "std/ti|"')).to.include('time').and.not.include('std/time');
      const plain = labels('import "|"');
      expect(plain).to.include.members(['std/time', 'sibling.mvr']).and.not.include('doc.mvr');
    });

    it('replaces the word being typed', () => {
      const { a, text, offset } = at('nothing => clock_get|');
      const item = completionsAt(a, text, offset).find((c) => c.label === 'clock_gettime')!;
      expect(item.replace).to.deep.equal({ offset: text.indexOf('clock_get'), length: 'clock_get'.length });
      expect(item.detail).to.equal('clock_gettime(clockid, tp)');
    });
  });

  describe('hover', () => {
    it("shows a variable's kind and side", () => {
      const { a, offset } = at('read(f|d, s, _) => write(fd, s, _)');
      expect(hoverAt(a, offset)?.markdown).to.equal("variable `fd`: fd — a file descriptor, bound by the leader's event (left side)");
    });

    it('shows the diagnostic at the cursor, and the catalog entry of a code written in a comment', () => {
      const bad = at('ra|ed(_) => nothing');
      expect(bad.a.program.diagnostics.map((d) => d.code)).to.deep.equal(['MVR2001']);
      expect(hoverAt(bad.a, bad.offset)?.markdown).to.equal("**MVR2001** (error): unknown syscall or group 'raed'\n\nhelp: did you mean 'read'?");
      const code = at('// expected: MVR40|01\nread(_, _, _) => nothing');
      expect(hoverAt(code.a, code.offset)?.markdown).to.match(/^\*\*MVR4001\*\* \(warning\): this rule can never fire/);
      const unknown = at('// MVR99|99\nread(_, _, _) => nothing');
      expect(hoverAt(unknown.a, unknown.offset)).to.equal(undefined);
    });

    it('shows a group as defined, in the open text of the file that defines it', () => {
      const { a, offset } = at('import "lib.mvr"\nio| => nothing', { 'lib.mvr': 'group io = { read(_, _, _), write(_, _, _) }\n' });
      expect(hoverAt(a, offset)?.markdown).to.equal('group `io` (defined in lib.mvr:1)\n\n```mvr\ngroup io = { read(_, _, _), write(_, _, _) }\n```');
    });
  });

  describe('definition, symbols, formatting', () => {
    it("goes from a variable to its first occurrence, and from a right-side label to its binding, not to the syscall it shadows", () => {
      const v = at('read(fd, s, _) => write(f|d, s, _)');
      expect(definitionAt(v.a, v.offset)).to.deep.equal({ file: v.a.entry, span: { offset: 5, length: 2 } });
      const l = at('read(_, _, _) as read => rea|d');
      expect(definitionAt(l.a, l.offset)).to.deep.equal({ file: l.a.entry, span: { offset: 17, length: 4 } });
    });

    it('keeps the symbols of the items that parse in a file with errors', () => {
      const { a } = at('|read( => nothing\ngroup io = { read(_, _, _) }\n');
      expect(documentSymbols(a.file!).map((s) => s.name)).to.deep.equal(['io']);
    });

    it('formats a file that parses and refuses one that does not', () => {
      expect(formatText('x.mvr', 'read(_,_,_)=>nothing')).to.equal('read(_, _, _) => nothing\n');
      expect(formatText('x.mvr', 'read(_,_,_)=>')).to.equal(undefined);
    });
  });

  describe('robustness', () => {
    // Fragments of real rules, cut and joined at random: what a file looks like while being typed.
    const FRAGMENTS = ['read(fd, s, _)', ' as r', ' => ', 'r(fd, "x\\n", 1)', ', ', '\n', 'group g = { ', '}', 'import "std/', 'time"', '{{ x; }}', '{ if (a) { b; } }', ' if (s.startsWith("a"))', ' do { ret = 1; }', '@n ', 'nothing', 'diverge "why"', '*', '// MVR2001\n', '/* c */', '(', ')', 'g', 'write(_, _, n)', '-0x1'];
    const text = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 14 }).map((parts) => parts.join(''));

    it('hover, completion, definition, symbols and formatting never throw, at any offset of any text', () => {
      fc.assert(
        fc.property(text, fc.nat(), (t, n) => {
          const offset = t.length === 0 ? 0 : n % (t.length + 1);
          const { a } = at(`${t.slice(0, offset)}|${t.slice(offset)}`);
          hoverAt(a, offset);
          definitionAt(a, offset);
          for (const c of completionsAt(a, t, offset)) {
            // A completion replaces text ending at the cursor.
            if (c.replace.offset + c.replace.length !== offset) throw new Error(`replace span ${JSON.stringify(c.replace)} does not end at ${offset}`);
          }
          if (a.file) documentSymbols(a.file);
          formatText('x.mvr', t);
        }),
        { numRuns: 300 },
      );
    });
  });
});
