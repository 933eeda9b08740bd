// Hostile: connections over max_connections / max_connections_per_ip are
// refused with 503 and an XRPC error, WebSocket sessions count as much as
// HTTP ones, and their slots come back when they close. (Before issue 18 a
// WebSocket session left the count at its upgrade and there was no
// per-address limit: the refused requests below were served.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, WebSocket, httpGet, until } from './hostile.mjs';

async function openWs(url, localAddress) {
  const ws = new WebSocket(url, { localAddress });
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  return ws;
}

test('WebSocket sessions count under max_connections and max_connections_per_ip', async () => {
  const srv = await startServer({ BLOBSYNC_MAX_CONNECTIONS: '30', BLOBSYNC_MAX_CONNECTIONS_PER_IP: '20' });
  const open = [];
  try {
    const url = `ws://127.0.0.1:${srv.port}/sync/hostile-conns`;
    for (let i = 0; i < 20; i++) open.push(await openWs(url, '127.0.0.1'));

    // The address's 21st connection: refused, HTTP or WebSocket alike.
    let r = await httpGet(srv.port, '/xrpc/_health', '127.0.0.1');
    assert.equal(r.status, 503, `a 21st connection from one address is refused (got ${r.status})`);
    assert.equal(JSON.parse(r.body).error, 'NotEnoughResources');
    assert.match(JSON.parse(r.body).message, /max_connections_per_ip/);
    await assert.rejects(openWs(url, '127.0.0.1'), /503/);

    // Another address gets its own 20, up to the total of 30.
    for (let i = 0; i < 10; i++) open.push(await openWs(url, '127.0.0.2'));
    r = await httpGet(srv.port, '/xrpc/_health', '127.0.0.3');
    assert.equal(r.status, 503, `connection 31 is refused (got ${r.status})`);
    assert.match(JSON.parse(r.body).message, /\(max_connections\)/);

    // Closing sessions gives their slots back.
    for (const ws of open.splice(0, 20)) ws.close();
    await until(async () => (await httpGet(srv.port, '/xrpc/_health', '127.0.0.1')).status === 200,
      'a slot freed after the sessions closed', 30000);
    assert.ok(open.every((ws) => ws.readyState === WebSocket.OPEN), 'the other sessions are untouched');
    assert.equal(srv.child.exitCode, null, 'the server is still up');
  } finally {
    for (const ws of open) ws.terminate();
    await srv.stop();
  }
});
