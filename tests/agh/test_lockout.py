"""AdGuard Home's lockout of failed sign-ins: five wrong passwords in a minute from one
address lock it out for 15 minutes, the right password included; other addresses are
not locked out. (A module of its own: it locks its Ward's loopback client out.)"""

import base64
import http.client
import json



def get(ward, path, user, password, source="127.0.0.1"):
    host, port = ward["url"].removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    conn.request("GET", path, headers={"Authorization": "Basic " + auth})
    r = conn.getresponse()
    return r.status, r.read().decode()


def login(ward, user, password, source="127.0.0.1"):
    host, port = ward["url"].removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
    body = json.dumps({"name": user, "password": password})
    conn.request("POST", "/control/login", body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()


def test_five_failures_lock_an_address_out(ward):
    assert get(ward, "/control/status", "admin", "secret")[0] == 200
    for _ in range(5):
        assert get(ward, "/control/status", "admin", "wrong")[0] == 401
    # Locked out: the right password too, on /control and on Ward's own API.
    assert get(ward, "/control/status", "admin", "secret")[0] == 401
    status, body = get(ward, "/api/v1/status", "admin", "secret")
    assert status == 401 and "too many failed attempts" in body, body
    status, headers, body = login(ward, "admin", "secret")
    assert status == 429 and body.startswith("auth: blocked for"), body
    assert int(headers["retry-after"]) > 800
    # Another address is not.
    assert get(ward, "/control/status", "admin", "secret", source="127.0.0.7")[0] == 200
