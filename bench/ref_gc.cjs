// Preloaded into the reference y-websocket server by bench/sync.sh (node
// --expose-gc -r bench/ref_gc.cjs ...): SIGUSR2 runs a full garbage
// collection, so memory readings count live objects, not garbage V8 has not
// collected yet. Changes nothing else in the server.
process.on('SIGUSR2', () => {
  global.gc()
  global.gc()
})
