import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DocumentFilter, LanguageClient, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';

const SERVER_NAME = 'iotrules-lsp';
const INSTALL_HINT = 'Install it with `cargo install --path lsp` from a clone of the iotrules repository, or set `iotrules.server.path`.';

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('iotrules');
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand('iotrules.restartServer', () => restart(context)),
    vscode.commands.registerCommand('iotrules.showOutput', () => output?.show(true)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('iotrules.server')) {
        void restart(context);
      }
    }),
  );
  await start(context);
}

export async function deactivate(): Promise<void> {
  await stop();
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration('iotrules');
  const configured = config.get<string>('server.path', SERVER_NAME);
  const command = resolveServer(configured);
  if (command === undefined) {
    void reportMissingServer(context, configured);
    return;
  }
  const serverOptions: ServerOptions = {
    command,
    args: config.get<string[]>('server.args', []),
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: documentSelector(),
    outputChannel: output,
    traceOutputChannel: output,
  };
  // The client id `iotrules` makes vscode-languageclient read the `iotrules.trace.server` setting.
  client = new LanguageClient('iotrules', 'iotrules', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (error) {
    client = undefined;
    const message = error instanceof Error ? error.message : String(error);
    const choice = await vscode.window.showErrorMessage(
      `iotrules: the language server \`${command}\` did not start: ${message}`,
      'Show Output',
    );
    if (choice === 'Show Output') {
      output?.show(true);
    }
  }
}

async function stop(): Promise<void> {
  const running = client;
  client = undefined;
  if (running !== undefined) {
    await running.stop();
  }
}

async function restart(context: vscode.ExtensionContext): Promise<void> {
  await stop();
  await start(context);
}

/**
 * IoT SQL documents, and every JSON document: the server tells rule files and policies from
 * other JSON by their content, as the `iotrules` commands do, whatever folder they are in, and
 * leaves the rest alone. (The JSON schemas still apply by the manifest's file patterns.)
 */
function documentSelector(): DocumentFilter[] {
  return [{ language: 'iotsql' }, { language: 'json' }];
}

/**
 * The server binary for a configured value: a path (with `~` and workspace-relative forms), or
 * a command name looked up on PATH and then in Cargo's install folder, which editors started
 * from a desktop launcher often lack on their PATH.
 */
function resolveServer(configured: string): string | undefined {
  let candidate = configured.trim() || SERVER_NAME;
  if (candidate === '~' || candidate.startsWith('~/') || candidate.startsWith('~\\')) {
    candidate = path.join(os.homedir(), candidate.slice(1));
  }
  if (candidate.includes('/') || candidate.includes('\\')) {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!path.isAbsolute(candidate) && folder !== undefined) {
      candidate = path.join(folder.uri.fsPath, candidate);
    }
    return isExecutable(candidate) ? candidate : undefined;
  }
  const cargoHome = process.env.CARGO_HOME ?? path.join(os.homedir(), '.cargo');
  const folders = [...(process.env.PATH ?? '').split(path.delimiter), path.join(cargoHome, 'bin')];
  const suffixes = process.platform === 'win32' ? ['', ...(process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  for (const folder of folders.filter((entry) => entry.length > 0)) {
    for (const suffix of suffixes) {
      const file = path.join(folder, candidate + suffix);
      if (isExecutable(file)) {
        return file;
      }
    }
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

async function reportMissingServer(context: vscode.ExtensionContext, configured: string): Promise<void> {
  const where = configured.trim() === '' || configured.trim() === SERVER_NAME
    ? `\`${SERVER_NAME}\` is not on PATH or in ~/.cargo/bin`
    : `\`${configured}\` is not an executable file`;
  output?.appendLine(`The language server was not found: ${where}. ${INSTALL_HINT}`);
  const choice = await vscode.window.showErrorMessage(
    `iotrules: the language server was not found: ${where}. ${INSTALL_HINT} Highlighting and the JSON schemas work without it.`,
    'Open Settings',
    'Retry',
  );
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'iotrules.server.path');
  } else if (choice === 'Retry') {
    await restart(context);
  }
}
