"""What the AdGuard Home compatibility tests stand on: a `ward serve` with a users file
(one plain password, one bcrypt hash), a list, and user rules with a comment and a blank
line; dig from a client address."""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WARD = os.environ.get("WARD_BIN", str(REPO / "target/debug/ward"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ward(tmp_path_factory):
    """A Ward with a users file (one plain password, one bcrypt hash), one list, and the
    default policy's user rules with a comment and a blank line."""
    d = tmp_path_factory.mktemp("agh")
    dns, admin = free_port(), free_port()
    (d / "users").write_text(
        "admin:secret\n"
        # htpasswd -nbB homeassistant hunter22
        "homeassistant:$2y$05$XWNj6Z2oguuobUDhqdVMvOECcvBrx3iOoUfN.QyVPUdp6dbMFnSY2\n"
    )
    (d / "ads.txt").write_text("||ads.example^\n")
    (d / "extra.txt").write_text("||extra.example^\n")
    (d / "ward.yaml").write_text(
        f"""
dns: {{ listen: ["127.0.0.1:{dns}"], upstream_timeout: 300ms }}
admin: {{ listen: "127.0.0.1:{admin}", users_file: "{d}/users" }}
upstreams: {{ default: {{ servers: ["127.0.0.1:9"] }} }}
lists: [{{ id: ads, path: "{d}/ads.txt" }}]
policies:
  main: {{ lists: [ads], rules: ["||custom.example^", "! a comment", ""] }}
clients: [{{ subnet: 127.0.0.3/32, policy: main, name: tablet, tags: [device_tablet] }}]
default_policy: main
data_dir: "{d}/data"
"""
    )
    proc = serve(d / "ward.yaml")
    yield {"dns": dns, "url": f"http://127.0.0.1:{admin}", "dir": d}
    stop(proc)


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


def dig(ward, name, qtype="A", src="127.0.0.3"):
    out = subprocess.run(
        ["dig", "+short", "+time=2", "+tries=1", "-b", src, "-p", str(ward["dns"]),
         "@127.0.0.1", name, qtype],
        capture_output=True, text=True, check=False,
    )
    return out.stdout.strip()


def until(check, what, limit=5.0):
    """Waits for `check()` to be true: a write is applied by a reload, within a second."""
    deadline = time.time() + limit
    while not check():
        assert time.time() < deadline, what
        time.sleep(0.05)


