// Helpers for the hostile battery (issue 18): the real `blobsync serve`
// ($BLOBSYNC_BIN) configured through BLOBSYNC_* environment variables only,
// so the same test also runs against an older binary that does not know a
// key (it ignores the variable) and shows what the limit changes.
import net from 'node:net';
import fs from 'node:fs';
import { encoding } from '../interop/sync/harness.mjs';

export { startServer, createAccount, xrpc } from '../http/server.mjs';
export { WebSocket, Y, encoding, client, until } from '../interop/sync/harness.mjs';

// A y-protocols awareness message: one client's state `pad` (a JSON text) at `clock`.
export function awarenessFrame(clientId, clock, pad) {
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, 1);
  encoding.writeVarUint(inner, clientId);
  encoding.writeVarUint(inner, clock);
  encoding.writeVarString(inner, pad);
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1);  // awareness
  encoding.writeVarUint8Array(e, encoding.toUint8Array(inner));
  return Buffer.from(encoding.toUint8Array(e));
}

// Resident memory of a process, in bytes (Linux).
export function rss(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : 0;
}

// One HTTP request on a new connection from `localAddress` (a loopback
// alias: 127.0.0.2 is a second client address); resolves with the status
// (0: none) and body of whatever came back before the server closed.
export function httpGet(port, path, localAddress = '127.0.0.1') {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    let data = '';
    const done = () => {
      const m = data.match(/^HTTP\/1\.1 (\d{3})/);
      resolve({ status: m ? Number(m[1]) : 0, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    };
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    sock.on('data', (d) => { data += d; });
    sock.on('close', done);
    sock.on('error', () => {});  // a refused connection may be reset after its 503
  });
}

// Resolves when the socket is closed by the server, with the ms it took.
export function closedWithin(sock) {
  const start = Date.now();
  return new Promise((resolve) => sock.on('close', () => resolve(Date.now() - start)));
}
