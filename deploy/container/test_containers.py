"""The image as the chart runs it: a primary and two replicas as podman containers on one
podman network of the test's own, each with a read-only root, as user 65532, with no
capability, its config from a mounted ConfigMap-style directory (rendered by the chart),
its secrets from a mounted directory and its data_dir on a volume. The replicas share the
network alias the chart's headless Service gives them, so the primary's `sync.replicas`
name resolves to both.

Checked: a replica started empty without its primary is not ready; a rule written to the
primary's API is answered by both replicas (and, the config being read-only, it lands in
the primary's layer); a ConfigMap-style symlink swap reloads; with the primary stopped the
replicas keep answering.

Run by .ci/run after deploy/container/build.sh: `WARD_IMAGE=localhost/ward:dev HELM=...
python3 -m pytest deploy/container`. Only loopback ports are published; the containers
talk on their own network.
"""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("WARD_IMAGE", "localhost/ward:dev")
HELM = os.environ.get("HELM", "helm")
ADMIN_TOKEN = "container-admin-token"


def run(*args, check=True):
    out = subprocess.run(args, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: {out.stdout}{out.stderr}")
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dig(port, name, tcp=False):
    args = ["dig", "+short", "+time=2", "+tries=1", "-p", str(port), "@127.0.0.1", name]
    if tcp:
        args.append("+tcp")
    return run(*args, check=False).stdout.split()


def http(port, path, method="GET", body=None):
    args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "--max-time", "5",
            "-H", f"Authorization: Bearer {ADMIN_TOKEN}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    out = run(*args, f"http://127.0.0.1:{port}{path}", check=False).stdout
    text, _, code = out.rpartition("\n")
    return int(code or 0), text


def wait(what, done, limit=20):
    start = time.monotonic()
    while not done():
        assert time.monotonic() - start < limit, f"{what}: not within {limit} s"
        time.sleep(0.2)
    return time.monotonic() - start


def render_configs(extra_records=()):
    """The chart's primary.yaml and replica.yaml for a small home config."""
    records = [{"name": "nas.home.example", "type": "A", "value": "10.0.0.5"}, *extra_records]
    values = {
        "admin": {"existingSecret": "ward-secret"},
        "replicas": {"count": 2, "syncInterval": "1s"},
        "config": {
            "upstreams": {"default": {"servers": ["127.0.0.1:9"]}},
            "policies": {"main": {"rules": ["||ads.example^"]}},
            "records": records,
            "default_policy": "main",
        },
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(values, f)
    out = run(HELM, "template", "ward", str(REPO / "deploy/helm/ward"), "-f", f.name)
    os.unlink(f.name)
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "ward-config"]
    return cm["data"]


def write_configmap(mount, data, stamp):
    """A ConfigMap's directory as the kubelet writes it: `..<stamp>/` holding the files,
    `..data` -> it, and each file a link through `..data`; a new version is swapped in by
    renaming a new `..data` link over the old one."""
    version = mount / f"..{stamp}"
    version.mkdir()
    for key, text in data.items():
        (version / key).write_text(text)
    link = mount / "..data_tmp"
    link.symlink_to(version.name)
    link.rename(mount / "..data")
    for key in data:
        if not (mount / key).is_symlink():
            (mount / key).symlink_to(f"..data/{key}")


@pytest.fixture(scope="module")
def cluster():
    assert run("podman", "image", "exists", IMAGE, check=False).returncode == 0, (
        f"no image {IMAGE}: build it first (deploy/container/build.sh)"
    )
    tag = uuid.uuid4().hex[:8]
    network = f"ward-ci-{tag}"
    run("podman", "network", "create", network)
    root = pathlib.Path(tempfile.mkdtemp(prefix="ward-containers-"))
    config = root / "config"
    config.mkdir()
    write_configmap(config, render_configs(), "2026_12_01_00_00_00.000000001")
    secrets = root / "secrets"
    secrets.mkdir()
    (secrets / "admin-token").write_text(ADMIN_TOKEN + "\n")
    (secrets / "sync-token").write_text("container-sync-token\n")
    containers = {}

    def start(name, role, alias):
        data = root / f"data-{name}"
        data.mkdir(exist_ok=True)
        os.chown(data, 65532, 65532)
        dns, admin = free_port(), free_port()
        run(
            "podman", "run", "-d", "--name", f"{name}-{tag}", "--network", network,
            "--network-alias", alias, "--read-only", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "--user", "65532:65532",
            "-v", f"{config}:/etc/ward:ro", "-v", f"{secrets}:/run/secrets/ward:ro",
            "-v", f"{data}:/var/lib/ward",
            "-e", f"HOSTNAME={name}",
            "-p", f"127.0.0.1:{dns}:5353/udp", "-p", f"127.0.0.1:{dns}:5353/tcp",
            "-p", f"127.0.0.1:{admin}:8080",
            IMAGE, "serve", "--config", f"/etc/ward/{role}.yaml",
        )
        containers[name] = {"dns": dns, "admin": admin, "id": f"{name}-{tag}"}
        wait(f"{name} listening", lambda: http(admin, "/livez")[0] == 200)
        return containers[name]

    cluster = {"start": start, "containers": containers, "config": config, "tag": tag}
    yield cluster
    for c in containers.values():
        run("podman", "rm", "-f", c["id"], check=False)
    run("podman", "network", "rm", "-f", network, check=False)
    shutil.rmtree(root, ignore_errors=True)


def test_a_primary_and_two_replicas_as_the_chart_runs_them(cluster):
    start, containers = cluster["start"], cluster["containers"]

    # A replica started before its primary, with nothing saved: serving, not ready.
    first = start("ward-replica-0", "replica", "ward-replicas")
    assert http(first["admin"], "/readyz")[0] == 503
    time.sleep(1.5)
    assert http(first["admin"], "/readyz")[0] == 503, "still not ready without its primary"

    primary = start("ward-primary-0", "primary", "ward-admin")
    second = start("ward-replica-1", "replica", "ward-replicas")
    for r in (first, second):
        wait("a replica ready after its first sync", lambda: http(r["admin"], "/readyz")[0] == 200)
    code, body = http(primary["admin"], "/api/v1/status")
    status = json.loads(body)
    assert code == 200
    assert status["node"]["name"] == "ward-primary-0"
    # The mounted config is read-only to user 65532: the API writes a layer (auto).
    assert status["writes"]["mode"] == "data_dir", status["writes"]
    for c in containers.values():
        assert dig(c["dns"], "ads.example") == ["0.0.0.0"]
        assert dig(c["dns"], "nas.home.example", tcp=True) == ["10.0.0.5"]

    # A rule written to the primary's API: answered by both replicas.
    code, body = http(primary["admin"], "/api/v1/policies/main/rules", "POST", {"rule": "||written.example^"})
    assert code == 200, body
    took = wait(
        "the written rule on both replicas",
        lambda: all(dig(r["dns"], "www.written.example") == ["0.0.0.0"] for r in (first, second)),
    )
    print(f"API write on the primary -> blocked on both replicas: {took:.2f} s")
    code, body = http(primary["admin"], "/api/v1/records?name=nas.home.example", "DELETE")
    assert code == 409 and "defined in the config file" in body, body

    # The ConfigMap changes (a symlink swap): the primary reloads, the replicas follow.
    write_configmap(
        cluster["config"],
        render_configs([{"name": "tv.home.example", "type": "A", "value": "10.0.0.9"}]),
        "2026_12_01_00_10_00.000000002",
    )
    took = wait(
        "the swapped config on every pod",
        lambda: all(dig(c["dns"], "tv.home.example") == ["10.0.0.9"] for c in containers.values()),
    )
    print(f"ConfigMap swap -> answered on all three: {took:.2f} s")
    assert all(dig(r["dns"], "www.written.example") == ["0.0.0.0"] for r in (first, second)), (
        "the API's rule survives the file change"
    )

    # The primary goes away: the replicas keep answering, and stay ready.
    run("podman", "stop", "-t", "10", primary["id"])
    for r in (first, second):
        assert dig(r["dns"], "tv.home.example") == ["10.0.0.9"]
        assert dig(r["dns"], "www.written.example", tcp=True) == ["0.0.0.0"]
        assert http(r["admin"], "/readyz")[0] == 200
    # Non-root, read-only, no capabilities, as asked.
    inspect = json.loads(run("podman", "inspect", first["id"]).stdout)[0]
    assert inspect["Config"]["User"] == "65532:65532"
    assert inspect["HostConfig"]["ReadonlyRootfs"] is True
    assert inspect["HostConfig"]["CapDrop"] and not inspect["HostConfig"]["CapAdd"]
