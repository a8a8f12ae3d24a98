"""A small stand-in for the stack's entrypoint: same contract, no Streamlit.

Downloads CODE_BUCKET/CODE_PREFIX into APP_DIR, checks it against the manifest,
logs ``code digest D verified``, compiles every module (a syntax error exits 1
with the traceback, as the real app's import would), then serves
``/_stcore/health`` and ``/`` (the digest) on STREAMLIT_SERVER_PORT.
"""

import hashlib
import http.server
import json
import os
import py_compile
import sys
from pathlib import Path

import boto3

bucket, prefix = os.environ["CODE_BUCKET"], os.environ["CODE_PREFIX"]
app_dir = Path(os.environ["APP_DIR"])
s3 = boto3.client("s3")
manifest = json.loads(
    s3.get_object(Bucket=bucket, Key=prefix + ".opskit-manifest.json")["Body"].read()
)
lines = []
for entry in sorted(manifest["files"], key=lambda e: e["path"].encode()):
    body = s3.get_object(Bucket=bucket, Key=prefix + entry["path"])["Body"].read()
    target = app_dir / entry["path"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    lines.append(f"{hashlib.sha256(body).hexdigest()}  {len(body)}  {entry['path']}\n")
digest = hashlib.sha256("".join(lines).encode()).hexdigest()
if digest != manifest["digest"]:
    print(f"code digest {digest} does not match the manifest", file=sys.stderr)
    sys.exit(2)
print(f"code digest {digest} verified")
for module in sorted(app_dir.rglob("*.py")):
    try:
        py_compile.compile(str(module), doraise=True)
    except py_compile.PyCompileError as err:
        print("Traceback (most recent call last):", file=sys.stderr)
        print(err.msg, file=sys.stderr)
        sys.exit(1)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok" if self.path == "/_stcore/health" else f"digest {digest}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


port = int(os.environ["STREAMLIT_SERVER_PORT"])
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(f"serving on 127.0.0.1:{port}", flush=True)
server.serve_forever()
