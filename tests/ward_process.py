"""A `ward serve` for the Python tests (tests/agh, tests/external_dns): a free port, the
process started and waited for until it says it is ready, stopped, and a wait for a
change to show. WARD_BIN names the binary, else target/debug/ward."""

import os
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WARD = os.environ.get("WARD_BIN", str(REPO / "target/debug/ward"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(config):
    """`ward serve --config CONFIG`, once it says it is ready."""
    proc = subprocess.Popen(
        [WARD, "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 30
    for line in proc.stderr:
        if " ready" in line:
            break
        assert time.time() < deadline, "ward did not become ready"
    else:
        raise AssertionError(f"ward exited with {proc.wait()}")
    return proc


def stop(proc):
    proc.terminate()
    proc.wait(10)


def until(check, what, limit=5.0):
    """Waits for `check()` to be true: a write is applied by a reload, within a second."""
    deadline = time.time() + limit
    while not check():
        assert time.time() < deadline, what
        time.sleep(0.05)
