// mvrc lsp end to end: the bundled CLI started as an editor starts it, driven over stdio with the
// protocol's own client-side connection. Each test states what an editor user relies on.
import { expect } from 'chai';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CompletionItem, DocumentSymbol, Hover, Location, TextEdit } from 'vscode-languageserver/node';
import { mvrc, REPO, tempDir } from './helpers/cli.ts';
import { LspClient } from './helpers/lsp.ts';

const BUGGY = [
  'import "std/time"',
  'group io = { read(_, _, _), wrte(_, _, _) }',
  'read(fd, s, _) as r => r(fd, "é", 1, 2), raed(_)',
  'write(_, "a", _) => nothing',
  'write(_, "a", _) => nothing',
  'open(5, _) => nothing',
  'close( => nothing',
  '',
].join('\n');
const FIXED = 'import "std/time"\ngroup io = { read(_, _, _), write(_, _, _) }\nread(fd, _, _) as r => r(fd, "x", 1)\n';

interface Pos {
  line: number;
  character: number;
}
type Shape = { code: string; range: { start: Pos; end: Pos } };

/** Where `needle` (its `nth` occurrence) starts in `text`, as a protocol position (+ `delta` characters). */
function posOf(text: string, needle: string, delta = 0, nth = 0): Pos {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = text.indexOf(needle, at + 1);
  if (at < 0) throw new Error(`'${needle}' not in text`);
  at += delta;
  const before = text.slice(0, at).split('\n');
  return { line: before.length - 1, character: before[before.length - 1]!.length };
}

/** Applies full-document or ranged edits (the server sends one edit for the whole text). */
function applyEdits(text: string, edits: TextEdit[]): string {
  const lines = text.split('\n');
  const offset = (p: Pos): number => lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  return [...edits]
    .sort((a, b) => offset(b.range.start) - offset(a.range.start))
    .reduce((t, e) => t.slice(0, offset(e.range.start)) + e.newText + t.slice(offset(e.range.end)), text);
}

