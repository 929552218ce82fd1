"""A real dev node for the tests, started by them on free ports.

The node is the ``ting`` binary of this checkout: ``$TING_BIN`` when set,
else ``target/debug/ting`` (``./scripts/test`` builds it). Its HTTP API and
its embedded MQTT broker each take a free port, so a system broker on 1883
or anything on 8080 does not matter.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import socket
import subprocess
import time
import urllib.request

import pytest

import ting

REPO = pathlib.Path(__file__).resolve().parents[3]
# A node starts in well under a second; a loaded CI machine gets a minute.
START_DEADLINE_S = 60.0
POLL_S = 0.05


def ting_bin() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("TING_BIN") or REPO / "target" / "debug" / "ting").resolve()
    if not path.exists():
        pytest.fail(f"{path} is missing: build it with `cargo build -p ting`, or set TING_BIN")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def key_for(name: str) -> ting.Key:
    """A key of its own for each test and role, the same on every run."""
    return ting.Key.from_seed(hashlib.sha256(f"ting-py-test:{name}".encode()).digest())


class DevNode:
    """``ting node --dev`` in a temporary directory, and the CLI against it."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "node.log"
        self.proc = subprocess.Popen(
            [str(ting_bin()), "node", "--dev", "--data-dir", str(root / "data"),
             "--http", f"127.0.0.1:{self.port}", "--mqtt-listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.log, "wb"), env={**os.environ, "TING_NODE": ""},
        )
        deadline = time.monotonic() + START_DEADLINE_S
        while not self._healthy():
            if self.proc.poll() is not None:
                pytest.fail(f"the node exited ({self.proc.returncode}); its log:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the node did not answer /healthz in {START_DEADLINE_S} s:\n{self.log_text()}")
            time.sleep(POLL_S)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def cli(self, *args: str, stdin: str | None = None, cwd: pathlib.Path | None = None) -> str:
        """Runs ``ting ARGS`` against this node; answers its stdout, fails the test on an error."""
        out = subprocess.run(
            [str(ting_bin()), *args], input=stdin, capture_output=True, text=True,
            cwd=cwd or self.root, env={**os.environ, "TING_NODE": self.url}, timeout=120,
        )
        if out.returncode != 0:
            pytest.fail(f"ting {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def cli_json(self, *args: str, **kw) -> dict:
        return json.loads(self.cli("--json", *args, **kw))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory):
    node = DevNode(tmp_path_factory.mktemp("node"))
    yield node
    node.stop()


@pytest.fixture(scope="session")
def node(dev: DevNode) -> ting.Node:
    return ting.Node(dev.url)


def wait_until(check, what: str, timeout_s: float = 30.0, poll_s: float = 0.1):
    """Waits for ``check()`` to answer something true, with a deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s} s")
        time.sleep(poll_s)
