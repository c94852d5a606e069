// The VS Code client for `mvrc lsp`: starts the server over stdio for .mvr files. All the
// language knowledge is in the server; this file only finds the mvrc command and starts it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

/** The server command: the setting, else the workspace's own mvrc, else mvrc on the PATH. */
function serverCommand() {
  const configured = vscode.workspace.getConfiguration('mvr').get('server.command') || [];
  if (configured.length > 0) return { command: configured[0], args: configured.slice(1) };
  for (const folder of vscode.workspace.workspaceFolders || []) {
    const local = path.join(folder.uri.fsPath, 'node_modules', '.bin', 'mvrc');
    if (fs.existsSync(local)) return { command: local, args: ['lsp'] };
  }
  return { command: 'mvrc', args: ['lsp'] };
}

function activate(context) {
  const server = serverCommand();
  client = new LanguageClient(
    'mvr',
    'mvr rules (mvrc lsp)',
    { run: server, debug: server },
    { documentSelector: [{ language: 'mvr' }] },
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start().catch((e) => {
    vscode.window.showErrorMessage(`mvr: cannot start '${server.command} ${server.args.join(' ')}': ${e.message}. Set "mvr.server.command".`);
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
