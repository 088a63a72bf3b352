"""/control's cache_clear against a Ward whose upstream is a responder this test runs (it
counts the questions it is asked), and the endpoints of what Ward does not do (DHCP,
encryption settings) answered as AdGuard Home answers without them."""

import base64
import json
import socket
import struct
import threading
import urllib.error
import urllib.request

import pytest
from conftest import dig, free_port, serve, stop

BASIC = "Basic " + base64.b64encode(b"admin:secret").decode()


class Upstream:
    """A UDP responder on 127.0.0.1: every A question gets 192.0.2.7, TTL 3600."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.asked = 0
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                query, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            end = 12
            while query[end] != 0:
                end += query[end] + 1
            question = query[12:end + 5]
            self.asked += 1
            header = query[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0)
            answer = struct.pack(">HHHIH", 0xC00C, 1, 1, 3600, 4) + bytes([192, 0, 2, 7])
            self.sock.sendto(header + question + answer, peer)

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def ward(tmp_path_factory):
    d = tmp_path_factory.mktemp("agh-cache")
    upstream = Upstream()
    dns, admin = free_port(), free_port()
    (d / "users").write_text("admin:secret\n")
    (d / "ward.yaml").write_text(
        f"""
dns: {{ listen: ["127.0.0.1:{dns}"] }}
admin: {{ listen: "127.0.0.1:{admin}", users_file: "{d}/users" }}
upstreams: {{ default: {{ servers: ["127.0.0.1:{upstream.port}"] }} }}
policies: {{ main: {{}} }}
default_policy: main
data_dir: "{d}/data"
"""
    )
    proc = serve(d / "ward.yaml")
    yield {"dns": dns, "url": f"http://127.0.0.1:{admin}", "dir": d, "upstream": upstream}
    stop(proc)
    upstream.close()


def post(ward, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(ward["url"] + path, data=data, method="POST")
    req.add_header("Authorization", BASIC)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_cache_clear_sends_the_next_question_upstream(ward):
    upstream = ward["upstream"]
    assert dig(ward, "cached.example") == "192.0.2.7"
    asked = upstream.asked
    assert dig(ward, "cached.example") == "192.0.2.7"
    assert upstream.asked == asked, "the second answer is the cache's"
    assert post(ward, "/control/cache_clear") == (200, "OK\n")
    assert dig(ward, "cached.example") == "192.0.2.7"
    assert upstream.asked == asked + 1, "after cache_clear the upstream is asked again"


def test_dhcp_and_encryption_answer_as_without_them(ward):
    status, body = post(ward, "/control/dhcp/set_config", {"enabled": True})
    assert status == 501 and "dhcp is not supported" in json.loads(body)["message"]
    status, body = post(ward, "/control/dhcp/add_static_lease",
                        {"mac": "aa:bb:cc:dd:ee:ff", "ip": "192.168.1.9", "hostname": "tv"})
    assert status == 501
    # Encryption off is what Ward has: taken, and answered with the status.
    status, body = post(ward, "/control/tls/configure", {"enabled": False})
    assert status == 200 and json.loads(body)["enabled"] is False
    status, body = post(ward, "/control/tls/validate", {"enabled": True, "server_name": "x"})
    assert status == 400 and "DNS-over-TLS" in body
