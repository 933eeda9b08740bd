// FsBlobCache: the BlobCache of Node, in a directory (default: a per-user cache
// directory, $XDG_CACHE_HOME/blobsync or ~/.cache/blobsync).
//
//   <dir>/<64 hex>/data       the blob's bytes; chunk i at offset i * 256 KiB
//   <dir>/<64 hex>/present    partial only: bitmap of the chunks written (bit i, LSB first)
//   <dir>/<64 hex>/info.json  partial only: size, type, name when known
//   <dir>/<64 hex>/blob.json  complete only (written last, by rename): size, type, name, chunk count
//   <dir>/<64 hex>/hashes     complete only, when known: 32 bytes per chunk
//   <dir>/staging-<id>/...    a put whose hash is not known yet
//
// Nothing is fsynced: a cache may lose chunks in a crash, and every byte is
// checked against the blob hash before an entry becomes complete, so a lost
// write costs a refetch, never a wrong blob.
// Thread safety: one instance per directory per process; see BlobCache for
// which calls may overlap (writeChunk for different chunks of one key).
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { type BlobCache, type CacheEntryInfo, type CachedBlob, type PartialEntry, bitmapBytes } from './cache.js'
import { CHUNK_SIZE } from './messages.js'

export function defaultCacheDir (): string {
  const xdg = process.env.XDG_CACHE_HOME
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache')
  return path.join(base, 'blobsync')
}

function dirName (key: string): string {
  let m = /^sha256:([0-9a-f]{64})$/.exec(key)
  if (m !== null) return m[1]
  m = /^staging:([0-9A-Za-z_-]{1,64})$/.exec(key)
  if (m !== null) return 'staging-' + m[1]
  throw new TypeError(`cache: invalid key ${JSON.stringify(key)}`)
}

interface Open { data: fsp.FileHandle, present?: fsp.FileHandle, bits?: Uint8Array }

export class FsBlobCache implements BlobCache {
  readonly dir: string
  private readonly open = new Map<string, Promise<Open>>()
  private ready: Promise<void>

  constructor (dir: string = defaultCacheDir()) {
    this.dir = dir
    this.ready = fsp.mkdir(dir, { recursive: true }).then(() => {})
  }

  private p (key: string, file?: string): string {
    return file === undefined ? path.join(this.dir, dirName(key)) : path.join(this.dir, dirName(key), file)
  }

  async stat (hash: string): Promise<CachedBlob | null> {
    await this.ready
    let json: string
    try { json = await fsp.readFile(this.p(hash, 'blob.json'), 'utf8') } catch { return null }
    const b = JSON.parse(json) as CachedBlob
    try {
      const hashes = new Uint8Array(await fsp.readFile(this.p(hash, 'hashes')))
      if (hashes.length === b.chunkCount * 32) b.chunkHashes = hashes
    } catch {}
    return b
  }

  async openPartial (key: string): Promise<PartialEntry | null> {
    await this.ready
    if (await this.stat(key).catch(() => null) !== null) return null
    let info: CacheEntryInfo | null = null
    let present: Uint8Array
    try {
      present = new Uint8Array(await fsp.readFile(this.p(key, 'present')))
    } catch { return null }
    try { info = JSON.parse(await fsp.readFile(this.p(key, 'info.json'), 'utf8')) as CacheEntryInfo } catch {}
    if (info !== null && present.length < bitmapBytes(info.chunkCount)) {
      const bits = new Uint8Array(bitmapBytes(info.chunkCount))
      bits.set(present)
      present = bits
    }
    return { info, present }
  }

  async createPartial (key: string, info: CacheEntryInfo | null): Promise<void> {
    await this.ready
    await this.delete(key)
    await fsp.mkdir(this.p(key), { recursive: true })
    if (info !== null) await fsp.writeFile(this.p(key, 'info.json'), JSON.stringify(info))
    const opening = (async (): Promise<Open> => {
      const data = await fsp.open(this.p(key, 'data'), 'w+')
      const present = await fsp.open(this.p(key, 'present'), 'w+')
      return { data, present, bits: new Uint8Array(info === null ? 0 : bitmapBytes(info.chunkCount)) }
    })()
    this.open.set(key, opening)
    await opening
  }

