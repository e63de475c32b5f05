"""A small fake of the Hugging Face Hub's HTTP API, for tests.

It serves what huggingface_hub's snapshot_download / hf_hub_download and the
optimum-cpp hub client call, with the Hub's headers and error codes:

  GET  /api/models/{repo}[/revision/{rev}]     model info: sha, siblings
  GET  /api/models/{repo}/tree/{rev}[/{path}]  file listing (recursive=true)
  HEAD/GET /{repo}/resolve/{rev}/{path}        file content; ETag, X-Repo-Commit;
                                               LFS files: 302 to /cdn/ on the
                                               CDN host with X-Linked-Etag (sha256)
                                               and X-Linked-Size
  GET  /cdn/{sha256}                           LFS content (Range supported)
  POST /api/models/{repo}/preupload/{rev}      upload mode of each file: "lfs" when
                                               >= 10 MiB, binary (NUL byte or not UTF-8
                                               in its 512-byte sample) or matched by the
                                               repo's .gitattributes; shouldIgnore from
                                               .gitignore
  POST /{repo}.git/info/lfs/objects/batch      Git LFS batch API (basic, multipart)
  PUT  /_lfs/put/{oid}                         basic upload, on the CDN host (S3's role)
  PUT  /_lfs/part/{oid}/{n}                    multipart part, on the CDN host; ETag
  POST /_lfs/complete/{oid}                    multipart completion (oid, parts+etags)
  POST /{repo}.git/info/lfs/objects/verify     verify: the object becomes committable
  POST /api/models/{repo}/commit/{rev}         NDJSON commit: "file" (base64; refused
                                               for binary content or >= 10 MiB, as the
                                               Hub refuses them), "lfsFile" (verified
                                               objects only), "deletedFile"
  POST /api/repos/create                       new repository
  POST /api/validate-yaml                      README metadata check (always fine)
  and, for the tests themselves:
  GET  /_fake/requests  POST /_fake/reset  POST /_fake/corrupt
  POST /_fake/hostile   hostile mode: how to misbehave from now on (see below)
  POST /_fake/lfs       LFS settings and misbehaviour (see below)

Errors carry X-Error-Code (RepoNotFound / RevisionNotFound / EntryNotFound)
and X-Error-Message as the Hub sends them. A private repository answers 401
with X-Error-Code RepoNotFound to a request without its Bearer token, as the
Hub does; an unknown repository answers 404 (the real Hub says 401 to
anonymous callers there too).

Repositories come from the command line:
  --repo org/name=DIR          one commit on "main" with DIR's files
  --config hub.json            {"repos": [{"id": "org/name", "private": false,
                                 "token": "hf_x", "corrupt": {"path": "flip"},
                                 "commits": [{"folder": DIR, "refs": ["main", "v1"],
                                              "message": "..."}]}]}
Commits are listed oldest first, each with the full content of its folder;
a ref names the last commit that lists it.

Hostile mode (test_hub_hostile.py): POST /_fake/hostile {"kind": K, ...}
chooses how the next requests are answered, until another POST ({} ends it).
"route" limits it to "api" (/api/models/...), "resolve" or "cdn" requests,
"method" to "GET" or "HEAD", "host" to requests whose Host starts with it.
  commit        X-Repo-Commit and the model info's "sha" are "value"
  etag          ETag and X-Linked-Etag of files are "value"
  redirect      302 to "location" ("loop": to the request's own URL); on
                resolve, with the metadata of an LFS file
  slow          bodies trickle at "rate" bytes/s (default 2)
  long_body     "mode": "announced" (Content-Length and body "extra" bytes
                longer than the file), "chunked" (no length, no end),
                "excess" (true Content-Length, "extra" more bytes sent)
  huge_listing  the model info lists "files" siblings
  huge_json     the model info is an endless JSON body (at "rate" bytes/s when given)
  huge_headers  "count" headers of 1 KB each
  error         "status" with "body" (latin-1: any bytes) and no X-Error-Message

LFS settings (test_hub_lfs.py): POST /_fake/lfs {...} replaces them ({} resets):
  chunk_size     objects larger than this go multipart, parts of this size
  batch_body / preupload_body   raw 200 reply of the batch / preupload call
  object / upload / header / verify   merged into each batch object, its
                 actions.upload, actions.upload.header, actions.verify
                 (a null value removes the key)
  no_etag        part PUTs answer without an ETag
  put_status     PUTs answer this status (after reading the body)
  put_sleep      PUTs wait this many seconds before answering
  verify_status  verify answers this status
Each request's log entry has "length" (Content-Length) and, for a commit,
"ops": [[key, path], ...].

The server binds 127.0.0.1 on --port (0: any free port) and prints one JSON
line {"port": N, "endpoint": URL} on stdout once it is ready. LFS content is
redirected to --cdn-host (default "localhost": another origin than the
endpoint 127.0.0.1, as a real CDN is, so clients must not forward the token).
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import pathlib
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_PATTERNS = ["*.safetensors", "*.bin", "*.onnx", "*.pt", "*.pth", "*.h5", "*.msgpack", "*.gguf",
                "*.ckpt", "*.model", "*.npz", "*.lfs"]
LFS_SIZE = 10 * 1024 * 1024
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS).encode()


def git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def is_lfs(path: str, content: bytes) -> bool:
    """Whether a file of a folder loaded from the command line is stored in LFS."""
    name = path.rsplit("/", 1)[-1]
    return len(content) >= LFS_SIZE or any(fnmatch.fnmatch(name, p) for p in LFS_PATTERNS)


def is_binary(sample: bytes) -> bool:
    """The Hub's test on a file's first bytes: a NUL byte, or not UTF-8 (a
    character cut at the end of the sample is fine)."""
    if b"\0" in sample:
        return True
    for cut in range(4):
        try:
            sample[:len(sample) - cut].decode("utf-8")
            return False
        except UnicodeDecodeError:
            continue
    return True


def lfs_patterns(files: dict[str, bytes]) -> list[str]:
    """The patterns .gitattributes sends through LFS."""
    text = files.get(".gitattributes", b"").decode("utf-8", "replace")
    return [line.split()[0] for line in text.splitlines() if "filter=lfs" in line and line.split()]


def ignored(path: str, gitignore: str) -> bool:
    """Whether a .gitignore pattern matches `path` (fnmatch on the path and its name)."""
    for line in gitignore.splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        pattern = pattern.lstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], pattern) \
                or path.startswith(pattern.rstrip("/") + "/"):
            return True
    return False


def lfs_pointer(content: bytes) -> bytes:
    sha = hashlib.sha256(content).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(content)}\n".encode()


def read_folder(folder: pathlib.Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(folder).parts:
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return files


class Repo:
    def __init__(self, repo_id: str, private: bool = False, token: str | None = None):
        self.repo_id = repo_id
        self.private = private
        self.token = token
        self.commits: dict[str, dict[str, bytes]] = {}
        self.messages: dict[str, str] = {}
        self.refs: dict[str, str] = {}
        self.corrupt: dict[str, str] = {}  # path -> "flip" | "truncate"
        self.lfs: dict[str, set[str]] = {}  # commit -> paths stored in LFS

    def add_commit(self, files: dict[str, bytes], refs: list[str], message: str, parent: str | None,
                   lfs: set[str] | None = None) -> str:
        digest = hashlib.sha1()
        digest.update((parent or "").encode())
        digest.update(message.encode())
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + git_blob_oid(files[path]).encode())
        digest.update(str(len(self.commits)).encode())  # identical content still makes a new commit
        sha = digest.hexdigest()
        self.commits[sha] = dict(files)
        self.lfs[sha] = set(lfs) if lfs is not None else {p for p, c in files.items() if is_lfs(p, c)}
        self.messages[sha] = message
        for ref in refs:
            self.refs[ref] = sha
        return sha

    def resolve(self, revision: str) -> str | None:
        if revision in self.refs:
            return self.refs[revision]
        if re.fullmatch(r"[0-9a-f]{40}", revision) and revision in self.commits:
            return revision
        return None


class Hub:
    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.blobs: dict[str, bytes] = {}  # sha256 -> content, for /cdn/
        self.lock = threading.Lock()
        self.log: list[dict] = []
        self.hostile: dict = {}  # hostile mode, see the module docstring
        self.lfs_cfg: dict = {}  # LFS settings, see the module docstring
        self.uploaded: dict[str, bytes] = {}  # sha256 -> content PUT but not verified yet
        self.parts: dict[str, dict[int, tuple[bytes, str]]] = {}  # sha256 -> part -> (bytes, etag)

    def store(self, files: dict[str, bytes]) -> None:
        for content in files.values():
            self.blobs[hashlib.sha256(content).hexdigest()] = content


HUB = Hub()
ARGS: argparse.Namespace


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1.0"

    def log_message(self, format, *args):  # noqa: A002 - keep stderr quiet
        pass

    # ---------------------------------------------------------------- helpers

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None, content_type: str | None = None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        if content_type:
            self.send_header("Content-Type", content_type)
        hostile = self.hostile_for("slow", "long_body") if self.command == "GET" else None
        if hostile and hostile["kind"] == "long_body":
            return self.long_body(body, hostile)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            if hostile:
                return self.trickle(body, hostile.get("rate", 2))
            self.wfile.write(body)

    def reply_json(self, status: int, value, headers: dict | None = None):
        self.reply(status, json.dumps(value).encode(), headers, "application/json")

    def error(self, status: int, code: str | None, message: str, headers: dict | None = None):
        extra = dict(headers or {})
        if code:
            extra["X-Error-Code"] = code
        extra["X-Error-Message"] = message
        self.reply_json(status, {"error": message}, extra)

    def bearer(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else None

    def record(self) -> dict:
        entry = {
            "method": self.command,
            "path": self.path,
            "host": self.headers.get("Host"),
            "authorization": self.headers.get("Authorization"),
            "range": self.headers.get("Range"),
            "length": self.headers.get("Content-Length"),
            "content_type": self.headers.get("Content-Type"),
            "time": time.time(),
        }
        with HUB.lock:
            HUB.log.append(entry)
        return entry

    def read_body(self, limit: int = 1 << 31) -> bytes:
        """The request body: Content-Length or chunked."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
                if len(out) > limit:
                    raise ValueError("body too large")
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def find_repo(self, repo_id: str) -> Repo | None:
        """The repo, or None after replying 401/404 as the Hub does."""
        repo = HUB.repos.get(repo_id)
        if repo is None:
            self.error(404, "RepoNotFound", "Repository not found")
            return None
        if repo.private and (repo.token is None or self.bearer() != repo.token):
            message = ("Invalid username or password." if self.bearer() is None
                       else "Invalid credentials in Authorization header")
            self.error(401, "RepoNotFound", message)
            return None
        return repo

    def split_repo(self, parts: list[str], marker: str) -> tuple[str, list[str]] | None:
        """parts = [org?, name, marker, ...]: the repo id and what follows the marker."""
        for size in (2, 1):
            if len(parts) > size and parts[size] == marker:
                return "/".join(parts[:size]), parts[size + 1:]
        return None

    def send_content(self, content: bytes, headers: dict):
        """200 or 206 for a Range request, with the content."""
        range_header = self.headers.get("Range")
        total = len(content)
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header or "")
        if match:
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else total - 1
            if start >= total:
                self.reply(416, b"", {**headers, "Content-Range": f"bytes */{total}"})
                return
            end = min(end, total - 1)
            self.reply(206, content[start:end + 1], {**headers, "Content-Range": f"bytes {start}-{end}/{total}",
                                                     "Accept-Ranges": "bytes"}, "application/octet-stream")
            return
        self.reply(200, content, {**headers, "Accept-Ranges": "bytes"}, "application/octet-stream")

    # ---------------------------------------------------------------- hostile mode

    def route(self) -> str:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/api/"):
            return "api"
        if path.startswith("/cdn/"):
            return "cdn"
        return "resolve"

    def hostile_for(self, *kinds: str) -> dict | None:
        """The hostile behaviour for this request when it is one of `kinds`."""
        spec = HUB.hostile
        if spec.get("kind") not in kinds:
            return None
        if spec.get("route") and spec["route"] != self.route():
            return None
        if spec.get("method") and spec["method"] != self.command:
            return None
        if spec.get("host") and not (self.headers.get("Host") or "").startswith(spec["host"]):
            return None
        return spec

    def commit_value(self, sha: str) -> str:
        spec = self.hostile_for("commit")
        return spec["value"] if spec else sha

    def etag_value(self, etag: str) -> str:
        spec = self.hostile_for("etag")
        return f'"{spec["value"]}"' if spec else etag

    def closing(self, status: int, headers: dict) -> None:
        """Status and headers of a response whose end is the connection's end."""
        self.close_connection = True
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.send_header("Connection", "close")

    def trickle(self, body: bytes, rate: float) -> None:
        """Writes `body` at `rate` bytes/s; stops when the client goes (or after 60 s)."""
        self.close_connection = True
        deadline = time.time() + 60
        try:
            for i in range(len(body)):
                if time.time() > deadline:
                    return
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(1.0 / rate)
        except OSError:
            pass

    def endless(self, chunk: bytes, limit: int = 1 << 30, rate: float | None = None) -> None:
        """Chunked transfer of `chunk` over and over until the client goes (or `limit`
        bytes, or 60 s); at `rate` bytes/s when given."""
        if rate:
            chunk = chunk[:max(1, int(rate / 10))]
        frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        sent = 0
        deadline = time.time() + 60
        try:
            while sent < limit and time.time() < deadline:
                self.wfile.write(frame)
                sent += len(chunk)
                if rate:
                    self.wfile.flush()
                    time.sleep(0.1)
        except OSError:
            pass

    def long_body(self, body: bytes, spec: dict) -> None:
        extra = b"X" * int(spec.get("extra", 1 << 20))
        self.close_connection = True
        try:
            if spec["mode"] == "announced":
                self.send_header("Content-Length", str(len(body) + len(extra)))
                self.end_headers()
                self.wfile.write(body + extra)
            elif spec["mode"] == "excess":
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body + extra)
            else:  # chunked, endless
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.endless(body + extra)
        except OSError:
            pass

    def hostile_reply(self) -> bool:
        """Answers the request in hostile mode; False when the mode leaves it to the routes."""
        spec = self.hostile_for("redirect", "huge_json", "huge_listing", "huge_headers", "error")
        if spec is None:
            return False
        kind = spec["kind"]
        if kind == "redirect":
            location = spec["location"]
            if location == "loop":
                location = f"http://{self.headers.get('Host')}{self.path}"
            headers = {"Location": location}
            if self.route() == "resolve":  # as the Hub answers for an LFS file
                headers.update({"X-Repo-Commit": "0" * 40, "X-Linked-Etag": '"' + "a" * 64 + '"',
                                "X-Linked-Size": "10"})
            self.reply(302, b"", headers)
        elif kind == "huge_json":
            self.closing(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
            self.end_headers()
            self.endless(b" " * 65536, rate=spec.get("rate"))
        elif kind == "huge_listing":
            siblings = ",".join('{"rfilename":"f%d"}' % i for i in range(int(spec["files"])))
            body = ('{"id":"x","sha":"' + "0" * 40 + '","siblings":[' + siblings + "]}").encode()
            self.reply(200, body, content_type="application/json")
        elif kind == "error":
            self.reply(int(spec["status"]), spec["body"].encode("latin-1"), content_type="application/json")
        elif kind == "huge_headers":
            self.close_connection = True
            self.send_response(200)
            for i in range(int(spec.get("count", 1000))):
                self.send_header(f"X-Filler-{i}", "x" * 1024)
            self.send_header("Content-Length", "0")
            try:
                self.end_headers()
            except OSError:
                pass
        return True

    # ---------------------------------------------------------------- routes

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.record()
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/_fake/requests":
            with HUB.lock:
                return self.reply_json(200, HUB.log)
        if self.hostile_reply():
            return
        if parts[0] == "cdn" and len(parts) == 2:
            return self.cdn(parts[1])
        if parts[:2] == ["api", "models"]:
            return self.api_models(parts[2:], query)
        split = self.split_repo(parts, "resolve")
        if split is not None:
            return self.resolve(*split)
        self.error(404, None, f"no route for {url.path}")

    def do_PUT(self):
        entry = self.record()
        body = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if self.hostile_reply():
            return
        cfg = HUB.lfs_cfg
        if cfg.get("put_sleep"):
            time.sleep(float(cfg["put_sleep"]))
        if cfg.get("put_status"):
            return self.error(int(cfg["put_status"]), None, "storage says no")
        if parts[:2] == ["_lfs", "put"] and len(parts) == 3:
            return self.lfs_put(parts[2], body)
        if parts[:2] == ["_lfs", "part"] and len(parts) == 4:
            return self.lfs_part(parts[2], parts[3], body)
        entry["note"] = "no route"
        self.error(404, None, f"no route for PUT {url.path}")

    def do_POST(self):
        entry = self.record()
        body = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
        if url.path == "/_fake/reset":
            with HUB.lock:
                HUB.log.clear()
            return self.reply_json(200, {"ok": True})
        if url.path == "/_fake/hostile":
            HUB.hostile = json.loads(body)
            return self.reply_json(200, {"ok": True})
        if url.path == "/_fake/lfs":
            HUB.lfs_cfg = json.loads(body)
            return self.reply_json(200, {"ok": True})
        match = re.fullmatch(r"/(.+)\.git/info/lfs/objects/(batch|verify)", url.path)
        if match:
            repo_id = urllib.parse.unquote(match.group(1))
            return self.lfs_batch(repo_id, body) if match.group(2) == "batch" else self.lfs_verify(repo_id, body)
        if parts[:2] == ["_lfs", "complete"] and len(parts) == 3:
            return self.lfs_complete(parts[2], body)
        if url.path == "/_fake/corrupt":
            spec = json.loads(body)
            repo = HUB.repos[spec["repo"]]
            if spec.get("mode"):
                repo.corrupt[spec["path"]] = spec["mode"]
            else:
                repo.corrupt.pop(spec["path"], None)
            return self.reply_json(200, {"ok": True})
        if url.path == "/api/repos/create":
            return self.create_repo(body)
        if url.path == "/api/validate-yaml":  # huggingface_hub checks a README's metadata before a commit
            return self.reply_json(200, {"errors": [], "warnings": []})
        if parts[:2] == ["api", "models"]:
            split = self.split_repo(parts[2:], "commit")
            if split is not None and split[1]:
                return self.commit(split[0], "/".join(split[1]), body, entry)
            split = self.split_repo(parts[2:], "preupload")
            if split is not None and split[1]:
                return self.preupload(split[0], "/".join(split[1]), body)
        self.error(404, None, f"no route for POST {url.path}")

    def api_models(self, parts: list[str], query: dict):
        # {repo} | {repo}/revision/{rev} | {repo}/tree/{rev}[/{path}]
        for marker in ("revision", "tree"):
            split = self.split_repo(parts, marker)
            if split is not None and split[1]:
                repo_id, rest = split
                break
        else:
            repo_id, rest, marker = "/".join(parts), ["main"], "revision"
        repo = self.find_repo(repo_id)
        if repo is None:
            return
        revision = rest[0]
        sha = repo.resolve(revision)
        if sha is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        files = repo.commits[sha]
        if marker == "revision":
            return self.reply_json(200, {
                "_id": repo_id, "id": repo_id, "modelId": repo_id, "sha": self.commit_value(sha),
                "private": repo.private,
                "disabled": False, "gated": False, "downloads": 0, "likes": 0, "tags": [],
                "siblings": [{"rfilename": path} for path in sorted(files)],
            })
        prefix = "/".join(rest[1:])
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        entries, folders = [], set()
        for path in sorted(files):
            if prefix and not path.startswith(prefix + "/"):
                continue
            relative = path[len(prefix) + 1:] if prefix else path
            directories = relative.split("/")[:-1]
            for depth in range(1, len(directories) + 1):
                folder = "/".join(([prefix] if prefix else []) + directories[:depth])
                if (recursive or depth == 1) and folder not in folders:
                    folders.add(folder)
                    entries.append({"type": "directory", "oid": hashlib.sha1(folder.encode()).hexdigest(),
                                    "size": 0, "path": folder})
            if not recursive and directories:
                continue
            content = files[path]
            entry = {"type": "file", "path": path}
            if path in repo.lfs[sha]:
                pointer = lfs_pointer(content)
                entry.update(size=len(content), oid=git_blob_oid(pointer),
                             lfs={"oid": hashlib.sha256(content).hexdigest(), "size": len(content),
                                  "pointerSize": len(pointer)})
            else:
                entry.update(size=len(content), oid=git_blob_oid(content))
            entries.append(entry)
        self.reply_json(200, entries)

    def resolve(self, repo_id: str, rest: list[str]):
        repo = self.find_repo(repo_id)
        if repo is None:
            return
        if len(rest) < 2:
            return self.error(404, None, "missing revision or path")
        revision, path = rest[0], "/".join(rest[1:])
        sha = repo.resolve(revision)
        if sha is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        files = repo.commits[sha]
        if path not in files:
            return self.error(404, "EntryNotFound", f"{path} does not exist on \"{revision}\"",
                              {"X-Repo-Commit": sha})
        content = files[path]
        if path in repo.lfs[sha]:
            digest = hashlib.sha256(content).hexdigest()
            port = self.server.server_address[1]
            location = f"http://{ARGS.cdn_host}:{port}/cdn/{digest}?repo={urllib.parse.quote(repo_id, safe='')}" \
                       f"&path={urllib.parse.quote(path, safe='')}&sig=fake"
            return self.reply(302, b"", {
                "Location": location,
                "X-Repo-Commit": self.commit_value(sha),
                "X-Linked-Etag": self.etag_value(f'"{digest}"'),
                "X-Linked-Size": len(content),
                "ETag": f'"{git_blob_oid(lfs_pointer(content))}"',
            })
        self.send_content(content, {"ETag": self.etag_value(f'"{git_blob_oid(content)}"'),
                                    "X-Repo-Commit": self.commit_value(sha)})

    def cdn(self, digest: str):
        content = HUB.blobs.get(digest)
        if content is None:
            return self.reply(404, b"NoSuchKey")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        repo = HUB.repos.get(query.get("repo", [""])[0])
        mode = repo.corrupt.get(query.get("path", [""])[0]) if repo else None
        if mode == "flip":
            content = bytes([content[0] ^ 0xFF]) + content[1:]
        elif mode == "truncate":
            content = content[: len(content) // 2]
        self.send_content(content, {"ETag": f'"{digest}"'})

    def create_repo(self, body: bytes):
        if self.bearer() is None:
            return self.error(401, None, "Invalid username or password.")
        spec = json.loads(body)
        repo_id = f"{spec['organization']}/{spec['name']}" if spec.get("organization") else spec["name"]
        with HUB.lock:
            if repo_id in HUB.repos:
                return self.error(409, None, "You already created this model repo")
            repo = Repo(repo_id, private=bool(spec.get("private")), token=self.bearer())
            repo.add_commit({".gitattributes": GITATTRIBUTES}, ["main"], "initial commit", None)
            HUB.store(repo.commits[repo.refs["main"]])
            HUB.repos[repo_id] = repo
        self.reply_json(200, {"url": f"http://{self.headers.get('Host')}/{repo_id}", "name": repo_id})

    def commit(self, repo_id: str, revision: str, body: bytes, entry: dict):
        if self.bearer() is None:
            return self.error(401, None, "Invalid username or password.")
        repo = self.find_repo(repo_id)
        if repo is None:
            return
        if repo.token is not None and self.bearer() != repo.token:
            return self.error(403, None, "You don't have the rights to create a commit")
        if self.headers.get("Content-Type", "").split(";")[0] != "application/x-ndjson":
            return self.error(400, None, "expected Content-Type application/x-ndjson")
        with HUB.lock:
            parent = repo.refs.get(revision)
            if parent is None:
                return self.error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            files = dict(repo.commits[parent])
            lfs = set(repo.lfs[parent])
            summary = ""
            entry["ops"] = ops = []
            for line in body.decode().splitlines():
                if not line.strip():
                    continue
                op = json.loads(line)
                value = op.get("value", {})
                ops.append([op["key"], value.get("path")])
                if op["key"] == "header":
                    summary = value["summary"]
                elif op["key"] == "file":
                    if value.get("encoding") != "base64":
                        return self.error(400, None, "only base64 file content is supported")
                    content = base64.b64decode(value["content"])
                    # As the Hub: large and binary files must come through LFS.
                    if len(content) >= LFS_SIZE:
                        return self.error(400, None, f"Your push was rejected because it contains files larger than"
                                                     f" 10 MiB ({value['path']}). Please use LFS to store large files.")
                    if is_binary(content[:512]):
                        return self.error(400, None, f"Your push was rejected because it contains binary files"
                                                     f" ({value['path']}). Please use LFS to store binary files.")
                    files[value["path"]] = content
                    lfs.discard(value["path"])
                elif op["key"] == "lfsFile":
                    oid = value.get("oid")
                    if value.get("algo") != "sha256" or oid not in HUB.blobs:
                        return self.error(422, None, f"LFS object {oid} of {value.get('path')} was never uploaded"
                                                     " and verified")
                    if value.get("size") is not None and value["size"] != len(HUB.blobs[oid]):
                        return self.error(422, None, f"LFS object {oid} has size {len(HUB.blobs[oid])},"
                                                     f" not {value['size']}")
                    files[value["path"]] = HUB.blobs[oid]
                    lfs.add(value["path"])
                elif op["key"] == "deletedFile":
                    files.pop(value["path"], None)
                    lfs.discard(value["path"])
                else:
                    return self.error(400, None, f"unsupported commit operation {op['key']}")
            sha = repo.add_commit(files, [revision], summary, parent, lfs)
            HUB.store(files)
        host = self.headers.get("Host")
        self.reply_json(200, {"success": True, "commitOid": sha, "commitMessage": summary,
                              "commitUrl": f"http://{host}/{repo_id}/commit/{sha}", "hookOutput": ""})

    # ---------------------------------------------------------------- LFS uploads

    def writer(self, repo_id: str) -> Repo | None:
        """The repo when the request carries a token that may write to it, else None after replying."""
        if self.bearer() is None:
            self.error(401, None, "Invalid username or password.")
            return None
        repo = self.find_repo(repo_id)
        if repo is not None and repo.token is not None and self.bearer() != repo.token:
            self.error(403, None, "You don't have the rights to write to this repository")
            return None
        return repo

    def endpoint_url(self) -> str:
        return f"http://{self.headers.get('Host')}"

    def storage_url(self) -> str:
        return f"http://{ARGS.cdn_host}:{self.server.server_address[1]}"

    def preupload(self, repo_id: str, revision: str, body: bytes):
        repo = self.writer(repo_id)
        if repo is None:
            return
        cfg = HUB.lfs_cfg
        if "preupload_body" in cfg:
            return self.reply(200, cfg["preupload_body"].encode(), content_type="application/json")
        sha = repo.resolve(revision)
        if sha is None:
            return self.error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        payload = json.loads(body)
        files = repo.commits[sha]
        patterns = lfs_patterns(files)
        gitignore = payload.get("gitIgnore")
        if gitignore is None:
            gitignore = files.get(".gitignore", b"").decode("utf-8", "replace")
        out = []
        for item in payload["files"]:
            path, size, sample = item["path"], int(item["size"]), base64.b64decode(item["sample"])
            name = path.rsplit("/", 1)[-1]
            lfs = size >= LFS_SIZE or is_binary(sample) or any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(path, p)
                                                                for p in patterns)
            out.append({"path": path, "uploadMode": "lfs" if lfs else "regular",
                        "shouldIgnore": ignored(path, gitignore), "oid": None})
        self.reply_json(200, {"files": out, "commitOid": sha})

    def lfs_batch(self, repo_id: str, body: bytes):
        repo = self.writer(repo_id)
        if repo is None:
            return
        if self.headers.get("Content-Type", "").split(";")[0] != "application/vnd.git-lfs+json" or \
                self.headers.get("Accept", "").split(";")[0] != "application/vnd.git-lfs+json":
            return self.error(406, None, "the LFS batch API speaks application/vnd.git-lfs+json")
        cfg = HUB.lfs_cfg
        if "batch_body" in cfg:
            return self.reply(200, cfg["batch_body"].encode(), content_type="application/vnd.git-lfs+json")
        payload = json.loads(body)
        if payload.get("operation") != "upload" or "basic" not in payload.get("transfers", ["basic"]):
            return self.error(400, None, "only upload with the basic or multipart transfer is served")
        chunk = cfg.get("chunk_size")
        objects = []
        for item in payload["objects"]:
            oid, size = item["oid"], item["size"]
            obj = {"oid": oid, "size": size, "authenticated": True}
            if oid in HUB.blobs:
                objects.append(obj)  # already stored: nothing to do
                continue
            verify = {"href": f"{self.endpoint_url()}/{repo_id}.git/info/lfs/objects/verify",
                      "header": {"X-Fake-Verify": "1"}}
            if chunk and size > chunk:
                header = {"chunk_size": str(chunk)}
                for number in range(1, -(-size // chunk) + 1):
                    header[str(number)] = f"{self.storage_url()}/_lfs/part/{oid}/{number}?sig=fake"
                upload = {"href": f"{self.endpoint_url()}/_lfs/complete/{oid}?sig=fake", "header": header}
            else:
                upload = {"href": f"{self.storage_url()}/_lfs/put/{oid}?sig=fake"}
            obj["actions"] = {"upload": upload, "verify": verify}
            objects.append(self.patched(obj))
        self.reply(200, json.dumps({"transfer": "multipart" if chunk else "basic", "objects": objects}).encode(),
                   content_type="application/vnd.git-lfs+json")

    @staticmethod
    def patched(obj: dict) -> dict:
        """`obj` with the settings' object / upload / header / verify merged in."""
        def merge(target: dict, patch: dict) -> None:
            for key, value in patch.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
        cfg = HUB.lfs_cfg
        merge(obj["actions"]["upload"].setdefault("header", {}), cfg.get("header", {}))
        if not obj["actions"]["upload"]["header"]:
            del obj["actions"]["upload"]["header"]
        merge(obj["actions"]["upload"], cfg.get("upload", {}))
        merge(obj["actions"]["verify"], cfg.get("verify", {}))
        merge(obj, cfg.get("object", {}))
        return obj

    def lfs_put(self, oid: str, body: bytes):
        if hashlib.sha256(body).hexdigest() != oid:
            return self.error(400, None, f"content does not hash to {oid}")
        with HUB.lock:
            HUB.uploaded[oid] = body
        self.reply(200, b"", {"ETag": f'"{hashlib.md5(body).hexdigest()}"'})

    def lfs_part(self, oid: str, number: str, body: bytes):
        etag = f'"{hashlib.md5(body).hexdigest()}"'
        with HUB.lock:
            HUB.parts.setdefault(oid, {})[int(number)] = (body, etag)
        self.reply(200, b"", {} if HUB.lfs_cfg.get("no_etag") else {"ETag": etag})

    def lfs_complete(self, oid: str, body: bytes):
        payload = json.loads(body)
        with HUB.lock:
            stored = HUB.parts.get(oid, {})
            numbers = [p["partNumber"] for p in payload.get("parts", [])]
            if payload.get("oid") != oid or numbers != list(range(1, len(stored) + 1)):
                return self.error(400, None, f"completion of {oid} names parts {numbers}, stored {sorted(stored)}")
            for part in payload["parts"]:
                if stored[part["partNumber"]][1] != part["etag"]:
                    return self.error(400, None, f"part {part['partNumber']} of {oid}: wrong etag")
            content = b"".join(stored[n][0] for n in numbers)
            if hashlib.sha256(content).hexdigest() != oid:
                return self.error(400, None, f"the parts of {oid} do not hash to it")
            HUB.uploaded[oid] = content
            HUB.parts.pop(oid, None)
        self.reply_json(200, {"success": True})

    def lfs_verify(self, repo_id: str, body: bytes):
        repo = self.writer(repo_id)
        if repo is None:
            return
        if HUB.lfs_cfg.get("verify_status"):
            return self.error(int(HUB.lfs_cfg["verify_status"]), None, "verification failed")
        payload = json.loads(body)
        oid = payload.get("oid")
        with HUB.lock:
            content = HUB.uploaded.get(oid)
            if content is None or len(content) != payload.get("size"):
                return self.error(404, None, f"object {oid} of size {payload.get('size')} was not uploaded")
            HUB.blobs[oid] = content
        self.reply_json(200, {"success": True})


def load(args: argparse.Namespace) -> None:
    for spec in args.repo or []:
        repo_id, _, folder = spec.partition("=")
        repo = HUB.repos.setdefault(repo_id, Repo(repo_id))
        files = read_folder(pathlib.Path(folder))
        repo.add_commit(files, ["main"], f"add {folder}", repo.refs.get("main"))
        HUB.store(files)
    if args.config:
        config = json.loads(pathlib.Path(args.config).read_text())
        for entry in config.get("repos", []):
            repo = Repo(entry["id"], private=entry.get("private", False), token=entry.get("token"))
            parent = None
            for commit in entry["commits"]:
                files = read_folder(pathlib.Path(commit["folder"]))
                parent = repo.add_commit(files, commit.get("refs", []), commit.get("message", "commit"), parent)
                HUB.store(files)
            repo.corrupt = dict(entry.get("corrupt", {}))
            HUB.repos[repo.repo_id] = repo


def main() -> None:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", action="append", help="org/name=FOLDER (one commit on main)")
    parser.add_argument("--config", help="JSON file describing repositories (see above)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--cdn-host", default="localhost", help="host name LFS redirects point at")
    ARGS = parser.parse_args()
    load(ARGS)
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    print(json.dumps({"port": port, "endpoint": f"http://127.0.0.1:{port}"}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
