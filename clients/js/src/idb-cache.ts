// IndexedDbBlobCache: the BlobCache of browsers. Two object stores in one
// database (default name 'blobsync'):
//   entries: key -> { info, present (bitmap), complete, chunkHashes, dataKey }
//   chunks:  [dataKey, index] -> Uint8Array (one 256 KiB chunk)
// Completing a staged put points the blob's entry at the staging chunks
// (dataKey) instead of copying them.
// Thread safety: IndexedDB transactions serialise access; the provider still
// runs one transfer per key.
import { type BlobCache, type CacheEntryInfo, type CachedBlob, type PartialEntry, bitmapBytes } from './cache.js'

interface Entry {
  info: CacheEntryInfo | null
  present: Uint8Array
  complete: boolean
  chunkHashes?: Uint8Array
  dataKey: string
}

const req = <T>(r: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error) })
const done = (t: IDBTransaction): Promise<void> =>
  new Promise((resolve, reject) => { t.oncomplete = () => resolve(); t.onerror = () => reject(t.error); t.onabort = () => reject(t.error) })

export class IndexedDbBlobCache implements BlobCache {
  private readonly db: Promise<IDBDatabase>

  constructor (name = 'blobsync') {
    const open = indexedDB.open(name, 1)
    open.onupgradeneeded = () => {
      open.result.createObjectStore('entries')
      open.result.createObjectStore('chunks')
    }
    this.db = req(open)
  }

  private async entry (key: string): Promise<Entry | undefined> {
    const t = (await this.db).transaction('entries', 'readonly')
    return await req(t.objectStore('entries').get(key)) as Entry | undefined
  }

  private async putEntry (key: string, e: Entry): Promise<void> {
    const t = (await this.db).transaction('entries', 'readwrite')
    t.objectStore('entries').put(e, key)
    await done(t)
  }

  async stat (hash: string): Promise<CachedBlob | null> {
    const e = await this.entry(hash)
    if (e?.complete !== true || e.info === null) return null
    return { ...e.info, chunkHashes: e.chunkHashes }
  }

  async openPartial (key: string): Promise<PartialEntry | null> {
    const e = await this.entry(key)
    return e === undefined || e.complete ? null : { info: e.info, present: e.present }
  }

  async createPartial (key: string, info: CacheEntryInfo | null): Promise<void> {
    await this.delete(key)
    await this.putEntry(key, { info, present: new Uint8Array(info === null ? 0 : bitmapBytes(info.chunkCount)), complete: false, dataKey: key })
  }

  async setPartialInfo (key: string, info: CacheEntryInfo): Promise<void> {
    const e = await this.entry(key)
    if (e === undefined) throw new Error(`cache: no entry ${key}`)
    await this.putEntry(key, { ...e, info })
  }

  async writeChunk (key: string, index: number, data: Uint8Array): Promise<void> {
    const t = (await this.db).transaction(['entries', 'chunks'], 'readwrite')
    const entries = t.objectStore('entries')
    const e = await req(entries.get(key)) as Entry | undefined
    if (e === undefined) throw new Error(`cache: no entry ${key}`)
    t.objectStore('chunks').put(data.slice(), [e.dataKey, index])
    if ((index >> 3) >= e.present.length) {
      const bits = new Uint8Array(bitmapBytes(index + 1))
      bits.set(e.present)
      e.present = bits
    }
    e.present[index >> 3] |= 1 << (index & 7)
    entries.put(e, key)
    await done(t)
  }

  async readChunk (key: string, index: number): Promise<Uint8Array> {
    const e = await this.entry(key)
    if (e === undefined) throw new Error(`cache: no entry ${key}`)
    const t = (await this.db).transaction('chunks', 'readonly')
    const c = await req(t.objectStore('chunks').get([e.dataKey, index])) as Uint8Array | undefined
    if (c === undefined) throw new Error(`cache: chunk ${index} of ${key} is not present`)
    return c
  }

  async complete (key: string, hash: string, blob: CachedBlob): Promise<void> {
    const e = await this.entry(key)
    if (e === undefined) throw new Error(`cache: no entry ${key}`)
    if (key !== hash) {
      if (await this.stat(hash) !== null) { await this.delete(key); return }
      await this.delete(hash)
      const t = (await this.db).transaction('entries', 'readwrite')
      t.objectStore('entries').delete(key)
      await done(t)
    }
    const { chunkHashes, ...info } = blob
    await this.putEntry(hash, { info, present: new Uint8Array(0), complete: true, chunkHashes, dataKey: e.dataKey })
  }

  async delete (key: string): Promise<void> {
    const e = await this.entry(key)
    if (e === undefined) return
    const t = (await this.db).transaction(['entries', 'chunks'], 'readwrite')
    t.objectStore('entries').delete(key)
    t.objectStore('chunks').delete(IDBKeyRange.bound([e.dataKey, 0], [e.dataKey, Infinity]))
    await done(t)
  }

  async close (): Promise<void> { (await this.db).close() }
}
