// Worker thread for flood.test.mjs: the flooding connections run here, on
// their own event loop, so the test's calm clients (main thread) are not
// delayed by the 2 GiB this thread masks and pumps: the calm room's time
// then measures the server, not the test process.
// Not a test of its own: flood.test.mjs asserts on what it reports.
// workerData: { url, conns, frame, frames }; posts one outcome per
// connection ({ opened, frames sent, end: 'closed' or 'sent' }) in an
// array when all have ended.
import { parentPort, workerData } from 'node:worker_threads';
import { WebSocket, awarenessFrame } from './hostile.mjs';

const { url, conns, frame, frames } = workerData;

const flooders = [];
for (let i = 0; i < conns; i++) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('error', () => {});
  let opened = false, clock = 0;
  flooders.push(new Promise((resolve) => {
    ws.on('close', () => resolve({ opened, sent: clock, end: 'closed' }));
    ws.on('open', () => {
      opened = true;
      ws._socket.pause();  // never read: the server's queue to us only grows
      const pad = JSON.stringify({ pad: 'x'.repeat(frame - 96) });  // a JSON state, as y-protocols sends
      const pump = () => {
        // Pipelined: no waiting for replies, only for our own socket buffer.
        while (clock < frames && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 2 * frame)
          ws.send(awarenessFrame(100000 + i, ++clock, pad));
        if (ws.readyState !== WebSocket.OPEN) return;
        if (clock < frames || ws.bufferedAmount > 0) setTimeout(pump, 5);
        else resolve({ opened, sent: clock, end: 'sent' });
      };
      pump();
    });
  }));
}
parentPort.postMessage(await Promise.all(flooders));
