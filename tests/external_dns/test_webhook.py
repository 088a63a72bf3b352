"""external-dns's webhook provider protocol against `ward serve` (issue 18), replayed as
external-dns's webhook client sends it (provider/webhook/webhook.go in
kubernetes-sigs/external-dns): negotiation, records, adjustendpoints and a batch of
changes with its TXT registry's records; each change checked with dig. The config file is
Git's (`admin.write_to: data_dir`): managed records live in the layer in data_dir.

Run: python3 -m pytest -q tests/external_dns (WARD_BIN names the binary, else
target/debug/ward).
"""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ward_process import free_port, serve, stop, until  # noqa: E402

MEDIA = "application/external.dns.webhook+json;version=1"
PREFIX = "/hook-6f1c0e9a"
REGISTRY = '"heritage=external-dns,external-dns/owner=default,external-dns/resource=service/media/jellyfin"'


FILE = """
dns: {{ listen: ["127.0.0.1:{dns}"], upstream_timeout: 300ms }}
admin: {{ listen: "127.0.0.1:{admin}", write_to: data_dir }}
external_dns:
  listen: "127.0.0.1:{hook}"
  domains: [home.example]
  path_prefix: {prefix}
upstreams: {{ default: {{ servers: ["127.0.0.1:9"] }} }}
records:
  - {{ name: "*.home.example", type: A, value: 192.168.1.20 }}
  - {{ name: printer.home.example, type: A, value: 192.168.1.40 }}
{extra}
policies: {{ main: {{}} }}
default_policy: main
data_dir: "{dir}/data"
"""


@pytest.fixture()
def ward(tmp_path):
    ports = {"dns": free_port(), "admin": free_port(), "hook": free_port()}
    w = {"dir": tmp_path, **ports, "url": f"http://127.0.0.1:{ports['hook']}{PREFIX}"}

    def write(extra=""):
        (tmp_path / "ward.yaml").write_text(
            FILE.format(dir=tmp_path, prefix=PREFIX, extra=extra, **ports))

    w["write"] = write
    write()
    w["proc"] = serve(tmp_path / "ward.yaml")
    yield w
    stop(w["proc"])


