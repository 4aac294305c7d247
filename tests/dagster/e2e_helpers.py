"""Shared pieces of the Dagster tests: sample inbox folders, a `dagster dev` process, GraphQL.

The end-to-end test drives a real `dagster dev` (webserver + daemon) the way an operator
would; everything here exists so that the test body reads as the scenario it checks and so
that the server is always torn down, whatever happens in between.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests

from pdf_assets.samples import SAMPLES

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_CONFIG = REPO_ROOT / "dagster_home" / "dagster.yaml"

T = TypeVar("T")


def write_pdfs(folder: Path, names: tuple[str, ...] = ("text_page.pdf",)) -> list[Path]:
    """Write the named sample PDFs into `folder` (the scanned sample is the slow one: skip it)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / name
        SAMPLES[name](path)
        paths.append(path)
    return paths


def touch(path: Path) -> None:
    """Move the file's mtime forward by a second: a different fingerprint on any file system."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def make_dagster_home(target: Path) -> Path:
    """A fresh instance folder with the project's `dagster.yaml` (pools, retries, monitoring)."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(INSTANCE_CONFIG, target / "dagster.yaml")
    return target.resolve()


def server_env(tmp: Path) -> dict[str, str]:
    """A fresh instance and the fake backend, with every path of the project inside `tmp`."""
    return {
        "DAGSTER_HOME": str(make_dagster_home(tmp / "dagster_home")),
        "PDF_ASSETS_BACKEND": "fake",
        "PDF_ASSETS_DEVICE": "cpu",
        "PDF_ASSETS_INBOX": str(tmp / "inbox"),
        "PDF_ASSETS_DATA_DIR": str(tmp / "data"),
        "PDF_ASSETS_DB_URL": f"sqlite:///{tmp / 'db.sqlite'}",
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 1.0) -> T:
    """Poll `probe` until it returns something other than None; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class GraphQLError(RuntimeError):
    """The server answered, but with GraphQL errors."""


@dataclass
class GraphQLClient:
    url: str
    session: requests.Session = field(default_factory=requests.Session)

    def query(self, document: str, variables: Mapping[str, object] | None = None) -> dict[str, Any]:
        """The `data` of the answer (decoded JSON); GraphQL errors raise instead of hiding in it."""
        response = self.session.post(self.url, json={"query": document, "variables": variables or {}}, timeout=30)
        response.raise_for_status()
        payload = response.json()
        if payload.get("errors"):
            raise GraphQLError(str(payload["errors"]))
        return payload["data"]


class DagsterDev:
    """`dagster dev` in its own process group, logging to a file that failures can show."""

    def __init__(self, env: Mapping[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def graphql(self) -> GraphQLClient:
        return GraphQLClient(f"{self.base_url}/graphql")

    def start(self, timeout: float = 120.0) -> None:
        # The venv's own `dagster` (beside the interpreter) so the server sees the same packages.
        executable = Path(sys.executable).with_name("dagster")
        command = [str(executable), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_default_interrupt_handling,
            )
        wait_for("the webserver to answer", self._ready, timeout)

    def _ready(self) -> bool | None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            return True if requests.get(f"{self.base_url}/server_info", timeout=2).ok else None
        except requests.RequestException:
            return None

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the whole group (webserver, daemon, code server), SIGKILL what is left."""
        if self.process is None:
            return
        pgid = self.process.pid
        _signal_group(pgid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        # Children can outlive the `dagster dev` parent; the group id still reaches them.
        deadline = time.monotonic() + 5
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        _signal_group(pgid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)

    @contextmanager
    def log_on_failure(self) -> Iterator[None]:
        """On any error, print the end of the server log (pytest shows it with the failure)."""
        try:
            yield
        except BaseException:
            print(f"--- last lines of {self.log_path} ---\n{self.log_tail()}")
            raise

    def log_tail(self, lines: int = 80) -> str:
        if not self.log_path.exists():
            return "(no server log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_dagster_dev(env: Mapping[str, str], log_path: Path, timeout: float) -> Iterator[DagsterDev]:
    """A started `dagster dev` (its log shown if starting fails), always stopped afterwards."""
    dev = DagsterDev(env, log_path)
    try:
        with dev.log_on_failure():
            dev.start(timeout=timeout)
        yield dev
    finally:
        dev.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _default_interrupt_handling() -> None:
    """Runs in the child before exec: a shell that starts jobs in the background ignores SIGINT,
    the child inherits that, and `dagster dev` maps SIGTERM onto the SIGINT disposition, so
    without this it would ignore SIGTERM as well."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, read from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may contain spaces and parentheses: split after the last ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members
