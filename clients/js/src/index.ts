// @blobsync/client: Yjs document sync and content-addressed blobs for
// blobsync servers. See README.md for the API. Browser-safe: Node-only code
// (the file-system cache) is in '@blobsync/client/node' and loaded lazily.
export {
  createBlobSyncProvider, BlobSyncProvider, BlobFetchError, canonicalUrl,
  type BlobRef, type BlobProgress, type BlobSyncProviderOptions, type PutOptions, type GetOptions, type HolderAttempt
} from './provider.js'
export { type BlobCache, type CacheEntryInfo, type CachedBlob, type PartialEntry, MemoryBlobCache } from './cache.js'
export { IndexedDbBlobCache } from './idb-cache.js'
export { BlobSyncError } from './transfer.js'
export { CHUNK_SIZE, chunkCountOf, hashRef, parseHashRef } from './messages.js'
export type { WebSocketConstructor, WebSocketLike } from './room-socket.js'
