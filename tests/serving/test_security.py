"""`optimum-cpp serve` is safe by default: registration by URL only from
allowed_urls (a real http.server; redirects to another origin refused),
hostile archives and store escapes refused with nothing written, token
authorization, body limits (413), and 1,000 malformed requests all answered
4xx with the process alive. Every refusal is checked with its status, its
message, the model store and the server's scratch folder."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import pathlib
import random
import shutil
import socket
import subprocess
import sys
import time
import zipfile

import pytest
import requests

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import server_util  # noqa: E402
from test_archive import EVIL_ABS, HOSTILE  # noqa: E402  (the archive engineer's hostile archives)

T = 30  # seconds: bound of every HTTP call


# ---- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sec_root(tmp_path_factory):
    return tmp_path_factory.mktemp("security")


@pytest.fixture(scope="module")
def tiny_cls(sec_root):
    return server_util.tiny_model(sec_root / "models", "bert", "text-classification", ["NEG", "POS"])


@pytest.fixture(scope="module")
def www(sec_root, tiny_cls):
    """A folder served over HTTP: remote.mar and remote2.mar made with `optimum-cpp archive`, and
    hostile.mar (a zip-slip archive)."""
    www = sec_root / "www"
    www.mkdir()
    for name in ("remote", "remote2"):
        subprocess.run([str(server_util.CLI), "archive", "--model-name", name, "--version", "1.0", "--model",
                        str(tiny_cls), "--handler", "text-classification", "--export-path", str(www)],
                       check=True, capture_output=True, timeout=120)
    HOSTILE["zip_slip"][0](www / "hostile.mar")
    return www


class FileServer:
    def __init__(self, folder, workdir, redirect_origin=""):
        ready = workdir / "ready.json"
        self.log_path = workdir / "requests.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "file_server.py"), str(folder), str(ready),
                                      redirect_origin], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not ready.exists():
            assert self.proc.poll() is None, self.log_path.read_text()
            assert time.time() < deadline, "file server not ready"
            time.sleep(0.02)
        self.port = json.loads(ready.read_text())["port"]
        self.origin = f"http://127.0.0.1:{self.port}"

    def requests_seen(self):
        self.log.flush()
        return [line for line in self.log_path.read_text().splitlines() if line.startswith("request ")]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def file_servers(sec_root, www):
    """(allowed, other): `other` serves the same folder on another port (another origin); `allowed`
    redirects /redirect/NAME to `other`."""
    (sec_root / "fs_other").mkdir()
    (sec_root / "fs_allowed").mkdir()
    other = FileServer(www, sec_root / "fs_other")
    allowed = FileServer(www, sec_root / "fs_allowed", other.origin)
    yield allowed, other
    allowed.stop()
    other.stop()


@pytest.fixture(scope="module")
def sec_store(sec_root, tiny_cls):
    store = sec_root / "model_store"
    store.mkdir()
    shutil.copytree(tiny_cls, store / "cls")
    return store


MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def sec_server(sec_root, sec_store, file_servers):
    allowed, _ = file_servers
    pattern = "http://127\\.0\\.0\\.1:%d/.*" % allowed.port
    s = server_util.ServerProcess(sec_root / "server", sec_store, models=["cls=cls"],
                                  properties={"allowed_urls": pattern, "max_request_size": MAX_BODY,
                                              "default_workers_per_model": 1})
    yield s
    s.stop()


def tree(folder: pathlib.Path) -> dict:
    out = {}
    for p in sorted(pathlib.Path(folder).rglob("*")):
        out[str(p.relative_to(folder))] = None if p.is_dir() or p.is_symlink() else p.stat().st_size
    return out


def scratch(server) -> pathlib.Path:
    return pathlib.Path("/tmp") / f"optimum-cpp-serve-{server.pid}"


def register(server, url, **params):
    return requests.post(server.management + "/models", params={"url": url, **params}, timeout=T)


def models(server):
    r = requests.get(server.management + "/models", timeout=T)
    assert r.status_code == 200
    return sorted(m["modelName"] for m in r.json()["models"])


def serves_cls(server, headers=None):
    r = requests.post(server.inference + "/predictions/cls", data="a fine day", headers=headers or {}, timeout=T)
    return r.status_code == 200 and r.json()["label"] in ("NEG", "POS")


# ---- registration by URL -------------------------------------------------------------------


def test_url_outside_allowed_urls_refused(sec_server, sec_store, file_servers):
    allowed, other = file_servers
    before, before_scratch = tree(sec_store), tree(scratch(sec_server))
    for url in (other.origin + "/remote.mar",                   # another port: another origin
                "http://localhost:%d/remote.mar" % allowed.port,  # another host name
                "http://127.0.0.1:%d.evil.com/remote.mar" % allowed.port,
                "https://example.com/remote.mar",
                "file:///etc/passwd",
                "file://" + str(sec_store.parent / "www" / "remote.mar")):
        r = register(sec_server, url)
        assert r.status_code == 403, (url, r.text)
        assert "not allowed" in r.json()["message"] or "outside" in r.json()["message"], r.text
    r = register(sec_server, "gopher://127.0.0.1/x.mar")
    assert r.status_code == 400 and "scheme" in r.json()["message"], r.text
    assert other.requests_seen() == []  # nothing was fetched from the refused origin
    assert tree(sec_store) == before and tree(scratch(sec_server)) == before_scratch
    assert models(sec_server) == ["cls"] and sec_server.alive()


def test_allowed_url_registers_and_serves(sec_server, sec_store, file_servers):
    allowed, _ = file_servers
    before_scratch = tree(scratch(sec_server))
    r = register(sec_server, allowed.origin + "/remote.mar")
    assert r.status_code == 200, r.text
    assert any("GET /remote.mar" in line for line in allowed.requests_seen())
    assert (sec_store / "remote.mar").is_file()  # downloaded into the model store, as TorchServe does
    assert not list(sec_store.glob("*.part"))
    p = requests.post(sec_server.inference + "/predictions/remote", data="a fine day", timeout=T)
    assert p.status_code == 200 and p.json()["label"] in ("NEG", "POS"), p.text
    # The same archive name again: 409, the stored file untouched.
    size = (sec_store / "remote.mar").stat().st_size
    r = register(sec_server, allowed.origin + "/remote.mar")
    assert r.status_code == 409, r.text
    assert (sec_store / "remote.mar").stat().st_size == size
    assert requests.delete(sec_server.management + "/models/remote", timeout=T).status_code == 200
    # The extracted archive goes with the model: register/unregister cycles do not fill the disk.
    assert tree(scratch(sec_server)) == before_scratch
    for _ in range(3):
        assert register(sec_server, "remote.mar").status_code == 200
        assert requests.delete(sec_server.management + "/models/remote", timeout=T).status_code == 200
    assert tree(scratch(sec_server)) == before_scratch


def test_redirect_to_another_origin_refused(sec_server, sec_store, file_servers):
    allowed, other = file_servers
    before, before_scratch = tree(sec_store), tree(scratch(sec_server))
    r = register(sec_server, allowed.origin + "/redirect/remote2.mar")
    assert r.status_code in (400, 403), r.text
    assert "redirect" in r.json()["message"] and other.origin in r.json()["message"], r.text
    assert other.requests_seen() == []  # the other origin was never contacted
    assert tree(sec_store) == before and tree(scratch(sec_server)) == before_scratch
    assert "remote2" not in models(sec_server) and sec_server.alive()


def test_same_origin_redirect_followed(sec_server, sec_store, file_servers):
    allowed, _ = file_servers
    r = register(sec_server, allowed.origin + "/same/remote2.mar")
    assert r.status_code == 200, r.text
    assert (sec_store / "remote2.mar").is_file()
    assert requests.delete(sec_server.management + "/models/remote2", timeout=T).status_code == 200


def test_concurrent_registrations_of_one_url(sec_server, sec_store, file_servers, www):
    """The same allowed URL registered by several clients at once: one wins (200), the others get 409,
    and the winner's archive stays in the store (a loser's cleanup never removes it)."""
    allowed, _ = file_servers
    for i in range(4):
        name = f"race{i}.mar"
        shutil.copy(www / "remote.mar", www / name)
        url = f"{allowed.origin}/{name}"
        with cf.ThreadPoolExecutor(4) as ex:
            codes = sorted(r.status_code for r in ex.map(lambda _: register(sec_server, url, model_name=f"race{i}"),
                                                         range(4)))
        assert codes == [200, 409, 409, 409], codes
        assert (sec_store / name).is_file(), f"{name} was removed from the store while race{i} is registered"
        assert predict_ok(sec_server, f"race{i}")
        assert requests.delete(f"{sec_server.management}/models/race{i}", timeout=T).status_code == 200
    assert not list(sec_store.glob("*.part"))


def predict_ok(server, model):
    r = requests.post(f"{server.inference}/predictions/{model}", data="a fine day", timeout=T)
    return r.status_code == 200


def test_redirect_loop_refused(sec_server, sec_store, file_servers):
    allowed, _ = file_servers
    before = tree(sec_store)
    t0 = time.time()
    r = register(sec_server, allowed.origin + "/loop/loop.mar")
    assert r.status_code == 400 and "redirect" in r.json()["message"], r.text
    assert time.time() - t0 < 10
    assert 1 < sum("GET /loop/loop.mar" in line for line in allowed.requests_seen()) <= 20
    assert tree(sec_store) == before and sec_server.alive()


def test_hostile_download_leaves_nothing(sec_server, sec_store, file_servers):
    """An allowed URL serving a zip-slip archive: 400 naming the entry, the download removed from the
    store, nothing extracted."""
    allowed, _ = file_servers
    before, before_scratch = tree(sec_store), tree(scratch(sec_server))
    r = register(sec_server, allowed.origin + "/hostile.mar")
    assert r.status_code == 400 and "../x" in r.json()["message"], r.text
    assert tree(sec_store) == before, "the refused download stayed in the model store"
    assert tree(scratch(sec_server)) == before_scratch
    assert not (sec_store.parent / "x").exists()


# ---- hostile archives in the model store -----------------------------------------------------


def declared_oversize_zip(path):
    """A .mar whose last entry declares 5 GiB (zip64 sizes, local and central headers alike), above
    the 4 GiB entry limit; its data is 1 MiB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("MAR-INF/MANIFEST.json", HOSTILE_MANIFEST)
        z.writestr("model/config.json", b"{}")
        with z.open(zipfile.ZipInfo("model/big.bin"), "w", force_zip64=True) as f:
            f.write(random.Random(0).randbytes(1 << 20))
        z.filelist[-1].file_size = 5 << 30  # the central directory's zip64 extra
    raw = bytearray(path.read_bytes())
    # The local header's zip64 extra (id 1, 16 bytes: size, compressed size) after the name.
    name = b"model/big.bin"
    i = 0
    while True:
        i = raw.find(b"PK\x03\x04", i)
        if raw[i + 30:i + 30 + len(name)] == name:
            break
        i += 4
    extra = i + 30 + len(name)
    assert raw[extra:extra + 2] == b"\x01\x00", raw[extra:extra + 4]
    raw[extra + 4:extra + 12] = (5 << 30).to_bytes(8, "little")
    path.write_bytes(bytes(raw))
    return path


