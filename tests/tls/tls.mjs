// Helpers of the TLS tests: the certificates run.sh made (BLOBSYNC_TLS_CERTS),
// a real `blobsync serve` with tls_cert/tls_key (tests/http/server.mjs), and
// raw TLS connections that report the certificate the server presented.
// Helpers only (no test of their own): the assertions are in the tests/tls
// *.test.mjs files; a helper whose setup fails throws.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { startServer } from '../http/server.mjs';

export const CERTS = process.env.BLOBSYNC_TLS_CERTS;
if (!CERTS) throw new Error('BLOBSYNC_TLS_CERTS is not set (run through tests/tls/run.sh)');
export const cert = (name) => path.join(CERTS, name);
export const CA = fs.readFileSync(cert('ca.pem'));

// A TLS server whose cert and key are copies (so a test can replace them
// and send SIGHUP). `files`: {cert, key} names under CERTS.
export async function startTls(env = {}, extraArgs = [], files = { cert: 'server.pem', key: 'server.key' }) {
  const dir = fs.mkdtempSync(path.join(CERTS, 'srv-'));
  const certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
  fs.copyFileSync(cert(files.cert), certPath);
  fs.copyFileSync(cert(files.key), keyPath);
  const srv = await startServer(env, ['--tls-cert', certPath, '--tls-key', keyPath, ...extraArgs]);
  srv.base = `https://localhost:${srv.port}`;
  // A server that does not exit 0 on SIGTERM says how it ended, and its last words.
  const stop = srv.stop;
  srv.stop = async () => {
    let signal = null;
    srv.child.once('exit', (_code, sig) => { signal = sig; });
    const code = await stop();
    if (code !== 0) console.error(`blobsync exited with ${code} (signal ${signal}):\n${srv.stderr().slice(-4000)}`);
    return code;
  };
  srv.certPath = certPath;
  srv.keyPath = keyPath;
  // Replaces the files with other ones from CERTS (atomically, as a deploy would).
  srv.install = (certName, keyName) => {
    fs.copyFileSync(cert(certName), certPath + '.new');
    fs.renameSync(certPath + '.new', certPath);
    fs.copyFileSync(cert(keyName), keyPath + '.new');
    fs.renameSync(keyPath + '.new', keyPath);
  };
  return srv;
}

// Opens a TLS connection (trusting `ca`, default the test CA) and resolves
// with the socket once the handshake is done.
export function connectTls(port, { ca = CA, ...opts } = {}) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ...opts });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

// The subject CN and serial of the certificate the server presents now.
export async function peerCert(port) {
  const s = await connectTls(port);
  const c = s.getPeerCertificate();
  s.destroy();
  return { cn: c.subject.CN, serial: c.serialNumber };
}

// Sends `data` on a plain TCP connection and resolves with everything the
// server sent until it closed, and how long that took.
export function rawExchange(port, data) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const s = net.connect(port, '127.0.0.1', () => { if (data) s.write(data); });
    const got = [];
    s.on('data', (d) => got.push(d));
    s.on('error', (e) => { if (e.code === 'ECONNRESET') resolve({ data: Buffer.concat(got), ms: Date.now() - start }); else reject(e); });
    s.on('close', () => resolve({ data: Buffer.concat(got), ms: Date.now() - start }));
  });
}

// One HTTP/1.1 request on an open TLS socket (keep-alive): status line and body.
export function requestOn(socket, target) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number((buf.match(/content-length: (\d+)/i) || [])[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      socket.off('data', onData);
      resolve({ status: Number(buf.split(' ')[1]), body: buf.slice(end + 4, end + 4 + len) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}
