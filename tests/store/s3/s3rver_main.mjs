// Starts the real s3rver (npm, pinned by tests/package-lock.json) on
// 127.0.0.1 with an ephemeral port, data in DIR, one bucket; prints "PORT n".
// Usage: node s3rver_main.mjs DIR BUCKET
import S3rver from 's3rver';
import fs from 'node:fs/promises';

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
// s3rver's DELETE removes a key's parent directories once they are empty,
// racing with a PUT into the same prefix (its mkdirp done, its open not yet):
// the PUT then dies with ENOENT and takes the server down. S3 has no
// directories, and the backend deletes tmp/ keys in the background while the
// next upload writes one, so delete only the object's files and leave the
// directories (listing walks files, so empty ones change nothing).
const store = server.store;
store.deleteObject = async (bucketName, key) => {
  await Promise.all(
    ['object', 'object.md5', 'metadata.json'].map(kind =>
      fs.unlink(store.getResourcePath(bucketName, key, kind)).catch(err => {
        if (err.code !== 'ENOENT') throw err;
      }),
    ),
  );
};
const { port } = await server.run();
console.log(`PORT ${port}`);