  async setPartialInfo (key: string, info: CacheEntryInfo): Promise<void> {
    await fsp.writeFile(this.p(key, 'info.json'), JSON.stringify(info))
  }

  // Open files of an entry, opened once even when calls overlap.
  private handles (key: string): Promise<Open> {
    let o = this.open.get(key)
    if (o === undefined) {
      o = (async (): Promise<Open> => {
        const data = await fsp.open(this.p(key, 'data'), 'r+')
        if (!await exists(this.p(key, 'present'))) return { data }
        const present = await fsp.open(this.p(key, 'present'), 'r+')
        return { data, present, bits: new Uint8Array(await present.readFile()) }
      })()
      this.open.set(key, o)
      o.catch(() => this.open.delete(key))
    }
    return o
  }

  async writeChunk (key: string, index: number, data: Uint8Array): Promise<void> {
    const o = await this.handles(key)
    await writeAll(o.data, data, index * CHUNK_SIZE)
    if (o.present === undefined || o.bits === undefined) throw new Error(`cache: ${key} is not a partial entry`)
    const byte = index >> 3
    if (byte >= o.bits.length) {
      const bits = new Uint8Array(Math.max(byte + 1, o.bits.length * 2))
      bits.set(o.bits)
      o.bits = bits
    }
    o.bits[byte] |= 1 << (index & 7)
    // After the data: a present bit never names a chunk not yet written.
    await o.present.write(o.bits, byte, 1, byte)
  }

  async readChunk (key: string, index: number, length: number): Promise<Uint8Array> {
    const o = await this.handles(key)
    const buf = new Uint8Array(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await o.data.read(buf, done, length - done, index * CHUNK_SIZE + done)
      if (bytesRead === 0) throw new Error(`cache: ${key} is shorter than chunk ${index}`)
      done += bytesRead
    }
    return buf
  }

  async complete (key: string, hash: string, blob: CachedBlob): Promise<void> {
    await this.closeKey(key)
    if (key !== hash) {
      await this.closeKey(hash)
      if (await this.stat(hash) !== null) { await this.delete(key); return }
      await fsp.rm(this.p(hash), { recursive: true, force: true })
      await fsp.rename(this.p(key), this.p(hash))
    }
    // A 0-byte blob has no chunks and may never have created its data file.
    await (await fsp.open(this.p(hash, 'data'), 'a')).close()
    if (blob.chunkHashes !== undefined) await fsp.writeFile(this.p(hash, 'hashes'), blob.chunkHashes)
    const { chunkHashes: _, ...info } = blob
    const tmp = this.p(hash, 'blob.json.tmp')
    await fsp.writeFile(tmp, JSON.stringify(info))
    await fsp.rename(tmp, this.p(hash, 'blob.json'))
    await fsp.rm(this.p(hash, 'present'), { force: true })
    await fsp.rm(this.p(hash, 'info.json'), { force: true })
  }

  async delete (key: string): Promise<void> {
    await this.closeKey(key)
    await fsp.rm(this.p(key), { recursive: true, force: true })
  }

  /** A Blob backed by the file (Node >= 19.8); null on older Node or when absent. */
  async blob (hash: string): Promise<Blob | null> {
    const b = await this.stat(hash)
    const openAsBlob = (fs as unknown as { openAsBlob?: (p: string, o: { type: string }) => Promise<Blob> }).openAsBlob
    if (b === null || openAsBlob === undefined) return null
    return await openAsBlob(this.p(hash, 'data'), { type: b.mimeType })
  }

  /** The path of a complete entry's bytes (Node tools may read it directly). */
  dataPath (hash: string): string { return this.p(hash, 'data') }

  async close (): Promise<void> {
    for (const key of [...this.open.keys()]) await this.closeKey(key)
  }

  private async closeKey (key: string): Promise<void> {
    const opening = this.open.get(key)
    if (opening === undefined) return
    this.open.delete(key)
    const o = await opening.catch(() => null)
    await o?.data.close()
    await o?.present?.close()
  }
}

async function exists (p: string): Promise<boolean> {
  try { await fsp.access(p); return true } catch { return false }
}

async function writeAll (fh: fsp.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done)
    done += bytesWritten
  }
}
