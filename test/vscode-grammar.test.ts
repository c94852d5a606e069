// The TextMate grammar of editors/vscode tokenized by vscode-textmate (the engine VS Code runs
// grammars with) over vscode-oniguruma (the regular-expression library it uses): what the user
// sees coloured is what these scopes say. The extension's manifest is checked against it.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as oniguruma from 'vscode-oniguruma';
import * as vsctm from 'vscode-textmate';
import { REPO } from './helpers/cli.ts';

const EXT = path.join(REPO, 'editors', 'vscode');
const GRAMMAR = path.join(EXT, 'syntaxes', 'mvr.tmLanguage.json');

interface Token {
  text: string;
  scopes: string[];
}

let grammar: vsctm.IGrammar;

async function loadGrammar(): Promise<vsctm.IGrammar> {
  const require = createRequire(import.meta.url);
  const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    // Only our grammar: the embedded source.c / source.ts are VS Code's, absent here, so the
    // blocks' own balancing (not the C grammar's) is what is tested.
    loadGrammar: async (scope: string) => (scope === 'source.mvr' ? vsctm.parseRawGrammar(readFileSync(GRAMMAR, 'utf8'), GRAMMAR) : null),
  });
  const g = await registry.loadGrammar('source.mvr');
  if (!g) throw new Error('grammar source.mvr did not load');
  return g;
}

/** Every token of every line, as VS Code would tokenize the text line by line. */
function tokenize(text: string): Token[][] {
  let stack = vsctm.INITIAL;
  return text.split('\n').map((line) => {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    return r.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes }));
  });
}

/** The scopes of the token holding the `nth` occurrence of `needle` on line `line` (0-based). */
function scopesOf(lines: Token[][], line: number, needle: string, nth = 0): string[] {
  const tokens = lines[line]!;
  const full = tokens.map((t) => t.text).join('');
  let at = -1;
  for (let i = 0; i <= nth; i++) at = full.indexOf(needle, at + 1);
  if (at < 0) throw new Error(`'${needle}' is not on line ${line}: ${full}`);
  let pos = 0;
  for (const t of tokens) {
    if (at >= pos && at < pos + t.text.length) return t.scopes;
    pos += t.text.length;
  }
  throw new Error('unreachable');
}

const SAMPLE = [
  /* 0 */ '// the nothing in a comment is no keyword',
  /* 1 */ 'import "std/time"',
  /* 2 */ 'group io = { read(_, _, _), write(1, "x", _) }',
  /* 3 */ '@fix_reply write(fd, "OK\\n\\q", 3) as w => w(fd, "ok\\x0a", 3) -> (r) { if (x) { r = 1; } return "}"; }, close(fd)',
  /* 4 */ 'read(fd, s, n) {{ return strncmp(s, "put(", 4) == 0;',
  /* 5 */ '  /* } */ }} => nothing',
  /* 6 */ 'read(fd, s, _) if (s.startsWith(")") && f(1)) as r => r(fd, "bad\\n", -0x10)',
  /* 7 */ 'write(_, _, _) => write(_, _, c) do { ret = c; } *, nothingness',
  /* 8 */ 'begin => mprotect(_), munmap(_) /* block',
  /* 9 */ '   comment */ nothing => diverge "why"',
].join('\n');

