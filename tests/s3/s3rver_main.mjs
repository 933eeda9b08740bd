// Starts the real s3rver (npm, pinned by tests/package-lock.json) on
// 127.0.0.1 with an ephemeral port, data in DIR, one bucket; prints "PORT n".
// Usage: node s3rver_main.mjs DIR BUCKET
import S3rver from 's3rver';

const [dir, bucket] = process.argv.slice(2);
if (!dir || !bucket) {
  console.error('usage: s3rver_main.mjs DIR BUCKET');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory: dir,
  silent: true,
  configureBuckets: [{ name: bucket }],
});
const { port } = await server.run();
console.log(`PORT ${port}`);