def call(w, method, path, body=None, *, media=MEDIA, raw=None):
    """As external-dns's client calls: Accept on every request, the media type on POSTs."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(w["url"] + path, data=data, method=method)
    req.add_header("Accept", MEDIA)
    if data is not None and media:
        req.add_header("Content-Type", media)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def dig(w, name, qtype="A"):
    out = subprocess.run(["dig", "+short", "+time=2", "+tries=1", "-p", str(w["dns"]),
                          "@127.0.0.1", name, qtype], capture_output=True, text=True)
    return out.stdout.strip()




def records(w):
    status, headers, body = call(w, "GET", "/records")
    assert status == 200 and headers["Content-Type"] == MEDIA, body
    return {(e["dnsName"], e["recordType"]): e for e in json.loads(body)}


def endpoint(name, rtype, *targets, ttl=0):
    e = {"dnsName": name, "recordType": rtype, "targets": list(targets)}
    if ttl:
        e["recordTTL"] = ttl
    return e


def test_negotiate_records_adjust_and_a_batch_of_changes(ward):
    w = ward
    # Negotiation: the domain filter, in the media type; only under the secret prefix.
    status, headers, body = call(w, "GET", "")
    assert (status, headers["Content-Type"]) == (200, MEDIA), body
    assert json.loads(body) == {"include": ["home.example"]}
    plain = urllib.request.Request(f"http://127.0.0.1:{w['hook']}/records")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(plain, timeout=5)
    assert e.value.code == 404
    assert call(w, "GET", "/healthz")[0] == 200

    # The records it sees: the config file's, so that its registry leaves them alone.
    seen = records(w)
    assert seen[("*.home.example", "A")]["targets"] == ["192.168.1.20"]
    assert ("printer.home.example", "A") in seen

    # adjustendpoints: the endpoints as Ward keeps them (TTL 0 is 300, names normalised).
    desired = [endpoint("Jellyfin.Home.Example.", "A", "10.0.0.5"),
               endpoint("a-jellyfin.home.example", "TXT", REGISTRY)]
    status, headers, body = call(w, "POST", "/adjustendpoints", desired)
    assert (status, headers["Content-Type"]) == (200, MEDIA), body
    adjusted = json.loads(body)
    assert adjusted[0]["dnsName"] == "jellyfin.home.example"
    assert adjusted[0]["recordTTL"] == 300, body

    # A batch: a service moved to the cluster overrides the NAS wildcard.
    assert dig(w, "jellyfin.home.example") == "192.168.1.20"
    srv = endpoint("_jellyfin._tcp.home.example", "SRV", "0 5 8096 jellyfin.home.example")
    status, _, body = call(w, "POST", "/records", {"create": adjusted + [srv]})
    assert status == 204, body
    until(lambda: dig(w, "jellyfin.home.example") == "10.0.0.5", "the created record")
    assert dig(w, "other.home.example") == "192.168.1.20", "the wildcard stays for the rest"
    assert dig(w, "a-jellyfin.home.example", "TXT") == REGISTRY
    assert dig(w, "_jellyfin._tcp.home.example", "SRV") == "0 5 8096 jellyfin.home.example."
    seen = records(w)
    assert seen[("a-jellyfin.home.example", "TXT")]["targets"] == [REGISTRY]
    assert seen[("jellyfin.home.example", "A")]["recordTTL"] == 300
    # The file is Git's: the records are in the layer.
    layer = json.loads((w["dir"] / "data/config-layer.json").read_text())
    assert {r["name"] for r in layer["records"]} == {
        "jellyfin.home.example", "a-jellyfin.home.example", "_jellyfin._tcp.home.example"}
    assert all(r["managed_by"] == "external-dns" for r in layer["records"])

    # An update (old and new paired), then a delete.
    status, _, body = call(w, "POST", "/records", {
        "updateOld": [endpoint("jellyfin.home.example", "A", "10.0.0.5", ttl=300)],
        "updateNew": [endpoint("jellyfin.home.example", "A", "10.0.0.6", "10.0.0.7", ttl=60)]})
    assert status == 204, body
    until(lambda: sorted(dig(w, "jellyfin.home.example").split()) == ["10.0.0.6", "10.0.0.7"],
          "the updated record")
    assert records(w)[("jellyfin.home.example", "A")]["recordTTL"] == 60
    status, _, body = call(w, "POST", "/records", {
        "delete": [endpoint("jellyfin.home.example", "A", "10.0.0.6", "10.0.0.7"),
                   endpoint("a-jellyfin.home.example", "TXT", REGISTRY)]})
    assert status == 204, body
    until(lambda: dig(w, "jellyfin.home.example") == "192.168.1.20", "back to the wildcard")
    assert dig(w, "a-jellyfin.home.example", "TXT") == ""


def test_what_is_not_external_dns_s_is_refused_and_nothing_changes(ward):
    w = ward
    before = records(w)
    file = (w["dir"] / "ward.yaml").read_bytes()
    cases = [
        # A create over the file's record, beside a good one: the whole batch is refused.
        ({"create": [endpoint("tv.home.example", "A", "10.0.0.9"),
                     endpoint("printer.home.example", "A", "10.0.0.10")]}, MEDIA, 409,
         "the config keeps printer.home.example A 192.168.1.40"),
        ({"delete": [endpoint("printer.home.example", "A", "192.168.1.40")]}, MEDIA, 409,
         "not a record of external-dns's"),
        ({"create": [endpoint("nas.elsewhere.example", "A", "10.0.0.9")]}, MEDIA, 400,
         "outside external_dns.domains"),
        ({"create": [dict(endpoint("tv.home.example", "A", "10.0.0.9"), setIdentifier="v1")]},
         MEDIA, 400, "set identifier"),
        ({"create": [endpoint("tv.home.example", "HINFO", "x")]}, MEDIA, 400,
         "Ward keeps A, AAAA"),
        ({"create": [endpoint("tv.home.example", "A", "not-an-address")]}, MEDIA, 400, "IPv4"),
        ({"updateOld": [endpoint("tv.home.example", "A", "10.0.0.9")]}, MEDIA, 400,
         "pair up"),
        ({"create": [endpoint("tv.home.example", "A", "10.0.0.9")]}, "application/json", 415,
         MEDIA),
    ]
    for body, media, status, why in cases:
        got, _, text = call(w, "POST", "/records", body, media=media)
        assert got == status and why in text, (body, got, text)
    got, _, text = call(w, "POST", "/records", raw=b'{"create": [')
    assert got == 400 and "body" in text, text
    assert call(w, "POST", "/adjustendpoints", raw=b"[1, 2]")[0] == 400
    assert records(w) == before
    assert dig(w, "tv.home.example") == "192.168.1.20"
    assert dig(w, "printer.home.example") == "192.168.1.40"
    assert (w["dir"] / "ward.yaml").read_bytes() == file
    assert not (w["dir"] / "data/config-layer.json").exists()


def test_managed_records_survive_a_restart_and_a_change_of_the_file(ward):
    w = ward
    status, _, body = call(w, "POST", "/records", {
        "create": [endpoint("grafana.home.example", "CNAME", "ingress.home.example"),
                   endpoint("ingress.home.example", "A", "10.0.0.80")]})
    assert status == 204, body
    until(lambda: dig(w, "grafana.home.example").endswith("10.0.0.80"), "the records")
    stop(w["proc"])
    w["proc"] = serve(w["dir"] / "ward.yaml")
    assert dig(w, "grafana.home.example").split() == ["ingress.home.example.", "10.0.0.80"]
    # Git adds a record: the file reloads, the managed ones stay.
    w["write"]('  - { name: nas.home.example, type: A, value: 192.168.1.10 }')
    until(lambda: dig(w, "nas.home.example") == "192.168.1.10", "the file's change")
    assert dig(w, "ingress.home.example") == "10.0.0.80"
    assert ("ingress.home.example", "A") in records(w)


def test_a_batch_on_the_primary_shows_on_both_replicas(tmp_path):
    """A primary with the webhook and two replicas (pulling every 30 s, so what shows
    within seconds was pushed): a batch on the primary answers on both; a replica's
    webhook takes no writes."""
    token = tmp_path / "sync-token"
    token.write_text("a-shared-sync-token\n")
    ips = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    admin = {ip: free_port() for ip in ips}
    dns = {ip: free_port() for ip in ips}
    hook = {ip: free_port() for ip in ips}
    filtering = """upstreams: { default: { servers: ["127.0.0.1:9"] } }
