// BlobCache: where a provider keeps blobs on this device, chunk by chunk
// (256 KiB chunks, docs/protocol.md), complete or partial. A partial entry
// keeps every chunk verified so far, so a download interrupted at one holder
// resumes at the next (or after a restart) and a streamed put can stage its
// bytes before its hash is known.
//
// Keys: 'sha256:<64 hex>' for a blob (complete or being downloaded), or
// 'staging:<id>' for a put whose hash is not known yet.
//
// Thread-safety contract (for implementations): calls for different keys may
// run concurrently, and so may writeChunk calls for different chunks of one
// key (a put keeps a few in flight); anything else for one key is issued
// only after the previous call resolved (one transfer per key). Implementations: FsBlobCache (Node,
// '@blobsync/client/node'), IndexedDbBlobCache (browsers), MemoryBlobCache.

/** What is known about a cached blob. */
export interface CacheEntryInfo {
  size: number
  mimeType: string
  filename: string
  chunkCount: number
}

/** A complete, verified entry. */
export interface CachedBlob extends CacheEntryInfo {
  /** 32 bytes per chunk, concatenated, when known (a put knows them; a download may not). */
  chunkHashes?: Uint8Array
}

/** A partial entry: which chunks are present (bit i, LSB first in byte i/8). */
export interface PartialEntry {
  info: CacheEntryInfo | null
  present: Uint8Array
}

export interface BlobCache {
  /** A complete entry's info, or null when the blob is not (completely) here. */
  stat (hash: string): Promise<CachedBlob | null>
  /** A partial entry (null: none). */
  openPartial (key: string): Promise<PartialEntry | null>
  /** Starts a partial entry, discarding whatever the key held. info is null when the size is not yet known. */
  createPartial (key: string, info: CacheEntryInfo | null): Promise<void>
  /** Records the size etc. of a partial entry created without them. */
  setPartialInfo (key: string, info: CacheEntryInfo): Promise<void>
  /** Stores chunk `index` (already verified) of a partial entry and marks it present. */
  writeChunk (key: string, index: number, data: Uint8Array): Promise<void>
  /** Reads chunk `index` of an entry (complete, or present in a partial one). */
  readChunk (key: string, index: number, length: number): Promise<Uint8Array>
  /**
   * Turns the partial entry `key` into the complete entry `hash` (key may be
   * hash). If `hash` is already complete, the partial entry is dropped.
   */
  complete (key: string, hash: string, blob: CachedBlob): Promise<void>
  /** Removes an entry, complete or partial (no error when absent). */
  delete (key: string): Promise<void>
  /** Optional: a Blob of a complete entry that is not read into memory (a file-backed Blob). */
  blob? (hash: string): Promise<Blob | null>
  /** Optional: releases open files or databases. */
  close? (): Promise<void>
}

export const bitSet = (bits: Uint8Array, i: number): boolean => ((bits[i >> 3] >> (i & 7)) & 1) === 1
export const setBit = (bits: Uint8Array, i: number): void => { bits[i >> 3] |= 1 << (i & 7) }
export const bitmapBytes = (count: number): number => Math.ceil(count / 8)

/** A cache that keeps everything in memory: for tests and short-lived tools. */
export class MemoryBlobCache implements BlobCache {
  private readonly entries = new Map<string, { info: CacheEntryInfo | null, present: Uint8Array, chunks: Map<number, Uint8Array>, complete?: CachedBlob }>()

  async stat (hash: string): Promise<CachedBlob | null> { return this.entries.get(hash)?.complete ?? null }
  async openPartial (key: string): Promise<PartialEntry | null> {
    const e = this.entries.get(key)
    return e === undefined || e.complete !== undefined ? null : { info: e.info, present: e.present.slice() }
  }

  async createPartial (key: string, info: CacheEntryInfo | null): Promise<void> {
    this.entries.set(key, { info, present: new Uint8Array(info === null ? 0 : bitmapBytes(info.chunkCount)), chunks: new Map() })
  }

  async setPartialInfo (key: string, info: CacheEntryInfo): Promise<void> {
    const e = this.need(key)
    e.info = info
    const bits = new Uint8Array(bitmapBytes(info.chunkCount))
    bits.set(e.present.subarray(0, bits.length))
    e.present = bits
  }

  async writeChunk (key: string, index: number, data: Uint8Array): Promise<void> {
    const e = this.need(key)
    if ((index >> 3) >= e.present.length) {
      const bits = new Uint8Array(Math.max(bitmapBytes(index + 1), e.present.length * 2))
      bits.set(e.present)
      e.present = bits
    }
    e.chunks.set(index, data.slice())
    setBit(e.present, index)
  }

  async readChunk (key: string, index: number): Promise<Uint8Array> {
    const c = this.need(key).chunks.get(index)
    if (c === undefined) throw new Error(`cache: chunk ${index} of ${key} is not present`)
    return c
  }

  async complete (key: string, hash: string, blob: CachedBlob): Promise<void> {
    const e = this.need(key)
    this.entries.delete(key)
    if (this.entries.get(hash)?.complete !== undefined) return
    this.entries.set(hash, { ...e, info: blob, complete: blob })
  }

  async delete (key: string): Promise<void> { this.entries.delete(key) }

  private need (key: string) {
    const e = this.entries.get(key)
    if (e === undefined) throw new Error(`cache: no entry ${key}`)
    return e
  }
}
