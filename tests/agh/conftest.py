"""What the AdGuard Home compatibility tests stand on: a `ward serve` with a users file
(one plain password, one bcrypt hash), a list, and user rules with a comment and a blank
line; dig from a client address."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ward_process import free_port, serve, stop, until  # noqa: E402,F401 (the tests' too)


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






def dig(ward, name, qtype="A", src="127.0.0.3"):
    out = subprocess.run(
        ["dig", "+short", "+time=2", "+tries=1", "-b", src, "-p", str(ward["dns"]),
         "@127.0.0.1", name, qtype],
        capture_output=True, text=True, check=False,
    )
    return out.stdout.strip()




