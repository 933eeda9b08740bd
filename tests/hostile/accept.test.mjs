// Hostile: the accept loop. It accepts after a readiness wait, edge
// triggered, so one wake-up must take every waiting connection (a burst
// larger than its turn of 64 all gets served), and running out of file
// descriptors (EMFILE) must neither spin a core nor stop the server: it
// backs off, and accepts again once descriptors are free.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { startServer, httpGet, until } from './hostile.mjs';

const cpuSeconds = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;  // utime + stime, clock ticks of 1/100 s
};
const openFds = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

test('a burst of 300 connections opened at once is served in full', async () => {
  const srv = await startServer({ BLOBSYNC_MAX_CONNECTIONS_PER_IP: '1000' });
  try {
    const results = await Promise.all(Array.from({ length: 300 }, () => httpGet(srv.port, '/xrpc/_health')));
    const ok = results.filter((r) => r.status === 200).length;
    assert.equal(ok, 300, `every connection of the burst is answered 200 (got ${ok})`);
  } finally {
    await srv.stop();
  }
});

test('out of file descriptors, accept backs off without spinning and recovers', async () => {
  const srv = await startServer({ BLOBSYNC_MAX_CONNECTIONS_PER_IP: '1000' });
  const socks = [];
  try {
    const pid = srv.child.pid;
    // 10 descriptors to spare, then 60 connections: the rest wait in the backlog.
    const limit = openFds(pid) + 10;
    const r = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${limit}:${limit}`]);
    assert.equal(r.status, 0, `prlimit: ${r.stderr}`);
    for (let i = 0; i < 60; i++) {
      const s = net.connect({ port: srv.port, host: '127.0.0.1' });
      s.on('error', () => {});
      socks.push(s);
    }
    await until(async () => /accept: /.test(srv.stderr()), 'the server reported running out of descriptors', 20000);
    // Out of descriptors with connections waiting: a spinning accept loop
    // would burn a core (1.5 s of CPU here); backing off costs next to nothing.
    const before = cpuSeconds(pid);
    await new Promise((res) => setTimeout(res, 1500));
    const used = cpuSeconds(pid) - before;
    assert.ok(used < 0.5, `the server used ${used.toFixed(2)} CPU-s in 1.5 s while out of descriptors`);
    // The clients go; the server sees them close, its descriptors come back
    // and a new client is served.
    for (const s of socks) s.destroy();
    await until(async () => (await httpGet(srv.port, '/xrpc/_health')).status === 200,
      'a request is served once descriptors are free', 60000);
    assert.equal(srv.child.exitCode, null, 'the server is still up');
  } finally {
    for (const s of socks) s.destroy();
    await srv.stop();
  }
});
