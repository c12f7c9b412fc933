// The extension's start-up against stand-ins for VS Code and the language client: which
// binary it starts, with which arguments and documents, and what it says when there is none.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Module = require('node:module');
const esbuild = require('esbuild');

const manifest = require('../package.json');
let scratch;
let bundle;

before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'iotrules-vscode-'));
  bundle = path.join(scratch, 'extension.js');
  // The language client stays external so the test can stand in for it.
  esbuild.buildSync({
    entryPoints: [path.join(__dirname, '..', 'src', 'extension.ts')],
    bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'silent',
    external: ['vscode', 'vscode-languageclient/node'],
  });
});

after(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Loads a fresh copy of the extension with stand-ins; returns what it did. */
async function activate({ settings = {}, env = {} }) {
  const seen = { errors: [], clients: [] };
  const vscode = {
    window: {
      createOutputChannel: () => ({ appendLine() {}, show() {}, dispose() {} }),
      showErrorMessage: async (message) => { seen.errors.push(message); return undefined; },
    },
    commands: { registerCommand: () => ({ dispose() {} }), executeCommand: async () => undefined },
    workspace: {
      workspaceFolders: [{ uri: { fsPath: scratch } }],
      onDidChangeConfiguration: () => ({ dispose() {} }),
      getConfiguration: () => ({ get: (key, fallback) => (key in settings ? settings[key] : fallback) }),
    },
  };
  class LanguageClient {
    constructor(id, name, serverOptions, clientOptions) {
      Object.assign(this, { id, name, serverOptions, clientOptions, started: false });
      seen.clients.push(this);
    }
    async start() { this.started = true; }
    async stop() { this.started = false; }
  }
  const originalLoad = Module._load;
  const saved = { ...process.env };
  Module._load = function load(request, ...rest) {
    if (request === 'vscode') return vscode;
    if (request === 'vscode-languageclient/node') return { LanguageClient };
    return originalLoad.call(this, request, ...rest);
  };
  Object.assign(process.env, env);
  try {
    delete require.cache[bundle];
    const extension = require(bundle);
    await extension.activate({ subscriptions: [], extension: { packageJSON: manifest } });
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    Module._load = originalLoad;
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
  return seen;
}

function fakeServer(folder) {
  fs.mkdirSync(folder, { recursive: true });
  const file = path.join(folder, 'iotrules-lsp');
  fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o755 });
  return file;
}

test('starts the server found on PATH for IoT SQL and JSON, which it tells apart by content', async () => {
  const server = fakeServer(path.join(scratch, 'on-path'));
  const seen = await activate({ settings: { 'server.args': ['--log', 'debug'] }, env: { PATH: path.dirname(server), CARGO_HOME: path.join(scratch, 'none') } });
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.clients.length, 1);
  const [client] = seen.clients;
  assert.equal(client.id, 'iotrules');
  assert.equal(client.started, true);
  assert.equal(client.serverOptions.command, server);
  assert.deepEqual(client.serverOptions.args, ['--log', 'debug']);
  assert.deepEqual(client.clientOptions.documentSelector, [{ language: 'iotsql' }, { language: 'json' }]);
  const patterns = manifest.contributes.jsonValidation.map((validation) => validation.fileMatch);
  assert.ok(patterns.includes('**/*.rule.json') && patterns.includes('**/policies/**/*.json'));
});

test('falls back to Cargo\'s install folder', async () => {
  const cargoHome = path.join(scratch, 'cargo');
  const server = fakeServer(path.join(cargoHome, 'bin'));
  const seen = await activate({ env: { PATH: path.join(scratch, 'empty'), CARGO_HOME: cargoHome } });
  assert.equal(seen.clients[0]?.serverOptions.command, server);
});

test('resolves a configured path relative to the workspace folder', async () => {
  const server = fakeServer(path.join(scratch, 'target', 'release'));
  const seen = await activate({ settings: { 'server.path': 'target/release/iotrules-lsp' }, env: { PATH: '' } });
  assert.equal(seen.clients[0]?.serverOptions.command, server);
});

test('explains how to install the server when it is missing', async () => {
  const seen = await activate({ env: { PATH: path.join(scratch, 'empty'), CARGO_HOME: path.join(scratch, 'none') } });
  assert.equal(seen.clients.length, 0);
  assert.equal(seen.errors.length, 1);
  assert.match(seen.errors[0], /`iotrules-lsp` is not on PATH/);
  assert.match(seen.errors[0], /cargo install --path lsp/);
  const configured = await activate({ settings: { 'server.path': '/nowhere/iotrules-lsp' } });
  assert.match(configured.errors[0], /`\/nowhere\/iotrules-lsp` is not an executable file/);
});
