// A Language Server Protocol client for the tests: spawns `node dist/mvrc.cjs lsp --stdio` as an
// editor would and talks JSON-RPC to it through vscode-languageserver's client-side connection.
// Notifications are kept, so a test can wait for one that has already arrived.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type PublishDiagnosticsParams,
  type ProtocolConnection,
} from 'vscode-languageserver/node';
import { CLI } from './cli.ts';

export class LspClient {
  readonly child: ChildProcess;
  readonly conn: ProtocolConnection;
  readonly stderr: string[] = [];
  private readonly diagnostics: PublishDiagnosticsParams[] = [];
  private waiters: { pred: (p: PublishDiagnosticsParams) => boolean; resolve: (p: PublishDiagnosticsParams) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(cwd: string) {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it)`);
    this.child = spawn(process.execPath, [CLI, 'lsp', '--stdio'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (b: Buffer) => this.stderr.push(b.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.conn = createProtocolConnection(new StreamMessageReader(this.child.stdout!), new StreamMessageWriter(this.child.stdin!));
    this.conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      this.diagnostics.push(p);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(p)) return true;
        w.resolve(p);
        return false;
      });
    });
    this.conn.listen();
  }

  /** The first publishDiagnostics (already received or to come) that satisfies `pred`; with
   *  `after`, only one that arrived after that one. */
  waitForDiagnostics(pred: (p: PublishDiagnosticsParams) => boolean, after?: PublishDiagnosticsParams): Promise<PublishDiagnosticsParams> {
    const from = after ? this.diagnostics.indexOf(after) + 1 : 0;
    const seen = this.diagnostics.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  /** The diagnostics the server publishes for `uri` at document version `version`. */
  diagnosticsAt(uri: string, version: number): Promise<PublishDiagnosticsParams> {
    return this.waitForDiagnostics((p) => p.uri === uri && p.version === version);
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.conn.sendRequest(method, params) as Promise<R>;
  }

  notify(method: string, params: unknown): void {
    void this.conn.sendNotification(method, params);
  }

  open(path: string, text: string, version = 1): string {
    const uri = pathToFileURL(path).href;
    this.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'mvr', version, text } });
    return uri;
  }

  /** Replaces the whole text (a change without a range). */
  change(uri: string, text: string, version: number): void {
    this.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  kill(): void {
    this.conn.dispose();
    if (this.child.exitCode === null) this.child.kill();
  }
}
