#!/usr/bin/env python3
"""A strict little S3 for tests: verifies every SigV4 signature, injects faults.

Neither s3rver nor moto checks signatures or payload hashes, so this server
recomputes the AWS Signature Version 4 of every request from the credentials
it was given and answers 403 SignatureDoesNotMatch on any difference. It also
requires `x-amz-content-sha256` to be signed and, unless it is
UNSIGNED-PAYLOAD, to equal the SHA-256 of the body (400
XAmzContentSHA256Mismatch), as AWS S3 does. A libcurl that signs the empty
payload, an unsorted query or a missing header therefore fails the tests.

Only the subset of S3 that blobsync uses is implemented: Put/Get(Range)/Head/
Delete/Copy object, multipart (create, upload part, upload part copy,
complete, abort, list uploads) and ListObjectsV2. State lives in --dir so a
killed server can be restarted on the same data (crash tests).

Faults are configured through unsigned control requests that no S3 client
would send:
  POST /__fault?mode=M&match=S&count=N[&status=500][&after_bytes=B]
     mode status: answer `status` (default 500, S3 error XML) instead.
     mode stall : read the request, then never answer.
     mode close : GET: send the headers and half the body, then close;
                  others: read half the body, then close without answering.
     mode die   : read `after_bytes` of the body, then exit the process.
     mode refuse: answer `status` to "Expect: 100-continue" instead of
                  "100 Continue", before any body byte, and close.
     The fault applies to the next `count` requests whose "METHOD path?query"
     contains `match`.
  POST /__reset     clears faults and counters
  GET  /__stats     JSON: requests per method, signature failures, faults fired

Usage: fake_s3.py --dir D --bucket B [--port 0] [--access-key K --secret-key S
       --region R]. Prints "PORT <n>" on stdout once listening.
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

ARGS = None
LOCK = threading.Lock()
FAULTS = []  # dicts: mode, match, count, status, after_bytes
STATS = {"requests": {}, "signature_failures": 0, "payload_failures": 0, "faults_fired": 0, "incomplete_bodies": 0,
         "unsigned_payloads": 0}
STALL = threading.Event()  # never set: stalled handlers wait on it


def aws_quote(text, safe_slash):
    return urllib.parse.quote(text, safe="-_.~/" if safe_slash else "-_.~")


def canonical_query(raw):
    pairs = []
    for item in raw.split("&") if raw else []:
        name, _, value = item.partition("=")
        pairs.append((aws_quote(urllib.parse.unquote(name), False),
                      aws_quote(urllib.parse.unquote(value), False)))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def signing_key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def key_path(key):
    return os.path.join(ARGS.dir, "objects", urllib.parse.quote(key, safe=""))


def atomic_write(path, data):
    tmp = path + ".part-" + secrets.token_hex(4)
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def etag_of(data):
    return '"' + hashlib.md5(data).hexdigest() + '"'


def iso_date(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def http_date(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%a, %d %b %Y %H:%M:%S GMT")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    # -- plumbing ---------------------------------------------------------
    def send(self, status, body=b"", headers=None, head=False):
        self.send_response(status)
        headers = dict(headers or {})
        if isinstance(body, str):
            body = body.encode()
        if body and "Content-Type" not in headers:
            headers["Content-Type"] = "application/xml"
        headers.setdefault("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def error(self, status, code, message, head=False):
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{escape(message)}</Message><RequestId>fake</RequestId></Error>")
        self.send(status, b"" if head else body, head=head)

    def read_body(self, limit=None):
        n = int(self.headers.get("Content-Length") or 0)
        if limit is not None:
            n = min(n, limit)
        chunks = []
        while n > 0:
            c = self.rfile.read(min(n, 1 << 20))
            if not c:
                break
            chunks.append(c)
            n -= len(c)
        return b"".join(chunks)

    def take_fault(self, line, refuse=False):
        with LOCK:
            for f in FAULTS:
                if f["count"] > 0 and f["match"] in line and (f["mode"] == "refuse") == refuse:
                    f["count"] -= 1
                    STATS["faults_fired"] += 1
                    return dict(f)
        return None

    def handle_expect_100(self):
        fault = self.take_fault(f"{self.command} {self.path}", refuse=True)
        if fault:
            self.close_connection = True
            self.error(int(fault.get("status", 503)), "SlowDown", "injected refusal before the body")
            return False
        return super().handle_expect_100()

    # -- SigV4 ------------------------------------------------------------
    def verify_signature(self, body):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return "missing or non-SigV4 Authorization header"
        fields = {}
        for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value
        try:
            access, date, region, service, term = fields["Credential"].split("/")
            signed = fields["SignedHeaders"].split(";")
            signature = fields["Signature"]
        except (KeyError, ValueError):
            return "malformed Authorization header"
        if access != ARGS.access_key:
            return "unknown access key"
        if (region, service, term) != (ARGS.region, "s3", "aws4_request"):
            return f"bad credential scope {region}/{service}/{term}"
        amz_date = self.headers.get("x-amz-date", "")
        if not amz_date.startswith(date):
            return "x-amz-date does not match the credential date"
        try:
            t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            return "bad x-amz-date"
        if abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) > 900:
            return "request time too skewed"
        for required in ("host", "x-amz-date", "x-amz-content-sha256"):
            if required not in signed:
                return f"{required} is not signed (SignedHeaders={';'.join(signed)})"
        if signed != sorted(signed):
            return "SignedHeaders not sorted"
        payload_hash = self.headers.get("x-amz-content-sha256", "")
        path, _, query = self.path.partition("?")
        canon_headers = ""
        for name in signed:
            value = self.headers.get(name)
            if value is None:
                return f"signed header {name} is absent"
            canon_headers += name + ":" + " ".join(value.strip().split()) + "\n"
        creq = "\n".join([
            self.command,
            aws_quote(urllib.parse.unquote(path), True),
            canonical_query(query),
            canon_headers,
            ";".join(signed),
            payload_hash,
        ])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, f"{date}/{region}/s3/aws4_request",
                         hashlib.sha256(creq.encode()).hexdigest()])
        want = hmac.new(signing_key(ARGS.secret_key, date, region, "s3"), sts.encode(),
                        hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, signature):
            return "signature mismatch; canonical request was:\n" + creq
        return None

    # -- dispatch ---------------------------------------------------------
    def handle_any(self):
        path, _, query = self.path.partition("?")
        if path.startswith("/__"):
            return self.control(path, query)
        line = f"{self.command} {self.path}"
        with LOCK:
            STATS["requests"][self.command] = STATS["requests"].get(self.command, 0) + 1
        fault = self.take_fault(line)
        if fault:
            mode = fault["mode"]
            if mode == "status":
                self.read_body()
                self.close_connection = True
                return self.error(int(fault.get("status", 500)), "InternalError",
                                  "injected fault", head=self.command == "HEAD")
            if mode == "stall":
                self.read_body()
                STALL.wait()
                return None
            if mode == "die":
                self.read_body(int(fault.get("after_bytes", 0)))
                os._exit(17)
            if mode == "close" and self.command in ("PUT", "POST"):
                n = int(self.headers.get("Content-Length") or 0)
                self.read_body(n // 2)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return None
        body = self.read_body()
        if len(body) < int(self.headers.get("Content-Length") or 0):
            # The client went away mid-body: like S3, store nothing and answer nothing.
            with LOCK:
                STATS["incomplete_bodies"] += 1
            self.close_connection = True
            return None
        problem = self.verify_signature(body)
        if problem:
            with LOCK:
                STATS["signature_failures"] += 1
            sys.stderr.write(f"fake_s3: 403 for {line}: {problem}\n")
            return self.error(403, "SignatureDoesNotMatch", problem, head=self.command == "HEAD")
        payload_hash = self.headers.get("x-amz-content-sha256")
        if payload_hash == "UNSIGNED-PAYLOAD":
            with LOCK:
                STATS["unsigned_payloads"] += 1
        elif payload_hash != hashlib.sha256(body).hexdigest():
            with LOCK:
                STATS["payload_failures"] += 1
            sys.stderr.write(f"fake_s3: 400 for {line}: payload hash mismatch\n")
            return self.error(400, "XAmzContentSHA256Mismatch",
                              "The provided 'x-amz-content-sha256' header does not match what was computed.")
        parts = path.split("/", 2)
        bucket = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        key = urllib.parse.unquote(parts[2]) if len(parts) > 2 else ""
        if bucket != ARGS.bucket:
            return self.error(404, "NoSuchBucket", "The specified bucket does not exist")
        q = {}
        for item in query.split("&") if query else []:
            n, _, v = item.partition("=")
            q[urllib.parse.unquote(n)] = urllib.parse.unquote(v)
        return self.operation(key, q, body, fault)

    def operation(self, key, q, body, fault):
        m = self.command
        if not key:
            if m == "GET" and "uploads" in q:
                return self.list_uploads(q)
            if m == "GET":
                return self.list_objects(q)
            if m == "PUT":
                return self.send(200)
            return self.error(405, "MethodNotAllowed", "not supported by fake_s3")
        if m == "POST" and "uploads" in q:
            upload_id = secrets.token_hex(16)
            d = os.path.join(ARGS.dir, "uploads", upload_id)
            os.makedirs(d)
            atomic_write(os.path.join(d, "key"), key.encode())
            return self.send(200, f"<InitiateMultipartUploadResult><Bucket>{ARGS.bucket}</Bucket>"
                                  f"<Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId>"
                                  "</InitiateMultipartUploadResult>")
        if "uploadId" in q:
            d = os.path.join(ARGS.dir, "uploads", os.path.basename(q["uploadId"]))
            if not os.path.isdir(d):
                return self.error(404, "NoSuchUpload", "The specified upload does not exist")
            if m == "PUT":
                n = int(q.get("partNumber", "0"))
                if not 1 <= n <= 10000:
                    return self.error(400, "InvalidArgument", "bad part number")
                if "x-amz-copy-source" in self.headers:
                    data = self.copy_source()
                    if data is None:
                        return self.error(404, "NoSuchKey", "copy source missing")
                    rng = self.headers.get("x-amz-copy-source-range")
                    if rng:
                        a, b = rng.split("=")[1].split("-")
                        data = data[int(a):int(b) + 1]
                    atomic_write(os.path.join(d, str(n)), data)
                    return self.send(200, f"<CopyPartResult><ETag>{escape(etag_of(data))}</ETag></CopyPartResult>")
                atomic_write(os.path.join(d, str(n)), body)
                return self.send(200, headers={"ETag": etag_of(body)})
            if m == "POST":
                return self.complete(d, key, body)
            if m == "DELETE":
                for f in os.listdir(d):
                    os.unlink(os.path.join(d, f))
                os.rmdir(d)
                return self.send(204)
            return self.error(405, "MethodNotAllowed", "not supported by fake_s3")
        p = key_path(key)
        if m == "PUT":
            if "x-amz-copy-source" in self.headers:
                data = self.copy_source()
                if data is None:
                    return self.error(404, "NoSuchKey", "copy source missing")
                atomic_write(p, data)
                return self.send(200, f"<CopyObjectResult><ETag>{escape(etag_of(data))}</ETag></CopyObjectResult>")
            atomic_write(p, body)
            return self.send(200, headers={"ETag": etag_of(body)})
        if m in ("GET", "HEAD"):
            try:
                with open(p, "rb") as f:
                    data = f.read()
                mtime = os.path.getmtime(p)
            except FileNotFoundError:
                return self.error(404, "NoSuchKey", "The specified key does not exist.", head=m == "HEAD")
            status, start, end = 200, 0, len(data)
            headers = {"ETag": etag_of(data), "Last-Modified": http_date(mtime),
                       "Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
            rng = self.headers.get("Range")
            if rng:
                a, _, b = rng.split("=", 1)[1].partition("-")
                start = int(a)
                end = min(int(b) + 1, len(data)) if b else len(data)
                if start >= len(data):
                    return self.error(416, "InvalidRange", "The requested range is not satisfiable")
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
            chunk = data[start:end]
            headers["Content-Length"] = str(len(chunk))
            if fault and fault["mode"] == "close" and m == "GET":
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(chunk[: len(chunk) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return None
            return self.send(status, chunk, headers, head=m == "HEAD")
        if m == "DELETE":
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
            return self.send(204)
        return self.error(405, "MethodNotAllowed", "not supported by fake_s3")

    def copy_source(self):
        src = urllib.parse.unquote(self.headers["x-amz-copy-source"]).lstrip("/")
        bucket, _, key = src.partition("/")
        if bucket != ARGS.bucket:
            return None
        try:
            with open(key_path(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def complete(self, d, key, body):
        text = body.decode()
        parts = []
        for chunk in text.split("<Part>")[1:]:
            n = int(chunk.split("<PartNumber>")[1].split("</PartNumber>")[0])
            etag = chunk.split("<ETag>")[1].split("</ETag>")[0].replace("&quot;", '"')
            parts.append((n, etag))
        if not parts or [n for n, _ in parts] != sorted({n for n, _ in parts}):
            return self.error(400, "InvalidPartOrder", "parts must be ascending")
        data = b""
        for n, etag in parts:
            try:
                with open(os.path.join(d, str(n)), "rb") as f:
                    piece = f.read()
            except FileNotFoundError:
                return self.error(400, "InvalidPart", f"part {n} was not uploaded")
            if etag_of(piece) != etag:
                return self.error(400, "InvalidPart", f"part {n} has a different ETag")
            data += piece
        atomic_write(key_path(key), data)
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)
        return self.send(200, f"<CompleteMultipartUploadResult><Bucket>{ARGS.bucket}</Bucket>"
                              f"<Key>{escape(key)}</Key><ETag>{escape(etag_of(data))}</ETag>"
                              "</CompleteMultipartUploadResult>")

    def list_objects(self, q):
        if q.get("list-type") != "2":
            return self.error(400, "InvalidArgument", "fake_s3 only lists with list-type=2")
        prefix = q.get("prefix", "")
        after = q.get("continuation-token") or q.get("start-after", "")
        max_keys = int(q.get("max-keys", "1000"))
        names = sorted(urllib.parse.unquote(n) for n in os.listdir(os.path.join(ARGS.dir, "objects"))
                       if ".part-" not in n)
        names = [n for n in names if n.startswith(prefix) and n > after]
        page, truncated = names[:max_keys], len(names) > max_keys
        out = ["<ListBucketResult>", f"<Name>{ARGS.bucket}</Name>", f"<Prefix>{escape(prefix)}</Prefix>",
               f"<KeyCount>{len(page)}</KeyCount>", f"<MaxKeys>{max_keys}</MaxKeys>",
               f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
        for n in page:
            st = os.stat(key_path(n))
            out.append(f"<Contents><Key>{escape(n)}</Key><LastModified>{iso_date(st.st_mtime)}</LastModified>"
                       f"<Size>{st.st_size}</Size></Contents>")
        if truncated:
            out.append(f"<NextContinuationToken>{escape(page[-1])}</NextContinuationToken>")
        out.append("</ListBucketResult>")
        return self.send(200, "".join(out))

    def list_uploads(self, q):
        prefix = q.get("prefix", "")
        base = os.path.join(ARGS.dir, "uploads")
        items = []
        for upload_id in os.listdir(base):
            key_file = os.path.join(base, upload_id, "key")
            with open(key_file, "rb") as f:
                key = f.read().decode()
            if key.startswith(prefix):
                items.append((key, upload_id, os.path.getmtime(key_file)))
        items.sort()
        marker = (q.get("key-marker", ""), q.get("upload-id-marker", ""))
        items = [i for i in items if i[:2] > marker]
        max_uploads = int(q.get("max-uploads", "1000"))
        page, truncated = items[:max_uploads], len(items) > max_uploads
        out = ["<ListMultipartUploadsResult>", f"<Bucket>{ARGS.bucket}</Bucket>",
               f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
        if truncated:
            out.append(f"<NextKeyMarker>{escape(page[-1][0])}</NextKeyMarker>"
                       f"<NextUploadIdMarker>{page[-1][1]}</NextUploadIdMarker>")
        for key, upload_id, mtime in page:
            out.append(f"<Upload><Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId>"
                       f"<Initiated>{iso_date(mtime)}</Initiated></Upload>")
        out.append("</ListMultipartUploadsResult>")
        return self.send(200, "".join(out))

    def control(self, path, query):
        self.read_body()
        q = dict(urllib.parse.parse_qsl(query))
        if path == "/__fault":
            with LOCK:
                FAULTS.append({"mode": q.get("mode", "status"), "match": q.get("match", ""),
                               "count": int(q.get("count", "1")), "status": q.get("status", "500"),
                               "after_bytes": q.get("after_bytes", "0")})
            return self.send(200, b"ok", {"Content-Type": "text/plain"})
        if path == "/__reset":
            with LOCK:
                FAULTS.clear()
                STATS.update({"requests": {}, "signature_failures": 0, "payload_failures": 0,
                              "faults_fired": 0, "unsigned_payloads": 0, "incomplete_bodies": 0})
            return self.send(200, b"ok", {"Content-Type": "text/plain"})
        if path == "/__stats":
            with LOCK:
                body = json.dumps(STATS)
            return self.send(200, body, {"Content-Type": "application/json"})
        return self.send(404)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--access-key", default="AKIAIOSFODNN7EXAMPLE")
    p.add_argument("--secret-key", default="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    p.add_argument("--region", default="us-east-1")
    ARGS = p.parse_args()
    os.makedirs(os.path.join(ARGS.dir, "objects"), exist_ok=True)
    os.makedirs(os.path.join(ARGS.dir, "uploads"), exist_ok=True)
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
