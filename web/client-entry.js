// Entry of the page's client bundle (cmake/WebPage.cmake runs esbuild on it):
// the JS client from its TypeScript source, and the yjs that client imports,
// so the page's Y.Doc is of the one yjs module the provider accepts.
export { createBlobSyncProvider, hashRef, parseHashRef, CHUNK_SIZE } from '../clients/js/src/index.ts'
export * as Y from 'yjs'