HOSTILE_MANIFEST = json.dumps({"createdOn": "01/01/2026 00:00:00", "runtime": "python",
                               "model": {"modelName": "evil", "serializedFile": "model",
                                         "handler": "text-classification", "modelVersion": "1.0"},
                               "archiverVersion": "0.12.0"})

STORE_CASES = {name: HOSTILE[name] for name in (
    "zip_slip", "zip_slip_nested", "absolute", "backslash", "symlink", "fifo", "zip_bomb", "lying_size",
    "tgz_slip", "tgz_absolute", "tgz_symlink", "tgz_hardlink", "tgz_device", "tgz_bomb")}
STORE_CASES["oversize"] = (declared_oversize_zip, "model/big.bin")


@pytest.mark.parametrize("case", sorted(STORE_CASES))
def test_hostile_archive_in_store_refused(case, sec_server, sec_store):
    make, needle = STORE_CASES[case]
    name = case + (".tar.gz" if case.startswith("tgz") else ".mar")
    make(sec_store / name)
    try:
        before, before_scratch = tree(sec_store), tree(scratch(sec_server))
        r = register(sec_server, name)
        assert r.status_code == 400, r.text
        assert needle in r.json()["message"], r.text
        assert tree(sec_store) == before and tree(scratch(sec_server)) == before_scratch
        assert not pathlib.Path(EVIL_ABS).exists() and not (sec_store.parent / "x").exists()
        assert models(sec_server) == ["cls"] and serves_cls(sec_server)
    finally:
        (sec_store / name).unlink()


