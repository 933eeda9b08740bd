// Streaming SHA-256: node:crypto in Node (native, several times faster),
// @noble/hashes elsewhere (WebCrypto has no incremental digest, and a blob
// must never be held whole to hash it). Each Hasher is single-use and not
// shared between tasks.
export interface Hasher {
  update (data: Uint8Array): void
  digest (): Uint8Array
}
export type HasherFactory = () => Hasher

let factory: Promise<HasherFactory> | undefined

const isNode = (): boolean =>
  typeof globalThis.process === 'object' && typeof globalThis.process?.versions?.node === 'string'

/** The best SHA-256 this runtime offers (loaded once). */
export function loadHasher (): Promise<HasherFactory> {
  if (factory === undefined) {
    factory = (async (): Promise<HasherFactory> => {
      if (isNode()) {
        const crypto = await import('node:crypto')
        return () => {
          const h = crypto.createHash('sha256')
          return {
            update: (d) => { h.update(d) },
            digest: () => new Uint8Array(h.digest())
          }
        }
      }
      const { sha256 } = await import('@noble/hashes/sha2')
      return () => {
        const h = sha256.create()
        return { update: (d) => { h.update(d) }, digest: () => h.digest() }
      }
    })()
  }
  return factory
}
