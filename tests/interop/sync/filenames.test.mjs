// Issue 22: a blob keeps the first filename an upload gave it: the blob
// channel's UPLOAD (its filename field) and PUT /blobs/<hash>?name=.
// `blobsync stat` shows it; GET /blobs/<hash>?download=1 sends it as
// Content-Disposition: attachment; filename="ascii"; filename*=UTF-8''pct
// (RFC 6266, RFC 5987). Names are hostile input: CR/LF, quotes, path
// separators and very long names must not reach the header as structure.
import crypto from 'node:crypto'
import http from 'node:http'
import { spawnSync } from 'node:child_process'
import { Server, assert, main, tmpDir, serverCommand } from './harness.mjs'
import { BlobClient, memoryBlob } from './blobclient.mjs'

const SECRET = 'filenames-room-secret-0123456789abcdef'
const now = () => Math.floor(Date.now() / 1000)
const b64 = x => Buffer.from(JSON.stringify(x)).toString('base64url')
function roomToken () {
  const input = `${b64({ alg: 'HS256', typ: 'blobsync-room+jwt' })}.${b64({ aud: 'blobsync:room', rooms: ['files'], scope: 'write', iat: now() - 5, exp: now() + 3600 })}`
  return `${input}.${crypto.createHmac('sha256', SECRET).update(input).digest('base64url')}`
}
const sha = b => crypto.createHash('sha256').update(b).digest('hex')

// Raw response headers (as sent, not as fetch normalizes them).
function rawHead (addr, path) {
  return new Promise((resolve, reject) => {
    const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.split(':').pop())]
    const req = http.get({ host, port, path }, res => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode, raw: res.rawHeaders }))
    })
    req.on('error', reject)
  })
}
const disposition = head => {
  const out = []
  for (let i = 0; i < head.raw.length; i += 2) if (head.raw[i].toLowerCase() === 'content-disposition') out.push(head.raw[i + 1])
  return out
}

main('filenames: blob channel and PUT /blobs keep the first name; stat and ?download=1 show it', async servers => {
  const dir = tmpDir('filenames')
  const s = await new Server(dir, ['--no-fsync', '--room-token-secret', SECRET]).start()
  servers.push(s)
  const base = `http://${s.addr}`
  const stat = hex => {
    const [bin] = serverCommand()
    const r = spawnSync(bin, ['--data', dir, 'stat', hex], { encoding: 'utf8' })
    assert(r.status === 0, `blobsync stat: ${r.stderr}`)
    return JSON.parse(r.stdout)
  }
  const upload = async (data, name) => {
    const c = await BlobClient.connect(s.url, 'files', { query: `?token=${roomToken()}` })
    const done = await c.upload(memoryBlob(data, 'application/octet-stream', name))
    c.close()
    assert(done.done, `channel upload of ${JSON.stringify(name)}: ${JSON.stringify(done)}`)
  }
  const put = (data, name) => fetch(`${base}/blobs/${sha(data)}?room=files&name=${encodeURIComponent(name)}`, {
    method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${roomToken()}` }
  })

  // 1. The blob channel: the UPLOAD's filename is kept; the first one wins.
  const a = crypto.randomBytes(300 * 1024)
  await upload(a, 'Relatório final.pdf')
  assert(stat(sha(a)).filename === 'Relatório final.pdf', `stat shows the name: ${JSON.stringify(stat(sha(a)))}`)
  await upload(a, 'renamed.pdf')
  assert(stat(sha(a)).filename === 'Relatório final.pdf', 'a second upload does not rename')
  let head = await rawHead(s.addr, `/blobs/${sha(a)}?download=1`)
  assert(head.status === 200, `download: ${head.status}`)
  assert(JSON.stringify(disposition(head)) === JSON.stringify(["attachment; filename=\"Relat_rio final.pdf\"; filename*=UTF-8''Relat%C3%B3rio%20final.pdf"]),
    `Content-Disposition: ${JSON.stringify(disposition(head))}`)
  head = await rawHead(s.addr, `/blobs/${sha(a)}`)
  assert(head.status === 200 && disposition(head).length === 0, 'no Content-Disposition without ?download=1')

  // 2. A blob stored without a name takes the first one given later (the
  // channel's "already here" path, then PUT /blobs keeps it).
  const b = crypto.randomBytes(1000)
  await upload(b, '')
  assert(stat(sha(b)).filename === undefined, 'no name, none shown')
  head = await rawHead(s.addr, `/blobs/${sha(b)}?download=1`)
  assert(JSON.stringify(disposition(head)) === JSON.stringify([`attachment; filename="${sha(b)}"; filename*=UTF-8''${sha(b)}`]),
    `unnamed: the hash is the name: ${JSON.stringify(disposition(head))}`)
  await upload(b, 'later.bin')
  assert(stat(sha(b)).filename === 'later.bin', 'the first name seen, even after the bytes')
  let r = await put(b, 'other.bin')
  assert(r.status === 201, `PUT: ${r.status}`)
  assert(stat(sha(b)).filename === 'later.bin', 'PUT does not rename')

  // 3. PUT /blobs?name= with hostile names.
  const c = crypto.randomBytes(2000)
  r = await put(c, 'evil\r\nSet-Cookie: x=1\r\n\r\n<html>"; filename="x.exe')
  assert(r.status === 201, `PUT hostile name: ${r.status}`)
  assert(stat(sha(c)).filename === 'evilSet-Cookie: x=1<html>"; filename="x.exe', `sanitized: ${JSON.stringify(stat(sha(c)))}`)
  head = await rawHead(s.addr, `/blobs/${sha(c)}?download=1`)
  const cd = disposition(head)
  assert(cd.length === 1 && !head.raw.some(h => /set-cookie/i.test(h) && !h.startsWith('attachment')), `one header, no injected one: ${JSON.stringify(head.raw)}`)
  assert(cd[0] === "attachment; filename=\"evilSet-Cookie: x=1<html>_; filename=_x.exe\"; filename*=UTF-8''evilSet-Cookie%3A%20x%3D1%3Chtml%3E%22%3B%20filename%3D%22x.exe",
    `quotes cannot close the quoted string: ${cd[0]}`)
  const d = crypto.randomBytes(3000)
  r = await put(d, '../../etc/' + 'é'.repeat(600) + '.txt')
  assert(r.status === 201, `PUT long name: ${r.status}`)
  const kept = stat(sha(d)).filename
  assert(Buffer.byteLength(kept) <= 255 && kept.startsWith('.._.._etc_é') && !kept.includes('\uFFFD'), `cut at a character: ${kept.length}`)
  head = await rawHead(s.addr, `/blobs/${sha(d)}?download=1`)
  assert(disposition(head)[0].length < 1200, `bounded header: ${disposition(head)[0].length}`)
  // A name of control characters only is no name.
  const e = crypto.randomBytes(4000)
  r = await put(e, '\r\n\t')
  assert(r.status === 201 && stat(sha(e)).filename === undefined, 'control characters only: no name')
})