def test_store_escapes_refused(sec_server, sec_store, sec_root, www):
    outside = sec_root / "outside"
    outside.mkdir(exist_ok=True)
    shutil.copy(www / "remote.mar", outside / "remote.mar")
    shutil.copytree(sec_store / "cls", outside / "clsdir", dirs_exist_ok=True)
    (sec_store / "link.mar").symlink_to(outside / "remote.mar")
    (sec_store / "linkdir").symlink_to(outside / "clsdir")
    try:
        before, before_scratch = tree(sec_store), tree(scratch(sec_server))
        for url, codes in [("../outside/remote.mar", (400, 403)), ("cls/../../outside/clsdir", (400, 403)),
                           ("%2e%2e/outside/remote.mar", (400, 403, 404)),
                           (str(outside / "remote.mar"), (400, 403)), ("/etc", (400, 403)),
                           ("link.mar", (403,)), ("linkdir", (403,)),
                           ("file://" + str(sec_store / "link.mar"), (403,)),
                           ("file://" + str(sec_store / ".." / "outside" / "remote.mar"), (403,))]:
            r = register(sec_server, url)
            assert r.status_code in codes, (url, r.status_code, r.text)
            assert r.json()["message"], r.text
        assert tree(sec_store) == before and tree(scratch(sec_server)) == before_scratch
        assert models(sec_server) == ["cls"] and sec_server.alive()
    finally:
        (sec_store / "link.mar").unlink()
        (sec_store / "linkdir").unlink()


