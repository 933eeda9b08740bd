// @blobsync/client/node: what only Node can use (the file-system BlobCache).
export { FsBlobCache, defaultCacheDir } from './fs-cache.js'
export * from './index.js'