describe('mvrc lsp', function () {
  this.timeout(60_000);
  let dir: string;
  let client: LspClient;
  let init: { capabilities: Record<string, unknown>; serverInfo: { name: string } };
  const file = (name: string): string => path.join(dir, name);

  before(async () => {
    dir = tempDir('mvrc-lsp-');
    client = new LspClient(dir);
    init = await client.request('initialize', { processId: process.pid, rootUri: pathToFileURL(dir).href, capabilities: {} });
    client.notify('initialized', {});
  });
  after(() => client.kill());

  it('answers initialize with the features it serves', () => {
    const r = init;
    expect(r.serverInfo.name).to.equal('mvrc');
    expect(r.capabilities).to.deep.include({
      hoverProvider: true,
      definitionProvider: true,
      documentFormattingProvider: true,
      documentSymbolProvider: true,
    });
    expect(r.capabilities.textDocumentSync).to.be.oneOf([1, 2]);
    expect((r.capabilities.completionProvider as { triggerCharacters: string[] }).triggerCharacters).to.include('/');
  });

  it('publishes the codes and ranges of mvrc check --format json as the user types, and an empty list once fixed', async () => {
    writeFileSync(file('buggy.mvr'), BUGGY);
    const cli = JSON.parse(mvrc(['check', '--format', 'json', 'buggy.mvr'], { cwd: dir }).stdout) as {
      diagnostics: { code: string; line: number; column: number; endLine: number; endColumn: number; file: string }[];
    };
    const expected: Shape[] = cli.diagnostics.map((d) => ({
      code: d.code,
      range: { start: { line: d.line - 1, character: d.column - 1 }, end: { line: d.endLine - 1, character: d.endColumn - 1 } },
    }));
    expect(expected.map((d) => d.code)).to.include.members(['MVR1001', 'MVR2001', 'MVR2008', 'MVR3004', 'MVR3005', 'MVR4001']);

    const uri = client.open(file('buggy.mvr'), BUGGY);
    const first = await client.diagnosticsAt(uri, 1);
    expect(first.diagnostics.map((d): Shape => ({ code: String(d.code), range: d.range }))).to.deep.equal(expected);
    const unknown = first.diagnostics.find((d) => d.code === 'MVR2001')!;
    expect(unknown.message).to.equal("unknown syscall or group 'wrte'\nhelp: did you mean 'write'?");
    expect(unknown.severity).to.equal(1);

    client.change(uri, FIXED, 2);
    const fixed = await client.diagnosticsAt(uri, 2);
    expect(fixed.diagnostics).to.deep.equal([]);
  });

  it('checks a file with the unsaved text of an open file it imports, and again when that text changes', async () => {
    writeFileSync(file('lib.mvr'), 'group io = { read(_, _, _) }\n');
    const mainText = 'import "lib.mvr"\nio as x => x\n';
    writeFileSync(file('main.mvr'), mainText);
    const main = client.open(file('main.mvr'), mainText);
    expect((await client.diagnosticsAt(main, 1)).diagnostics).to.deep.equal([]);

    // The open lib.mvr renames the group (not saved): main.mvr's use of it is now unknown.
    const lib = client.open(file('lib.mvr'), 'group other = { read(_, _, _) }\n');
    const broken = await client.waitForDiagnostics((p) => p.uri === main && p.diagnostics.length > 0);
    expect(broken.diagnostics.map((d) => [d.code, d.range.start])).to.deep.equal([['MVR2001', { line: 1, character: 0 }]]);
    expect(mvrc(['check', 'main.mvr'], { cwd: dir }).status, 'the file on disk is unchanged').to.equal(0);

    client.change(lib, 'group io = { read(_, _, _) }\n', 2);
    await client.waitForDiagnostics((p) => p.uri === main && p.diagnostics.length === 0, broken);
    client.notify('textDocument/didClose', { textDocument: { uri: lib } });
  });

  it("hovers a syscall with its signature and argument kinds, a label with its left item, an import with the std file's header", async () => {
    const text = 'import "std/valgrind"\nread(fd, s, _) as r => r(fd, "x", 1)\n';
    const uri = client.open(file('hover.mvr'), text);
    await client.diagnosticsAt(uri, 1);
    const syscall = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: posOf(text, 'read', 2) });
    const md = (syscall.contents as { value: string }).value;
    expect(md).to.include('read(fd, buf, count)');
    expect(md).to.include('`fd`: fd — a file descriptor');
    expect(md).to.include('`buf`: out_bytes — output bytes');
    expect(syscall.range).to.deep.equal({ start: { line: 1, character: 0 }, end: { line: 1, character: 4 } });

    const label = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: posOf(text, 'r(fd', 0) });
    expect((label.contents as { value: string }).value).to.include('label `r`').and.include('read(fd, s, _) as r');

    const imp = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: posOf(text, 'valgrind') });
    expect((imp.contents as { value: string }).value).to.include('std/valgrind — the follower runs the same program under valgrind');

    // Blank space has nothing to say.
    expect(await client.request('textDocument/hover', { textDocument: { uri }, position: { line: 2, character: 0 } })).to.equal(null);
  });

  it('completes the std modules inside import "std/', async () => {
    const text = 'import "std/';
    const uri = client.open(file('imp.mvr'), text);
    const items = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri }, position: { line: 0, character: text.length } });
    const std = readdirSync(path.join(REPO, 'stdlib-rules')).filter((n) => n.endsWith('.mvr')).map((n) => n.slice(0, -4));
    expect(std).to.include.members(['time', 'valgrind']);
    expect(items.map((i) => i.label).sort()).to.deep.equal(std.sort());
    // Inserted after "std/", replacing nothing typed yet.
    expect(items[0]!.textEdit).to.deep.include({ range: { start: { line: 0, character: 12 }, end: { line: 0, character: 12 } } });
  });

  it('completes the labels bound on the left on a right side (first), and not on a left side', async () => {
    const text = 'read(fd, s, _) as req, write(_, _, _) as resp => re\nwri\n';
    const uri = client.open(file('labels.mvr'), text);
    const right = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri }, position: posOf(text, '=> re', 5) });
    const labels = right.filter((i) => i.kind === 18 /* Reference */).map((i) => i.label);
    expect(labels).to.deep.equal(['req', 'resp']);
    const sorted = [...right].sort((a, b) => (a.sortText ?? a.label).localeCompare(b.sortText ?? b.label));
    expect(sorted.slice(0, 2).map((i) => i.label)).to.deep.equal(['req', 'resp']);
    const read = right.find((i) => i.label === 'read')!;
    expect(read.detail).to.equal('read(fd, buf, count)');
    // The argument kinds come when the editor resolves the item (not with all 383 syscalls).
    const resolved = await client.request<CompletionItem>('completionItem/resolve', read);
    expect((resolved.documentation as { value: string }).value).to.include('`count`: size — a size');
    // The next line is a new rule: its left side has no labels yet.
    const left = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri }, position: posOf(text, 'wri', 3, 1) });
    expect(left.map((i) => i.label)).to.include('write').and.not.include('req');
  });

  it('goes to the definition of a label, of a group in an imported file, and of an import', async () => {
    writeFileSync(file('groups.mvr'), '// groups\ngroup io = { read(_, _, _) }\n');
    const text = 'import "groups.mvr"\nio as x, write(_, _, _) as w => w, x\n';
    const uri = client.open(file('def.mvr'), text);
    await client.diagnosticsAt(uri, 1);
    const label = await client.request<Location>('textDocument/definition', { textDocument: { uri }, position: posOf(text, 'w, x') });
    expect(label).to.deep.equal({ uri, range: { start: posOf(text, 'w =>'), end: posOf(text, 'w =>', 1) } });
    const group = await client.request<Location>('textDocument/definition', { textDocument: { uri }, position: posOf(text, 'io as') });
    expect(group).to.deep.equal({ uri: pathToFileURL(file('groups.mvr')).href, range: { start: { line: 1, character: 6 }, end: { line: 1, character: 8 } } });
    const imp = await client.request<Location>('textDocument/definition', { textDocument: { uri }, position: posOf(text, 'groups.mvr') });
    expect(imp.uri).to.equal(pathToFileURL(file('groups.mvr')).href);
    // A syscall has no definition in rule files.
    expect(await client.request('textDocument/definition', { textDocument: { uri }, position: posOf(text, 'write') })).to.equal(null);
  });

  it('formats as mvrc fmt does, and leaves a file that does not parse alone', async () => {
    const messy = '// keep me\nread( fd,_ ,_)as r=>r   // trailing\n\n\n@n  write(_,"x",_)=>nothing\n';
    writeFileSync(file('messy.mvr'), messy);
    const canonical = mvrc(['fmt', 'messy.mvr'], { cwd: dir });
    expect(canonical.status).to.equal(0);
    expect(canonical.stdout).to.not.equal(messy);
    const uri = client.open(file('messy.mvr'), messy);
    const edits = await client.request<TextEdit[]>('textDocument/formatting', { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } });
    expect(applyEdits(messy, edits)).to.equal(canonical.stdout);

    const broken = 'read( fd,_ ,_)as r=>r\nclose( => nothing\n';
    const buri = client.open(file('broken.mvr'), broken);
    expect(await client.request('textDocument/formatting', { textDocument: { uri: buri }, options: { tabSize: 2, insertSpaces: true } })).to.deep.equal([]);
  });

  it('lists rules, groups and imports as document symbols', async () => {
    const text = 'import "std/time"\ngroup io = { read(_, _, _) }\n@reply write(_, _, _) => nothing\nio => nothing\n';
    const uri = client.open(file('symbols.mvr'), text);
    const symbols = await client.request<DocumentSymbol[]>('textDocument/documentSymbol', { textDocument: { uri } });
    expect(symbols.map((s) => [s.name, s.kind, s.range.start.line])).to.deep.equal([
      ['std/time', 2 /* Module */, 0],
      ['io', 10 /* Enum */, 1],
      ['@reply', 24 /* Event */, 2],
      ['io => nothing', 24, 3],
    ]);
    expect(symbols[2]!.selectionRange).to.deep.equal({ start: { line: 2, character: 1 }, end: { line: 2, character: 6 } });
  });

  it('shuts down and exits with status 0 (and 1 on exit without shutdown)', async () => {
    expect(await client.request('shutdown', null)).to.equal(null);
    client.notify('exit', null);
    expect(await client.exited).to.equal(0);
    expect(client.stderr.join('')).to.equal('');

    const rude = new LspClient(dir);
    try {
      await rude.request('initialize', { processId: process.pid, rootUri: pathToFileURL(dir).href, capabilities: {} });
      rude.notify('exit', null);
      expect(await rude.exited).to.equal(1);
    } finally {
      rude.kill();
    }
  });

  it('is loaded only by the lsp command: mvrc check never loads the protocol library', () => {
    // A preload reports every load of the protocol library (an external of the bundle).
    const preload = file('report-loads.cjs');
    writeFileSync(
      preload,
      "const M = require('node:module'); const load = M._load;\n" +
        "M._load = function (request, ...rest) { if (/^vscode-languageserver/.test(request)) process.stderr.write('LOADED ' + request + '\\n'); return load.call(this, request, ...rest); };\n",
    );
    writeFileSync(file('ok.mvr'), 'read(_, _, _) => nothing\n');
    const env = { NODE_OPTIONS: `--require ${preload}` };
    const check = mvrc(['check', 'ok.mvr'], { cwd: dir, env });
    expect(check.status).to.equal(0);
    expect(check.stderr).to.not.include('LOADED');
    // The same preload sees the lsp command load it (stdin at its end: the server exits, status 1).
    const lsp = mvrc(['lsp'], { cwd: dir, env, input: '' });
    expect(lsp.stderr).to.include('LOADED vscode-languageserver/node');
    expect(lsp.status).to.equal(1);
  });

  it('refuses arguments it does not know with a usage error (exit 2)', () => {
    const r = mvrc(['lsp', 'file.mvr'], { cwd: dir });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include("mvrc lsp: error: unexpected argument 'file.mvr'");
  });
});