records:
  - { name: "*.home.example", type: A, value: 192.168.1.20 }
policies: { main: {} }
default_policy: main
"""

    def node(ip, sync):
        path = tmp_path / f"ward-{ip}.yaml"
        path.write_text(f"""dns: {{ listen: ["{ip}:{dns[ip]}"], upstream_timeout: 300ms }}
admin: {{ listen: "{ip}:{admin[ip]}" }}
external_dns: {{ listen: "{ip}:{hook[ip]}", domains: [home.example] }}
data_dir: "{tmp_path}/data-{ip}"
sync:
{sync}
""" + filtering)
        return path

    replicas = [f"http://{ip}:{admin[ip]}" for ip in ips[1:]]
    primary = node("127.0.0.1", f"  role: primary\n  replicas: {json.dumps(replicas)}\n"
                                f"  token_file: \"{token}\"\n")
    others = [node(ip, f"  role: replica\n  primary: \"http://127.0.0.1:{admin['127.0.0.1']}\"\n"
                       f"  token_file: \"{token}\"\n  interval: 30s\n") for ip in ips[1:]]
    procs = [serve(primary)] + [serve(p) for p in others]
    try:
        def ask(ip, name):
            out = subprocess.run(["dig", "+short", "+time=2", "+tries=1", "-p", str(dns[ip]),
                                  f"@{ip}", name, "A"], capture_output=True, text=True)
            return out.stdout.strip()

        for ip in ips:
            until(lambda ip=ip: ask(ip, "jellyfin.home.example") == "192.168.1.20",
                  f"{ip} serves the config", 10)
        w = {"url": f"http://127.0.0.1:{hook['127.0.0.1']}"}
        batch = {"create": [endpoint(f"svc-{i}.home.example", "A", f"10.0.1.{i}")
                            for i in range(1, 51)]}
        started = time.time()
        status, _, body = call(w, "POST", "/records", batch)
        assert status == 204, body
        for ip in ips:
            until(lambda ip=ip: ask(ip, "svc-50.home.example") == "10.0.1.50",
                  f"{ip} answers the batch", 10)
            assert ask(ip, "svc-1.home.example") == "10.0.1.1"
        assert time.time() - started < 10, "pushed, not pulled (replicas pull every 30 s)"
        # A replica's webhook lists the records and refuses to change them.
        r = {"url": f"http://127.0.0.2:{hook['127.0.0.2']}"}
        assert ("svc-7.home.example", "A") in records(r)
        status, _, body = call(r, "POST", "/records",
                               {"create": [endpoint("tv.home.example", "A", "10.0.0.9")]})
        assert status == 403 and "this is a replica" in body, (status, body)
        assert ask("127.0.0.2", "tv.home.example") == "192.168.1.20"
    finally:
        for p in procs:
            stop(p)