describe('editors/vscode TextMate grammar', () => {
  let lines: Token[][];
  before(async () => {
    grammar = await loadGrammar();
    lines = tokenize(SAMPLE);
  });

  it('scopes comments, and nothing inside them as a keyword', () => {
    expect(scopesOf(lines, 0, 'nothing')).to.include('comment.line.double-slash.mvr').and.not.include('keyword.control.mvr');
    expect(scopesOf(lines, 8, 'block')).to.include('comment.block.mvr');
    expect(scopesOf(lines, 9, 'comment')).to.include('comment.block.mvr');
    expect(scopesOf(lines, 9, 'nothing')).to.include('keyword.control.mvr').and.not.include('comment.block.mvr');
  });

  it('scopes strings, their escapes, and invalid escapes', () => {
    expect(scopesOf(lines, 1, 'std/time')).to.include('string.quoted.double.mvr');
    expect(scopesOf(lines, 3, '\\n')).to.include('constant.character.escape.mvr');
    expect(scopesOf(lines, 3, '\\x0a')).to.include('constant.character.escape.mvr');
    expect(scopesOf(lines, 3, '\\q')).to.include('invalid.illegal.escape.mvr');
    // The string ends at its closing quote: what follows is not a string.
    expect(scopesOf(lines, 3, ' as ')).to.not.include('string.quoted.double.mvr');
  });

  it('scopes keywords, the arrows, rule names, labels and integers', () => {
    expect(scopesOf(lines, 1, 'import')).to.include('keyword.control.mvr');
    expect(scopesOf(lines, 2, 'group')).to.include('keyword.control.mvr');
    expect(scopesOf(lines, 5, 'nothing')).to.include('keyword.control.mvr');
    expect(scopesOf(lines, 8, 'begin')).to.include('keyword.control.mvr');
    expect(scopesOf(lines, 9, 'diverge')).to.include('keyword.control.mvr');
    expect(scopesOf(lines, 7, 'nothingness')).to.not.include('keyword.control.mvr');
    expect(scopesOf(lines, 3, '=>')).to.include('keyword.operator.arrow.mvr');
    expect(scopesOf(lines, 3, '->')).to.include('keyword.operator.callback.mvr');
    expect(scopesOf(lines, 3, 'fix_reply')).to.include('entity.name.label.mvr');
    expect(scopesOf(lines, 3, 'as')).to.include('keyword.control.mvr');
    expect(scopesOf(lines, 3, 'w =>')).to.include('variable.other.label.mvr');
    expect(scopesOf(lines, 3, 'write')).to.include('entity.name.function.mvr');
    expect(scopesOf(lines, 3, '3')).to.include('constant.numeric.integer.mvr');
    expect(scopesOf(lines, 6, '-0x10')).to.include('constant.numeric.integer.mvr');
  });

  it('embeds C blocks as C, nested braces and braces in C strings included, across lines', () => {
    // { ... } with a nested block and a '}' inside a C string: all of it is C up to the last '}'.
    expect(scopesOf(lines, 3, 'if (x)')).to.include('meta.embedded.block.c');
    expect(scopesOf(lines, 3, 'return')).to.include('meta.embedded.block.c');
    expect(scopesOf(lines, 3, '"}"')).to.include('meta.embedded.block.c');
    expect(scopesOf(lines, 3, 'close')).to.include('entity.name.function.mvr').and.not.include('meta.embedded.block.c');
    // {{ ... }} over two lines; a '}' in a C comment does not end it; after '}}' it is mvr again.
    expect(scopesOf(lines, 4, 'strncmp')).to.include('meta.embedded.block.c');
    expect(scopesOf(lines, 5, '/* } */')).to.include('meta.embedded.block.c');
    expect(scopesOf(lines, 5, '=>')).to.include('keyword.operator.arrow.mvr').and.not.include('meta.embedded.block.c');
    // The braces of a group hold call patterns, not C.
    expect(scopesOf(lines, 2, 'read')).to.include('entity.name.function.mvr').and.not.include('meta.embedded.block.c');
    expect(scopesOf(lines, 2, '"x"')).to.include('string.quoted.double.mvr');
    expect(scopesOf(lines, 3, '@')).to.not.include('meta.group.mvr');
  });

  it('embeds typed blocks as TypeScript, up to their balanced closing delimiter', () => {
    expect(scopesOf(lines, 6, 'startsWith')).to.include('meta.embedded.block.typescript');
    expect(scopesOf(lines, 6, 'f(1)')).to.include('meta.embedded.block.typescript');
    expect(scopesOf(lines, 6, ' as r')).to.not.include('meta.embedded.block.typescript');
    expect(scopesOf(lines, 6, 'r(fd')).to.include('entity.name.function.mvr');
    expect(scopesOf(lines, 7, 'ret = c')).to.include('meta.embedded.block.typescript');
    expect(scopesOf(lines, 7, '*')).to.include('keyword.operator.repeat.mvr');
  });

  it("the extension's manifest names this grammar, its language and its configuration", () => {
    const manifest = JSON.parse(readFileSync(path.join(EXT, 'package.json'), 'utf8')) as {
      main: string;
      contributes: { languages: { id: string; extensions: string[]; configuration: string }[]; grammars: { language: string; scopeName: string; path: string }[] };
    };
    const g = JSON.parse(readFileSync(GRAMMAR, 'utf8')) as { scopeName: string };
    const lang = manifest.contributes.languages[0]!;
    expect(lang.extensions).to.deep.equal(['.mvr']);
    expect(manifest.contributes.grammars[0]).to.deep.include({ language: lang.id, scopeName: g.scopeName });
    expect(path.resolve(EXT, manifest.contributes.grammars[0]!.path)).to.equal(GRAMMAR);
    const conf = JSON.parse(readFileSync(path.resolve(EXT, lang.configuration), 'utf8')) as { comments: { lineComment: string } };
    expect(conf.comments.lineComment).to.equal('//');
    expect(readFileSync(path.resolve(EXT, manifest.main), 'utf8')).to.match(/\bargs: \['lsp'\]/);
  });
});
