// Reads what putBlob accepts (Uint8Array, Blob/File, ReadableStream) as
// 256 KiB chunks, never the whole input at once: a Blob by slices, a stream
// by re-cutting its pieces. Stateless helpers.
import { CHUNK_SIZE } from './messages.js'

export type PutData = Uint8Array | Blob | ReadableStream<Uint8Array>

const isBlob = (d: unknown): d is Blob => typeof Blob !== 'undefined' && d instanceof Blob
const isStream = (d: unknown): d is ReadableStream<Uint8Array> =>
  typeof d === 'object' && d !== null && typeof (d as ReadableStream).getReader === 'function'

export function describe (data: unknown): 'bytes' | 'blob' | 'stream' {
  if (data instanceof Uint8Array) return 'bytes'
  if (isBlob(data)) return 'blob'
  if (isStream(data)) return 'stream'
  throw new TypeError('putBlob: data must be a Uint8Array, a Blob or File, or a ReadableStream<Uint8Array>')
}

/** The input's chunks in order; each is exactly 256 KiB except the last. */
export async function * chunksOf (data: PutData): AsyncGenerator<Uint8Array> {
  const kind = describe(data)
  if (kind === 'bytes') {
    const b = data as Uint8Array
    for (let o = 0; o < b.length; o += CHUNK_SIZE) yield b.subarray(o, Math.min(o + CHUNK_SIZE, b.length))
    return
  }
  if (kind === 'blob') {
    const b = data as Blob
    for (let o = 0; o < b.size; o += CHUNK_SIZE) {
      yield new Uint8Array(await b.slice(o, Math.min(o + CHUNK_SIZE, b.size)).arrayBuffer())
    }
    return
  }
  const reader = (data as ReadableStream<Uint8Array>).getReader()
  let buf = new Uint8Array(CHUNK_SIZE)
  let fill = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (!(value instanceof Uint8Array)) throw new TypeError('putBlob: the stream must yield Uint8Array chunks')
      let o = 0
      while (o < value.length) {
        const n = Math.min(CHUNK_SIZE - fill, value.length - o)
        buf.set(value.subarray(o, o + n), fill)
        fill += n
        o += n
        if (fill === CHUNK_SIZE) {
          yield buf
          buf = new Uint8Array(CHUNK_SIZE) // the consumer may still hold the last one
          fill = 0
        }
      }
    }
    if (fill > 0) yield buf.subarray(0, fill)
  } finally {
    reader.releaseLock()
  }
}

/** Random access to chunk i of an input that allows it (bytes, Blob); null for a stream. */
export function randomAccess (data: PutData): ((i: number, size: number) => Promise<Uint8Array>) | null {
  const kind = describe(data)
  if (kind === 'bytes') {
    const b = data as Uint8Array
    return async (i, size) => b.subarray(i * CHUNK_SIZE, Math.min((i + 1) * CHUNK_SIZE, size))
  }
  if (kind === 'blob') {
    const b = data as Blob
    return async (i, size) => new Uint8Array(await b.slice(i * CHUNK_SIZE, Math.min((i + 1) * CHUNK_SIZE, size)).arrayBuffer())
  }
  return null
}
