// WSS on the server's one port: y-websocket clients (yjs, ws) over wss://,
// trusting the test CA through NODE_EXTRA_CA_CERTS, edit one document
// through the server; the sync url defaults to wss://; browser origins are
// checked as over ws://.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { startTls } from './tls.mjs';

const require = createRequire(path.join(process.env.NODE_PATH, 'x.js'));
const Y = require('yjs');
const { WebsocketProvider } = require('y-websocket');
const WebSocket = require('ws');

let srv;
before(async () => { srv = await startTls(); });
after(async () => { assert.equal(await srv.stop(), 0); });

async function until(cond, what, ms = 30000) {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function client(room) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(`wss://localhost:${srv.port}/sync`, room, doc,
    { WebSocketPolyfill: WebSocket, disableBc: true });
  return { doc, provider, destroy: () => { provider.destroy(); doc.destroy(); } };
}

test('two y-websocket clients over wss:// edit one document, small and large updates', async () => {
  const a = client('tls-room');
  const b = client('tls-room');
  await until(() => a.provider.synced && b.provider.synced, 'both synced');
  a.doc.getText('t').insert(0, 'hello over TLS');
  await until(() => b.doc.getText('t').toString() === 'hello over TLS', 'b sees a');
  // A 2 MiB update: many TLS records through the coalescing write layer.
  const big = 'x'.repeat(2 << 20);
  b.doc.getText('t').insert(0, big);
  await until(() => a.doc.getText('t').length === big.length + 14, 'a sees the large update');
  a.destroy();
  b.destroy();
  // A late joiner gets the whole state from the server.
  const c = client('tls-room');
  await until(() => c.provider.synced && c.doc.getText('t').length === big.length + 14, 'c loads the room');
  c.destroy();
});

test('with TLS the default sync url is wss://<listen>/sync', async () => {
  assert.match(srv.stderr(), new RegExp(`starting as wss://127\\.0\\.0\\.1:${srv.port}/sync`));
});

test('origins over wss: the server\'s own https origin is admitted, another is refused with 403', async () => {
  const open = (origin) => new Promise((resolve) => {
    const ws = new WebSocket(`wss://localhost:${srv.port}/sync/origin-room`, { origin });
    ws.on('open', () => { ws.close(); resolve('open'); });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
    ws.on('error', (e) => resolve(e.message));
  });
  assert.equal(await open(`https://127.0.0.1:${srv.port}`), 'open');
  assert.equal(await open('https://evil.example'), 403);
});