# ---- token authorization ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_server(sec_root, sec_store):
    s = server_util.ServerProcess(sec_root / "auth_server", sec_store, models=["cls=cls"], token_auth=True)
    yield s
    s.stop()


def test_token_auth(auth_server):
    s = auth_server
    keys = s.keys()
    mkey, ikey = keys["management"]["key"], keys["inference"]["key"]
    assert mkey and ikey and mkey != ikey
    assert oct(os.stat(s.workdir / "key_file.json").st_mode & 0o777) == "0o600"
    bearer = lambda k: {"Authorization": "Bearer " + k}  # noqa: E731
    wrong = [{}, bearer("nope"), bearer(""), {"Authorization": mkey}, {"Authorization": "Basic " + mkey},
             bearer(mkey[:-1]), bearer(mkey + "x")]
    # Management: missing or wrong key -> 401, the inference key is not a management key.
    for h in wrong + [bearer(ikey)]:
        for method, path in [("GET", "/models"), ("GET", "/models/cls"), ("POST", "/models?url=cls&model_name=c2"),
                             ("PUT", "/models/cls?min_worker=0"), ("DELETE", "/models/cls")]:
            r = requests.request(method, s.management + path, headers=h, timeout=T)
            assert r.status_code == 401, (method, path, h, r.text)
            assert "Token Authorization failed" in r.json()["message"] and "management" in r.json()["message"]
    # Inference: missing or wrong key -> 401; the management key is not an inference key either.
    for h in wrong + [bearer(mkey)]:
        for method, path, body in [("POST", "/predictions/cls", "hi"), ("POST", "/predictions/nope", "hi"),
                                   ("GET", "/v2/models/cls", None), ("POST", "/v1/models/cls:predict", "{}"),
                                   ("GET", "/v1/models", None), ("GET", "/api-description", None)]:
            r = requests.request(method, s.inference + path, data=body, headers=h, timeout=T)
            assert r.status_code == 401, (method, path, h, r.text)
    assert s.alive() and requests.get(s.management + "/models/cls", headers=bearer(mkey), timeout=T).json()[0][
        "workers"], "a refused request changed the model"
    # Health needs no token; metrics answer without one.
    for path in ("/ping", "/v2/health/live", "/v2/health/ready"):
        assert requests.get(s.inference + path, timeout=T).status_code == 200, path
    m = requests.get(s.metrics + "/metrics", timeout=T)
    assert m.status_code == 200 and "ts_inference_requests_total" in m.text
    # The right keys work (case-insensitive scheme, as TorchServe).
    assert serves_cls(s, bearer(ikey)) and serves_cls(s, {"Authorization": "bearer " + ikey})
    r = requests.get(s.management + "/models", headers=bearer(mkey), timeout=T)
    assert r.status_code == 200 and [m["modelName"] for m in r.json()["models"]] == ["cls"]
    r = requests.post(s.management + "/models", params={"url": "cls", "model_name": "c2"}, headers=bearer(mkey),
                      timeout=T)
    assert r.status_code == 200, r.text
    assert requests.delete(s.management + "/models/c2", headers=bearer(mkey), timeout=T).status_code == 200


