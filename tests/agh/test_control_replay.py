"""AdGuard Home's rules of the road on /control (content types, credentials, the session
cookie, bad bodies), and the request sequences of external-dns's AdGuard provider and of
adguardhome-sync replayed as those tools send them, their effect checked with dig."""

import base64
import json
import time
import urllib.error
import urllib.request

from conftest import dig, until

BASIC = "Basic " + base64.b64encode(b"admin:secret").decode()


def call(ward, method, path, body=None, *, content_type="application/json", auth=BASIC,
         cookie=None, raw=None):
    """One request: (status, headers, body text). `raw` is sent as it is."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(ward["url"] + path, data=data, method=method)
    if data is not None and content_type:
        req.add_header("Content-Type", content_type)
    if auth:
        req.add_header("Authorization", auth)
    if cookie:
        req.add_header("Cookie", cookie)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def test_credentials_cookie_and_content_types(ward):
    # Without credentials: 401, an empty body, no challenge (as AdGuard Home).
    status, headers, body = call(ward, "GET", "/control/status", auth=None)
    assert (status, body) == (401, "")
    assert "WWW-Authenticate" not in headers
    # Wrong password, and the bcrypt user's hash given as its password.
    bad = "Basic " + base64.b64encode(b"admin:nope").decode()
    assert call(ward, "GET", "/control/status", auth=bad)[0] == 401
    # A session from POST /control/login, used without Basic.
    status, headers, body = call(ward, "POST", "/control/login",
                                 {"name": "admin", "password": "secret"}, auth=None)
    assert (status, body) == (200, "OK\n"), body
    cookie = headers["Set-Cookie"].split(";")[0]
    assert cookie.startswith("agh_session=")
    assert "HttpOnly" in headers["Set-Cookie"]
    assert call(ward, "GET", "/control/status", auth=None, cookie=cookie)[0] == 200
    # A cookie that is no session is nobody, even with good Basic credentials beside it.
    assert call(ward, "GET", "/control/status", cookie="agh_session=00ff")[0] == 401
    status, _, body = call(ward, "POST", "/control/login",
                           {"name": "admin", "password": "wrong"}, auth=None)
    assert (status, body) == (403, "invalid username or password\n")
    status, headers, _ = call(ward, "GET", "/control/logout", auth=None, cookie=cookie)
    assert status == 302
    assert "agh_session=;" in headers["Set-Cookie"]
    assert call(ward, "GET", "/control/status", auth=None, cookie=cookie)[0] == 401

    # A body must be JSON, said so; an empty body may say it (adguardhome-sync does).
    status, headers, body = call(ward, "POST", "/control/filtering/set_rules",
                                 raw=b'{"rules":[]}', content_type="text/plain")
    assert (status, body) == (415, "only content-type application/json is allowed\n")
    assert headers["Content-Type"].startswith("text/plain")
    assert call(ward, "POST", "/control/parental/disable", raw=b"")[0] == 200
    # A body that is not JSON: AdGuard Home's 400 line, and nothing changed.
    before = call(ward, "GET", "/control/filtering/status")[2]
    status, _, body = call(ward, "POST", "/control/filtering/set_rules", raw=b"{rules:")
    assert status == 400 and body.startswith("json decode: "), body
    assert call(ward, "GET", "/control/filtering/status")[2] == before
    # A path AdGuard Home does not have.
    assert call(ward, "GET", "/control/nope")[:3:2] == (404, "404 page not found\n")
    # A bad qtype, a missing name.
    assert call(ward, "GET", "/control/filtering/check_host?name=x.example&qtype=NOPE")[0] == 422
    assert call(ward, "GET", "/control/filtering/check_host")[0] == 400


def test_external_dns_provider_sequence(ward):
    """muhlba91/external-dns-provider-adguard: status (running), filtering/status
    (user_rules), then filtering/set_rules with its managed rules beside the unmanaged
    ones it keeps as they are."""
    status = json.loads(call(ward, "GET", "/control/status")[2])
    assert status["running"] is True
    rules = json.loads(call(ward, "GET", "/control/filtering/status")[2])["user_rules"]
    managed = [
        "|nas.home.example^$dnsrewrite=NOERROR;A;192.168.1.20,important",
        "|nas.home.example^$dnsrewrite=NOERROR;AAAA;fd00::20,important",
        "|grafana.home.example^$dnsrewrite=NOERROR;CNAME;nas.home.example,important",
        "|_http._tcp.home.example^$dnsrewrite=NOERROR;SRV;10 5 80 nas.home.example,important",
        '|a-nas.home.example^$dnsrewrite=NOERROR;TXT;"heritage=external-dns,external-dns/owner=ward",important',
    ]
    unmanaged = [r for r in rules if r.startswith("||") or not r.startswith("|")]
    new = unmanaged + managed
    started = time.time()
    status, _, body = call(ward, "POST", "/control/filtering/set_rules", {"rules": new})
    assert (status, body) == (200, ""), body
    applied = time.time() - started
    assert json.loads(call(ward, "GET", "/control/filtering/status")[2])["user_rules"] == new
    until(lambda: dig(ward, "nas.home.example") == "192.168.1.20", "the managed A record")
    assert dig(ward, "nas.home.example", "AAAA") == "fd00::20"
    assert dig(ward, "grafana.home.example").startswith("nas.home.example.")
    assert dig(ward, "_http._tcp.home.example", "SRV") == "10 5 80 nas.home.example."
    assert "heritage=external-dns" in dig(ward, "a-nas.home.example", "TXT")
    # The unmanaged rules it kept still block.
    for rule in unmanaged:
        if rule.startswith("||") and rule.endswith("^"):
            assert dig(ward, rule[2:-1]) == "0.0.0.0", rule
    # A record deleted: the next full list without it.
    call(ward, "POST", "/control/filtering/set_rules", {"rules": unmanaged + managed[1:]})
    until(lambda: dig(ward, "nas.home.example") != "192.168.1.20", "the A record gone")
    print(f"set_rules with {len(new)} rules applied in {applied * 1000:.0f} ms")


def test_adguardhome_sync_origin_reads_and_replica_writes(ward):
    """bakito/adguardhome-sync: a run's origin reads, each a 200 of the shape it decodes,
    then a replica's diff writes, including clients/add for a client that exists and a
    rewrite added twice."""
    reads = [
        "status", "profile", "parental/status", "safesearch/status", "safebrowsing/status",
        "rewrite/settings", "rewrite/list", "blocked_services/get", "filtering/status",
        "clients", "querylog/config", "stats/config", "access/list", "dns_info",
        "dhcp/status",
    ]
    got = {}
    for path in reads:
        status, headers, body = call(ward, "GET", "/control/" + path)
        assert status == 200, (path, body)
        assert headers["Content-Type"].startswith("application/json"), path
        got[path] = json.loads(body)
    assert got["status"]["version"] >= "v0.107.68"
    # Its DNSConfig.Sort() dereferences these: arrays, never null.
    assert isinstance(got["dns_info"]["bootstrap_dns"], list)
    assert isinstance(got["dns_info"]["local_ptr_upstreams"], list)
    assert isinstance(got["rewrite/list"], list)
    assert got["dhcp/status"]["enabled"] is False
    for f in got["filtering/status"]["filters"] or []:
        assert isinstance(f["id"], int) and isinstance(f["rules_count"], int)

    # The replica's writes, as it sends them (Content-Type on every POST and PUT).
    client = {"name": "living-room-tv", "ids": ["127.0.0.5"], "tags": ["device_tv"],
              "use_global_settings": False, "use_global_blocked_services": False,
              "blocked_services": ["youtube"],
              "safe_search": {"enabled": True, "google": True, "youtube": True,
                              "bing": True, "duckduckgo": True, "ecosia": True,
                              "pixabay": True, "yandex": True},
              "filtering_enabled": True, "upstreams": [], "ignore_querylog": False}
    assert call(ward, "POST", "/control/clients/add", client)[:3:2] == (200, "")
    status, _, body = call(ward, "POST", "/control/clients/add", client)
    assert status == 400 and "another client uses the same name" in body, body
    until(lambda: dig(ward, "www.youtube.com", src="127.0.0.5") == "0.0.0.0", "the client's own services")
    assert dig(ward, "www.youtube.com", src="127.0.0.3") != "0.0.0.0"
    update = dict(client, blocked_services=["tiktok"])
    assert call(ward, "POST", "/control/clients/update",
                {"name": "living-room-tv", "data": update})[0] == 200
    until(lambda: dig(ward, "www.youtube.com", src="127.0.0.5") != "0.0.0.0", "the client updated")
    assert dig(ward, "www.tiktok.com", src="127.0.0.5") == "0.0.0.0"
    listed = json.loads(call(ward, "GET", "/control/clients")[2])["clients"]
    tv = next(c for c in listed if c["name"] == "living-room-tv")
    assert tv["ids"] == ["127.0.0.5/32"] and tv["blocked_services"] == ["tiktok"]
    assert call(ward, "POST", "/control/clients/delete", tv)[0] == 200
    until(lambda: dig(ward, "www.tiktok.com", src="127.0.0.5") != "0.0.0.0", "the client deleted")

    rewrite = {"domain": "printer.home.example", "answer": "192.168.1.40"}
    for _ in range(2):
        assert call(ward, "POST", "/control/rewrite/add", rewrite)[0] == 200
    listed = json.loads(call(ward, "GET", "/control/rewrite/list")[2])
    assert [r for r in listed if r["domain"] == "printer.home.example"] == [dict(rewrite, enabled=True)]
    until(lambda: dig(ward, "printer.home.example") == "192.168.1.40", "the rewrite")
    assert call(ward, "POST", "/control/rewrite/delete", rewrite)[0] == 200

    assert call(ward, "PUT", "/control/safesearch/settings", got["safesearch/status"])[0] == 200
    assert call(ward, "PUT", "/control/blocked_services/update",
                {"ids": ["roblox"], "schedule": {"time_zone": "Local"}})[0] == 200
    until(lambda: dig(ward, "www.roblox.com") == "0.0.0.0", "the services synced")
    # Clients that turn a global setting off, as AdGuard Home's per-client settings
    # replace the global ones: filtering off (and upstreams of its own) for a laptop; own
    # blocked services for a
    # console, which then has the lists and user rules but not the global services.
    laptop = dict(client, name="work-laptop", ids=["127.0.0.6"], use_global_settings=False,
                  filtering_enabled=False, use_global_blocked_services=True,
                  blocked_services=[], upstreams=["127.0.0.1:9"])
    console = dict(client, name="console", ids=["127.0.0.7"], use_global_settings=True,
                   use_global_blocked_services=False, blocked_services=["tiktok"])
    for c in (laptop, console):
        assert call(ward, "POST", "/control/clients/add", c)[0] == 200
    until(lambda: dig(ward, "www.tiktok.com", src="127.0.0.7") == "0.0.0.0", "the console")
    assert dig(ward, "www.roblox.com", src="127.0.0.7") != "0.0.0.0"
    assert dig(ward, "ads.example", src="127.0.0.7") == "0.0.0.0"
    assert dig(ward, "custom.example", src="127.0.0.7") == "0.0.0.0"
    for name in ("ads.example", "custom.example"):
        assert dig(ward, name, src="127.0.0.6") != "0.0.0.0", name
    # Blocked services are not filtering in AdGuard Home: the laptop keeps the global ones.
    assert dig(ward, "www.roblox.com", src="127.0.0.6") == "0.0.0.0"
    # New global user rules reach the console's copy of them.
    rules = json.loads(call(ward, "GET", "/control/filtering/status")[2])["user_rules"]
    assert call(ward, "POST", "/control/filtering/set_rules",
                {"rules": rules + ["||later.example^"]})[0] == 200
    until(lambda: dig(ward, "later.example", src="127.0.0.7") == "0.0.0.0", "the rules copied")
    assert dig(ward, "later.example", src="127.0.0.6") != "0.0.0.0"
    listed = {c["name"]: c for c in
              json.loads(call(ward, "GET", "/control/clients")[2])["clients"]}
    assert listed["work-laptop"]["filtering_enabled"] is False
    assert listed["work-laptop"]["use_global_settings"] is False
    assert listed["work-laptop"]["upstreams"] == ["127.0.0.1:9"]
    assert listed["console"]["filtering_enabled"] is True
    assert listed["console"]["use_global_blocked_services"] is False
    assert listed["console"]["blocked_services"] == ["tiktok"]
    for c in (laptop, console):
        assert call(ward, "POST", "/control/clients/delete", {"name": c["name"]})[0] == 200
    config = json.loads(call(ward, "GET", "/api/v1/config", content_type=None)[2])["config"]
    assert not [p for p in config["policies"] if p.startswith("client-")], config["policies"]
    assert list(config["upstreams"]) == ["default"], "the laptop's group went with it"
    status, _, body = call(ward, "PUT", "/control/blocked_services/update", {"ids": ["nope"]})
    assert (status, body) == (422, 'validating: unknown blocked-service "nope"\n')
    assert call(ward, "POST", "/control/access/set", got["access/list"])[0] == 200
    assert call(ward, "PUT", "/control/querylog/config/update", got["querylog/config"])[0] == 200
    assert call(ward, "PUT", "/control/stats/config/update", got["stats/config"])[0] == 200
    assert call(ward, "POST", "/control/dns_config", got["dns_info"])[0] == 200
    assert call(ward, "POST", "/control/filtering/config",
                {"enabled": True, "interval": got["filtering/status"]["interval"]})[0] == 200
    # The metrics scrape: querylog with the quotes it sends (url-encoded, as go-resty does).
    status, _, body = call(ward, "GET", '/control/querylog?limit=100&response_status=%22all%22')
    assert status == 200
    for e in json.loads(body)["data"]:
        assert isinstance(e["elapsedMs"], str)
