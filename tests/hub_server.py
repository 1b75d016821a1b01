"""Local Hub servers for the tests: a real mirror (olah) for downloads, a small stand-in for uploads.

``Olah`` runs the real self-hosted Hub mirror ``olah`` (PyPI) on 127.0.0.1 in offline mode,
serving plain git repositories under ``<mirrors>/models/ORG/NAME``. huggingface_hub's
snapshot_download, hf_hub_download and list_repo_refs talk to it exactly as to huggingface.co.

``UploadStandIn`` is NOT a Hub. It implements only the write endpoints huggingface_hub's
``create_repo``, ``create_branch`` and ``upload_folder`` call, as far as zoo's push uses them:

- ``POST /api/repos/create`` (409 when the repo exists, as the Hub answers),
- ``POST /api/validate-yaml`` (accepts every card: the Hub's YAML checks are not reproduced),
- ``POST /api/models/ORG/NAME/branch/BRANCH`` (from main),
- ``POST /api/models/ORG/NAME/preupload/REV`` (answers "regular" for every file: LFS and Xet
  uploads, the path real large weights take on huggingface.co, are not covered),
- ``POST /api/models/ORG/NAME/commit/REV`` (base64 file additions only; no deletions, copies,
  pull requests or parentCommit checks).

Authentication, visibility (``private`` is recorded but not enforced), rate limits and
error bodies beyond status codes are not modelled. Each commit is a real git commit in the
same mirrors folder, so what was pushed can be pulled back through olah.
"""
from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GIT_ENV = {"GIT_AUTHOR_NAME": "zoo-tests", "GIT_AUTHOR_EMAIL": "tests@zoo.invalid",
           "GIT_COMMITTER_NAME": "zoo-tests", "GIT_COMMITTER_EMAIL": "tests@zoo.invalid",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _git(repo: Path, *args: str, input: bytes | None = None, env: dict | None = None) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, timeout=30,
                            env={**os.environ, **GIT_ENV, **(env or {})})
    if result.returncode:
        raise RuntimeError(f"git {' '.join(args)}: {result.stderr.decode(errors='replace')}")
    return result.stdout.decode().strip()


def repo_path(mirrors: Path, repo_id: str) -> Path:
    org, name = repo_id.split("/")
    return Path(mirrors) / "models" / org / name


def init_repo(mirrors: Path, repo_id: str) -> Path:
    path = repo_path(mirrors, repo_id)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True, timeout=30,
                   env={**os.environ, **GIT_ENV})
    return path


def branch_sha(path: Path, branch: str) -> str | None:
    try:
        return _git(path, "rev-parse", "--verify", "-q", f"refs/heads/{branch}")
    except RuntimeError:
        return None


def commit_files(mirrors: Path, repo_id: str, files: dict[str, bytes], message: str = "commit",
                 branch: str = "main") -> str:
    """Commit ``files`` (path -> bytes) on top of ``branch`` of a bare repo; returns the sha."""
    path = repo_path(mirrors, repo_id)
    if not path.exists():
        init_repo(mirrors, repo_id)
    parent = branch_sha(path, branch)
    index = {"GIT_INDEX_FILE": str(path / f"zoo-index-{threading.get_ident()}")}
    try:
        _git(path, "read-tree", *([parent] if parent else ["--empty"]), env=index)
        for name, data in files.items():
            blob = _git(path, "hash-object", "-w", "--stdin", input=data)
            _git(path, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=index)
        tree = _git(path, "write-tree", env=index)
    finally:
        Path(index["GIT_INDEX_FILE"]).unlink(missing_ok=True)
    sha = _git(path, "commit-tree", tree, *(["-p", parent] if parent else []), "-m", message)
    _git(path, "update-ref", f"refs/heads/{branch}", sha)
    return sha


def commit_folder(mirrors: Path, repo_id: str, folder: Path, message: str = "commit", branch: str = "main",
                  extra: dict[str, bytes] | None = None) -> str:
    files = {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}
    return commit_files(mirrors, repo_id, {**files, **(extra or {})}, message, branch)


# ---- olah: the real mirror -------------------------------------------------------------
class Olah:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.mirrors = self.root / "mirrors"
        self.mirrors.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "Olah":
        config = self.root / "olah.toml"
        config.write_text(
            "[basic]\n"
            f'host = "127.0.0.1"\nport = {self.port}\n'
            f'repos-path = "{self.root / "olah-repos"}"\n'
            f'mirrors-path = ["{self.mirrors}"]\n'
            "metadata-cache-ttl = 0\n"  # a branch that moves must be seen at once
            "[accessibility]\noffline = true\n", encoding="utf-8")
        cli = Path(sys.executable).with_name("olah-cli")
        self.log = open(self.root / "olah.out", "wb")
        self.proc = subprocess.Popen([str(cli), "-c", str(config), "--log-path", str(self.root / "logs")],
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"olah exited: {(self.root / 'olah.out').read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"olah did not listen on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()


# ---- the upload stand-in ---------------------------------------------------------------
_ROUTE = re.compile(r"^/api/models/([^/]+)/([^/]+)/(branch|preupload|commit)/(.+)$")


class _Handler(BaseHTTPRequestHandler):
    server: "UploadStandIn"

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self):
        srv = self.server
        path = self.path.split("?")[0]
        body = self._body()
        srv.requests.append(("POST", path))
        if path == "/api/validate-yaml":
            return self._reply(200, {"errors": [], "warnings": []})
        if path == "/api/repos/create":
            req = json.loads(body)
            repo_id = f"{req['organization']}/{req['name']}"
            url = f"{srv.url}/{repo_id}"
            if repo_path(srv.mirrors, repo_id).exists():
                return self._reply(409, {"error": "You already created this model repo", "url": url})
            init_repo(srv.mirrors, repo_id)
            srv.private[repo_id] = req.get("visibility") == "private" or bool(req.get("private"))
            return self._reply(200, {"url": url, "name": repo_id})
        m = _ROUTE.match(path)
        if not m:
            return self._reply(404, {"error": f"the upload stand-in has no route {path}"})
        repo_id, action, rev = f"{m[1]}/{m[2]}", m[3], m[4]
        repo = repo_path(srv.mirrors, repo_id)
        if not repo.exists():
            return self._reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        if action == "branch":
            if branch_sha(repo, rev):
                return self._reply(409, {"error": f"branch {rev} already exists"})
            start = branch_sha(repo, "main")
            if start:
                _git(repo, "update-ref", f"refs/heads/{rev}", start)
            return self._reply(200, {})
        if action == "preupload":
            files = json.loads(body)["files"]
            return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                               for f in files]})
        files, message = {}, "commit"
        for line in body.splitlines():
            item = json.loads(line)
            if item["key"] == "header":
                message = item["value"].get("summary") or message
            elif item["key"] == "file":
                files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            else:
                return self._reply(400, {"error": f"the upload stand-in does not support {item['key']}"})
        sha = commit_files(srv.mirrors, repo_id, files, message, branch=rev)
        srv.commits.append((repo_id, rev, sorted(files), message, sha))
        return self._reply(200, {"commitUrl": f"{srv.url}/{repo_id}/commit/{sha}", "commitOid": sha,
                                 "pullRequestUrl": None})

    def do_GET(self):
        self.server.requests.append(("GET", self.path))
        self._reply(404, {"error": "the upload stand-in serves no downloads; pull through olah"})


class UploadStandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mirrors: Path):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mirrors = Path(mirrors)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.requests: list[tuple[str, str]] = []
        self.commits: list[tuple] = []
        self.private: dict[str, bool] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> "UploadStandIn":
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