# ---- body limits ------------------------------------------------------------------------------


def raw_http(port, data: bytes, timeout=10.0, shutdown_write=False):
    """Sends raw bytes, reads until the server closes; returns (status or None, response bytes).
    A timeout raises: the server must answer or close."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendall(data)
            if shutdown_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server answered and closed before all was sent
            pass
        chunks = []
        while True:
            try:
                b = sock.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
            # Stop at the end of a Content-Length response (the server may keep the connection open).
            got = b"".join(chunks)
            head, sep, body = got.partition(b"\r\n\r\n")
            if sep:
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length" and len(body) >= int(v):
                        return int(got.split(b" ", 2)[1]), got
    got = b"".join(chunks)
    if not got:
        return None, got
    return int(got.split(b" ", 2)[1]), got


def test_body_over_limit_413(sec_server):
    s = sec_server
    big = b"x" * (MAX_BODY * 4)
    # Declared length: refused before the body is read.
    r = requests.post(s.inference + "/predictions/cls", data=big, timeout=T)
    assert r.status_code == 413 and str(MAX_BODY) in r.json()["message"], r.text
    # Chunked transfer: refused once the limit is crossed.
    r = requests.post(s.inference + "/predictions/cls", data=iter([big[i:i + 8192] for i in range(0, len(big), 8192)]),
                      timeout=T)
    assert r.status_code == 413, r.text
    # Management too (a registration body is never needed).
    r = requests.post(s.management + "/models?url=cls", data=big, timeout=T)
    assert r.status_code == 413, r.text
    # Headers only, the body never sent: answered at once.
    port = int(s.inference.rsplit(":", 1)[1])
    status, _ = raw_http(port, b"POST /predictions/cls HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
    assert status == 413
    # At the limit it is served.
    r = requests.post(s.inference + "/predictions/cls", data="a fine day" + " " * (MAX_BODY - 10), timeout=T)
    assert r.status_code == 200, r.text
    assert s.alive() and serves_cls(s)


# ---- 1,000 malformed requests -------------------------------------------------------------------


def http_bytes(method, path, body=b"", headers=(), length=True):
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    if length and body is not None:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")


def malformed_requests(rng: random.Random, n: int, allowed_origin: str):
    """(listener, kind, bytes): every one must be answered 4xx (random bytes: 4xx or closed)."""
    J = [("Content-Type: application/json",)]
    text_json = json.dumps({"inputs": ["a fine day", "a bad day"]}).encode()
    v2_ok = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a fine day"]}]}

    def v2(body, headers=("Content-Type: application/json",), path="/v2/models/cls/infer"):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        return ("inference", "v2", http_bytes("POST", path, body, headers))

    def tensor(**kw):
        t = dict(v2_ok["inputs"][0])
        t.update(kw)
        return {"inputs": [t]}

    makers = []
    # Random bytes as raw TCP.
    makers.append(lambda: ("inference", "random", rng.randbytes(rng.randint(1, 3000))))
    makers.append(lambda: ("management", "random", rng.randbytes(rng.randint(1, 3000))))
    makers.append(lambda: ("inference", "random",
                           b"POST /predictions/cls HTTP/1.1\r\n" + rng.randbytes(rng.randint(1, 500)) + b"\r\n\r\n"))
    # Truncated JSON on every JSON route.
    for path in ("/predictions/cls", "/v2/models/cls/infer", "/v1/models/cls:predict", "/v1/embeddings"):
        body = text_json if path != "/v2/models/cls/infer" else json.dumps(v2_ok).encode()
        if path == "/v1/embeddings":
            body = json.dumps({"model": "cls", "input": ["a", "b"]}).encode()
        if path.startswith("/v1/models"):
            body = json.dumps({"instances": ["a", "b"]}).encode()
        makers.append(lambda path=path, body=body: (
            "inference", "truncated", http_bytes("POST", path, body[:rng.randint(1, len(body) - 1)], *J)))
    # Wrong content types.
    makers.append(lambda: ("inference", "ctype", http_bytes("POST", "/predictions/cls", b"\x89PNG\r\n\x1a\n\xff\xfe",
                                                            ["Content-Type: image/png"])))
    makers.append(lambda: ("inference", "ctype", http_bytes("POST", "/predictions/cls", b"just text",
                                                            ["Content-Type: application/json"])))
    makers.append(lambda: ("inference", "ctype", http_bytes("POST", "/predictions/cls", b"a=b",
                                                            ["Content-Type: multipart/form-data"])))
    makers.append(lambda: v2(b"text", ("Content-Type: text/plain",)))
    makers.append(lambda: ("inference", "ctype", http_bytes("POST", "/v1/embeddings", b"<xml/>",
                                                            ["Content-Type: application/xml"])))
    # Invalid UTF-8.
    bad_utf8 = [b"\xff\xfe", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"a\xc0\xafb"]
    makers.append(lambda: ("inference", "utf8", http_bytes("POST", "/predictions/cls", rng.choice(bad_utf8),
                                                           ["Content-Type: text/plain"])))
    makers.append(lambda: ("inference", "utf8", http_bytes("POST", "/predictions/cls",
                                                           b'{"inputs": "' + rng.choice(bad_utf8) + b'"}', *J)))
    makers.append(lambda: v2(b'{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["' +
                             rng.choice(bad_utf8) + b'"]}]}'))
    makers.append(lambda: ("inference", "utf8", http_bytes("POST", "/v1/embeddings",
                                                           b'{"model":"cls","input":"' + rng.choice(bad_utf8) + b'"}',
                                                           *J)))
    # Wrong inputs for the task.
    for value in (123, {"a": 1}, [1, 2], [None], [[["deep"]]], True, {"inputs": None}, {"inputs": []}):
        makers.append(lambda value=value: ("inference", "inputs", http_bytes(
            "POST", "/predictions/cls", json.dumps({"inputs": value} if not isinstance(value, dict) or "inputs" not in
                                                    value else value).encode(), *J)))
    makers.append(lambda: ("inference", "params", http_bytes("POST", "/predictions/cls", json.dumps(
        {"inputs": "a", "parameters": rng.choice([{"top_k": "x"}, {"function_to_apply": 3},
                                                  {"truncation": "maybe"}, [], {"top_k": 1e300}])}).encode(), *J)))
    # v2: wrong shapes and datatypes, huge shapes.
    for t in (dict(shape=[2]), dict(shape=[1, 2]), dict(shape=[-1]), dict(shape=[0]),
              dict(shape=[2 ** 62]), dict(shape=[2 ** 31, 2 ** 31]), dict(shape=[1e30]), dict(shape="1"),
              dict(shape=[1.5]), dict(shape=None), dict(datatype="FP32"), dict(datatype="INT64", data=[1]),
              dict(datatype="FOO"), dict(datatype=None), dict(data=[1]), 
              dict(data=None), dict(name=None), dict(datatype="FP32", shape=[2 ** 40], data=[1.0]),
              dict(datatype="BYTES", shape=[1], data=[{"x": 1}])):
        makers.append(lambda t=t: v2(tensor(**t)))
    for body in ({}, {"inputs": "x"}, {"inputs": []}, {"inputs": [1]}, {"inputs": [None]}, [], "x", None,
                 {"inputs": v2_ok["inputs"], "outputs": "x"},
                 {"inputs": v2_ok["inputs"], "outputs": [{"name": "nope"}]},
                 {"inputs": v2_ok["inputs"], "parameters": "x"}):
        makers.append(lambda body=body: v2(body))
    # v2 binary extension: bad header lengths and binary sizes.
    bin_tensor = tensor(parameters={"binary_data_size": 14})
    bin_tensor["inputs"][0].pop("data")
    hdr = json.dumps(bin_tensor).encode()
    payload = (10).to_bytes(4, "little") + b"a fine day"
    for length, body in ((str(len(hdr) + 1000), hdr + payload), ("-1", hdr + payload), ("abc", hdr + payload),
                         ("0", hdr + payload), (str(len(hdr) - 3), hdr + payload), ("99999999999999999999", hdr),
                         (str(len(hdr)), hdr + payload[:6]), (str(len(hdr)), hdr + payload + b"extra"),
                         (str(len(hdr)), hdr + (2 ** 31).to_bytes(4, "little") + b"x"),
                         (str(len(hdr)), hdr.replace(b'"binary_data_size": 14', b'"binary_data_size": -14') + payload),
                         (str(len(hdr)), hdr.replace(b'"binary_data_size": 14', b'"binary_data_size": 1e20') + payload)):
        makers.append(lambda length=length, body=body: v2(body, ("Content-Type: application/octet-stream",
                                                                 "Inference-Header-Content-Length: " + length)))
    # Malformed multipart.
    B = "XyZ"
    for body in (b"--XyZ\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\nhello",   # no closing boundary
                 b"no boundary at all", b"--XyZ--",
                 b"--XyZ\r\nbroken header line\r\n\r\nx\r\n--XyZ--",
                 b"--XyZ\r\nContent-Disposition: form-data; name=\"d\"\r\n\r\n\xff\xfe\r\n--XyZ--",
                 b"--XyZ\r\nContent-Type: application/json\r\n\r\n{bad\r\n--XyZ--", b"--XyZgarbage"):
        makers.append(lambda body=body: ("inference", "multipart", http_bytes(
            "POST", "/predictions/cls", body, [f"Content-Type: multipart/form-data; boundary={B}"])))
    makers.append(lambda: ("inference", "multipart", http_bytes(
        "POST", "/predictions/cls", b"--" + b"b" * 80 + b"\r\n\r\nx\r\n--" + b"b" * 80 + b"--",
        ["Content-Type: multipart/form-data; boundary=" + "b" * 80])))
    # Bad query parameters, paths and methods.
    get_bad = ["/models?limit=-1", "/models?limit=abc", "/models?limit=99999999999999999999",
               "/models?next_page_token=x", "/models?next_page_token=-5", "/models/nope", "/models/cls/9.9", "/nope",
               "/models/%00", "/models/" + "a" * 5000]
    put_bad = ["/models/cls?min_worker=99999", "/models/cls?min_worker=-1", "/models/cls?max_worker=abc",
               "/models/cls?synchronous=maybe&min_worker=1", "/models/cls?min_worker=3&max_worker=1", "/models/nope",
               "/models/cls/9.9?min_worker=1", "/models?min_worker=1"]
    post_bad = ["/models", "/models?url=", "/models?url=cls&batch_size=0", "/models?url=cls&batch_size=x",
                "/models?url=cls&max_batch_delay=-1", "/models?url=cls&initial_workers=1000",
                "/models?url=cls&response_timeout=0", "/models?url=cls&synchronous=2", "/models?url=nope.mar",
                "/models?url=cls&model_name=../evil", "/models?url=cls&model_name=%00", "/models?url=%00",
                "/models?url=cls&model_name=" + "n" * 300, "/models?url=cls", "/models?url=x.mar%00.txt",
                "/models?url=" + "u" * 300, "/models?url=" + "u" * 300 + ".mar", "/models?url=" + "u/" * 3000,
                "/models?url=file:///" + "f" * 300, "/models?url=" + allowed_origin + "/" + "a" * 300 + ".mar"]
    makers += [lambda q=q: ("management", "query", http_bytes("GET", q, b"")) for q in get_bad]
    makers += [lambda q=q: ("management", "query", http_bytes("PUT", q, b"")) for q in put_bad]
    makers.append(lambda: ("management", "method", http_bytes(rng.choice(["PATCH", "FOO"]), "/models/cls", b"")))
    makers += [lambda q=q: ("management", "query", http_bytes("POST", q, b"")) for q in post_bad]
    inf_bad = ["/predictions/nope", "/predictions", "/predictions/cls/9.9", "/predictions/cls/1.0/x",
               "/predictions/%2e%2e/%2e%2e/etc/passwd", "/predictions/cls?stream=maybe", "/v2/models/nope/infer",
               "/v2/models/cls/versions/9/infer", "/v2/models/cls/infer/x", "/v1/models/cls:explain",
               "/v1/models/nope:predict", "/" + "x" * 8000, "/v2/models/cls/ready?x=%zz",
               "/v2/models/" + "%ff" * 100 + "/infer"]
    makers += [lambda q=q: ("inference", "path", http_bytes("POST", q, b"a fine day", ["Content-Type: text/plain"]))
               for q in inf_bad]
    makers.append(lambda: ("inference", "method", http_bytes(rng.choice(["DELETE", "PATCH", "GET", "FOO"]),
                                                             "/predictions/cls", b"")))
    makers.append(lambda: ("metrics", "path", http_bytes(rng.choice(["GET", "POST"]),
                                                         rng.choice(["/metrics/x", "/", "/nope"]),
                                                         b"")))
    # HTTP-level garbage: bad versions, header lines, lengths, chunk sizes.
    http_bad = [b"GET / HTTP/9.9\r\n\r\n", b"GET\r\n\r\n", b"POST /predictions/cls HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                b"POST /predictions/cls HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                b"POST /predictions/cls HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
                b"POST /predictions/cls HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                b"POST /predictions/cls HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx\r\n",
                b"POST /predictions/cls HTTP/1.1\r\nBad Header\r\n\r\n",
                b"POST /predictions/cls HTTP/1.1\r\nX: " + b"y" * 20000 + b"\r\n\r\n",
                b"\r\n\r\n\r\n\r\n", b"GET /ping HTTP/1.1\r\nHost: a\r\n\x00: b\r\n\r\n"]
    makers += [lambda q=q: ("inference", "http", q) for q in http_bad]

    out = []
    for i in range(n):
        out.append(makers[i % len(makers)]() if i < len(makers) else rng.choice(makers)())
    return out


def test_thousand_malformed_requests_answered_4xx(sec_server, file_servers):
    s = sec_server
    ports = {name: int(getattr(s, name).rsplit(":", 1)[1]) for name in ("inference", "management", "metrics")}
    rng = random.Random(20261207)
    reqs = malformed_requests(rng, 1000, file_servers[0].origin)
    t0 = time.time()
    bad = []
    answered = 0
    for listener, kind, data in reqs:
        try:
            status, got = raw_http(ports[listener], data, timeout=10, shutdown_write=(kind in ("random", "http")))
        except socket.timeout:
            bad.append((kind, data[:200], "no answer within 10 s"))
            continue
        if status is None:
            if kind not in ("random", "http"):
                bad.append((kind, data[:200], "closed without an answer"))
            continue
        answered += 1
        if not 400 <= status < 500:
            bad.append((kind, data[:300], got[:400]))
    elapsed = time.time() - t0
    distinct = {repr(b[1])[-160:]: b for b in bad}
    assert not bad, f"{len(bad)} of {len(reqs)} not answered 4xx; distinct ones:\n" + "\n".join(
        repr((b[0], b[1][-160:], b[2][-200:])) for b in distinct.values())
    assert answered > 800, answered
    assert elapsed < 60, elapsed
    assert s.alive() and serves_cls(s)
    assert "internal error" not in s.log_text()
    r = requests.post(s.inference + "/v2/models/cls/infer", json={"inputs": [
        {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a fine day"]}]}, timeout=T)
    assert r.status_code == 200, r.text


def test_short_requests_never_stall_an_io_thread(sec_server):
    """5,000 quick requests on fresh connections, each answered within 5 s. A stale readiness report
    once made the disconnect watch's peek block an I/O thread until the client left (about 1 in
    3,000 requests)."""
    ports = [int(sec_server.management.rsplit(":", 1)[1]), int(sec_server.inference.rsplit(":", 1)[1])]
    reqs = [http_bytes("PATCH", "/models/cls", b""), http_bytes("GET", "/models?limit=abc", b""),
            http_bytes("POST", "/predictions/nope", b"x")]
    t0 = time.time()
    for i in range(5000):
        status, _ = raw_http(ports[i % 2], reqs[i % 3] if i % 2 == 0 else reqs[2], timeout=5)
        assert status in (400, 404, 405), (i, status)
    assert time.time() - t0 < 60
