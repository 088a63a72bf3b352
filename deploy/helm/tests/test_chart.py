"""The Helm chart, rendered offline: every decision of deploy/helm/ward checked on what
`helm template` makes of the default, home, standalone and split values, the values the
schema refuses, and the rendered objects and configs validated.

Run by .ci/run: `HELM=... WARD_IMAGE=localhost/ward:dev python3 -m pytest deploy/helm/tests`.
HELM is the helm binary (helm on PATH unless set); with WARD_IMAGE the rendered configs
are checked by `ward validate` inside the image (podman), else by WARD_BIN.
"""

import json
import os
import pathlib
import subprocess
import tempfile

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
CHART = REPO / "deploy/helm/ward"
HELM = os.environ.get("HELM", "helm")
VALUES = {
    "default": [],
    "home": [CHART / "ci/home-values.yaml"],
    "standalone": [CHART / "ci/standalone-values.yaml"],
    "split": [CHART / "ci/split-values.yaml"],
}
K8S_VERSIONS = ["1.33.0", "1.35.0", "1.37.0"]


def helm_template(files=(), sets=(), release="ward"):
    args = [HELM, "template", release, str(CHART)]
    for f in files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    return subprocess.run(args, capture_output=True, text=True)


def render(name, sets=()):
    out = helm_template(VALUES[name], sets)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def kinds(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def named(docs, kind, suffix):
    """The object `kind` named the release's full name (`ward`) and `suffix`."""
    name = suffix if suffix == "ward" else f"ward{suffix}"
    found = [d for d in kinds(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {[d['metadata']['name'] for d in kinds(docs, kind)]}"
    return found[0]


def node_configs(docs):
    cm = named(docs, "ConfigMap", "-config")
    return {k: yaml.safe_load(v) for k, v in cm["data"].items()}


def pod_labels(sts):
    return sts["spec"]["template"]["metadata"]["labels"]


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("name", VALUES)
def test_lint_strict(name):
    args = [HELM, "lint", "--strict", str(CHART)]
    for f in VALUES[name]:
        args += ["-f", str(f)]
    out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("name", VALUES)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_renders_are_valid_kubernetes(name, version, tmp_path):
    out = helm_template(VALUES[name])
    assert out.returncode == 0, out.stderr
    rendered = tmp_path / f"{name}.yaml"
    rendered.write_text(out.stdout)
    check = subprocess.run(
        ["kubernetes-validate", "-k", version, "--strict", str(rendered)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


CRDS = pathlib.Path(__file__).with_name("validate-crds.mjs")


@pytest.mark.parametrize("name", VALUES)
def test_crd_kinds_are_valid_against_their_schemas(name):
    out = helm_template(VALUES[name])
    assert out.returncode == 0, out.stderr
    check = subprocess.run(["node", str(CRDS)], input=out.stdout, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_bad_crd_object_is_caught():
    # The checker itself: a route without its parent's name, a monitor with a bad interval.
    bad = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: bad }
spec: { parentRefs: [{ namespace: network }], rules: [{ backendRefs: [{ name: x, port: eighty }] }] }
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: { name: bad }
spec: { selector: {}, endpoints: [{ port: admin, interval: soon }] }
---
apiVersion: example.com/v1
kind: Unknown
metadata: { name: bad }
"""
    check = subprocess.run(["node", str(CRDS)], input=bad, capture_output=True, text=True)
    assert check.returncode == 1
    assert check.stdout.count("FAIL") == 3, check.stdout


def test_one_dns_service_udp_and_tcp_53_keeps_the_client_address_over_every_pod():
    docs = render("home")
    svc = named(docs, "Service", "-dns")
    spec = svc["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["externalTrafficPolicy"] == "Local"
    assert {(p["protocol"], p["port"], p["targetPort"]) for p in spec["ports"]} == {
        ("UDP", 53, "dns-udp"),
        ("TCP", 53, "dns-tcp"),
    }
    assert svc["metadata"]["annotations"]["lbipam.cilium.io/ips"] == "192.168.1.71,fd00:1::71"
    assert spec["ipFamilyPolicy"] == "PreferDualStack" and spec["ipFamilies"] == ["IPv4", "IPv6"]
    assert "ipFamilyPolicy" not in named(render("default"), "Service", "-dns")["spec"]
    stses = kinds(docs, "StatefulSet")
    assert len(stses) == 2
    for sts in stses:
        assert selects(spec["selector"], pod_labels(sts)), sts["metadata"]["name"]
        ports = {(p["containerPort"], p["protocol"]) for p in sts["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert (5353, "UDP") in ports and (5353, "TCP") in ports


def test_split_gives_two_services_sharing_one_ip():
    docs = render("split")
    udp, tcp = named(docs, "Service", "-dns-udp"), named(docs, "Service", "-dns-tcp")
    assert [p["protocol"] for p in udp["spec"]["ports"]] == ["UDP"]
    assert [p["protocol"] for p in tcp["spec"]["ports"]] == ["TCP"]
    for svc in (udp, tcp):
        a = svc["metadata"]["annotations"]
        assert a["lbipam.cilium.io/sharing-key"] == a["metallb.io/allow-shared-ip"] == "ward-dns"
        assert a["metallb.io/loadBalancerIPs"] == "192.168.1.71"
        assert svc["spec"]["externalTrafficPolicy"] == "Local"
    assert udp["spec"]["selector"] == tcp["spec"]["selector"]
    assert not [d for d in kinds(docs, "Service") if d["metadata"]["name"].endswith("-dns")]


@pytest.mark.parametrize("name", VALUES)
def test_config_is_a_directory_mount_and_nothing_restarts_pods_on_a_change(name):
    docs = render(name)
    text = yaml.safe_dump_all(docs)
    assert "subPath" not in text
    assert "checksum/" not in text
    for sts in kinds(docs, "StatefulSet"):
        pod = sts["spec"]["template"]["spec"]
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        assert mounts["config"]["mountPath"] == "/etc/ward"
        assert mounts["config"]["readOnly"] is True
        config = next(v for v in pod["volumes"] if v["name"] == "config")
        assert config["configMap"]["name"].endswith("-config")


@pytest.mark.parametrize("name", VALUES)
def test_pods_are_hardened(name):
    for sts in kinds(render(name), "StatefulSet"):
        pod = sts["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        sc = pod["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 65532 and sc["fsGroup"] == 65532
        assert sc["seccompProfile"]["type"] == "RuntimeDefault"
        c = pod["containers"][0]["securityContext"]
        assert c["readOnlyRootFilesystem"] is True
        assert c["allowPrivilegeEscalation"] is False
        assert c["capabilities"]["drop"] == ["ALL"]
        assert "add" not in c["capabilities"]


def test_probes_and_a_pause_before_the_drain():
    for sts in kinds(render("default"), "StatefulSet"):
        pod = sts["spec"]["template"]["spec"]
        c = pod["containers"][0]
        assert c["startupProbe"]["httpGet"]["path"] == "/livez"
        assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        # No shell in the image: the sleep action, not `sh -c sleep`.
        assert c["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
        assert pod["terminationGracePeriodSeconds"] == 30


def test_the_primary_pushes_to_every_replica_pod_and_replicas_pull_from_the_primary():
    docs = render("home")
    configs = node_configs(docs)
    primary, replica = configs["primary.yaml"], configs["replica.yaml"]
    assert primary["sync"] == {
        "role": "primary",
        "replicas": ["http://ward-replicas:8080"],
        "token_file": "/run/secrets/ward/sync-token",
    }
    assert replica["sync"]["role"] == "replica"
    assert replica["sync"]["primary"] == "http://ward-admin:8080"
    headless = named(docs, "Service", "-replicas")["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    replica_sts = named(docs, "StatefulSet", "-replica")
    primary_sts = named(docs, "StatefulSet", "-primary")
    assert selects(headless["selector"], pod_labels(replica_sts))
    assert not selects(headless["selector"], pod_labels(primary_sts))
    admin = named(docs, "Service", "-admin")["spec"]
    assert selects(admin["selector"], pod_labels(primary_sts))
    assert not selects(admin["selector"], pod_labels(replica_sts))
    assert replica_sts["spec"]["replicas"] == 2 and primary_sts["spec"]["replicas"] == 1
    # Each pod's own settings, the same filtering.
    for c in (primary, replica):
        assert c["dns"]["listen"] == ["0.0.0.0:5353", "[::]:5353"]
        assert c["admin"]["listen"] == "0.0.0.0:8080"
        assert c["data_dir"] == "/var/lib/ward"
        assert c["admin"]["write_to"] == "auto"
    # (external-dns's webhook is the primary's, which takes the writes.)
    strip = lambda c: {k: v for k, v in c.items() if k not in ("sync", "external_dns")}
    assert strip(primary) == strip(replica)


def test_each_pod_keeps_its_data_dir_on_a_volume():
    docs = render("home")
    for sts, size in ((named(docs, "StatefulSet", "-primary"), "2Gi"), (named(docs, "StatefulSet", "-replica"), "1Gi")):
        (claim,) = sts["spec"]["volumeClaimTemplates"]
        assert claim["metadata"]["name"] == "data"
        assert claim["spec"]["resources"]["requests"]["storage"] == size
        assert claim["spec"]["storageClassName"] == "ceph-block"
    # Without persistence: an emptyDir.
    (sts,) = kinds(render("standalone"), "StatefulSet")
    assert "volumeClaimTemplates" not in sts["spec"]
    data = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "data")
    assert data == {"name": "data", "emptyDir": {}}


def test_standalone_is_one_server_without_sync():
    docs = render("standalone")
    assert [s["metadata"]["name"] for s in kinds(docs, "StatefulSet")] == ["ward-primary"]
    configs = node_configs(docs)
    assert list(configs) == ["primary.yaml"]
    assert "sync" not in configs["primary.yaml"]
    assert configs["primary.yaml"]["dns"]["listen"] == ["0.0.0.0:5353"]
    assert not kinds(docs, "Secret")
    assert not [s for s in kinds(docs, "Service") if s["metadata"]["name"].endswith("-replicas")]


def test_secrets_come_from_the_users_secret_or_a_generated_sync_token():
    home = render("home")
    assert not kinds(home, "Secret")
    for sts in kinds(home, "StatefulSet"):
        vols = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        assert vols["secrets"]["secret"]["secretName"] == "ward-secret"
    admin = node_configs(home)["primary.yaml"]["admin"]
    assert admin["token_file"] == "/run/secrets/ward/admin-token"
    assert admin["users_file"] == "/run/secrets/ward/admin-users"
    assert "read_only" not in admin and "metrics_auth" not in admin
    gitops = node_configs(render("home", sets=["admin.readOnly=true", "admin.metricsAuth=true"]))
    assert gitops["primary.yaml"]["admin"]["read_only"] is True
    assert gitops["primary.yaml"]["admin"]["metrics_auth"] is True
    default = render("default")
    (secret,) = kinds(default, "Secret")
    assert secret["metadata"]["name"] == "ward-sync"
    assert len(secret["data"]["sync-token"]) >= 48
    assert "token_file" not in node_configs(default)["primary.yaml"]["admin"]
    no_admin_token = render("home", sets=["admin.tokenKey="])
    assert "token_file" not in node_configs(no_admin_token)["primary.yaml"]["admin"]


def test_disruption_budget_and_spread_over_nodes():
    docs = render("home")
    pdb = named(docs, "PodDisruptionBudget", "ward")["spec"]
    assert pdb["maxUnavailable"] == 1
    for sts in kinds(docs, "StatefulSet"):
        assert selects(pdb["selector"]["matchLabels"], pod_labels(sts))
        (spread,) = sts["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert spread["topologyKey"] == "kubernetes.io/hostname"
        assert spread["whenUnsatisfiable"] == "DoNotSchedule"
        assert selects(spread["labelSelector"]["matchLabels"], pod_labels(sts))


def test_metrics_routes_and_dashboard():
    docs = render("home")
    (monitor,) = kinds(docs, "ServiceMonitor")
    metrics = named(docs, "Service", "-metrics")
    assert selects(monitor["spec"]["selector"]["matchLabels"], metrics["metadata"]["labels"])
    assert monitor["spec"]["endpoints"] == [{"port": "admin", "path": "/metrics", "interval": "30s"}]
    for sts in kinds(docs, "StatefulSet"):
        assert selects(metrics["spec"]["selector"], pod_labels(sts))
    routes = {r["metadata"]["name"]: r for r in kinds(docs, "HTTPRoute")}
    assert routes["ward"]["spec"]["rules"][0]["backendRefs"] == [{"name": "ward-admin", "port": 8080}]
    assert routes["ward"]["spec"]["hostnames"] == ["ward.home.example.com"]
    assert routes["ward-replica"]["spec"]["rules"][0]["backendRefs"] == [{"name": "ward-replica-admin", "port": 8080}]
    replica_admin = named(docs, "Service", "-replica-admin")["spec"]
    # The StatefulSet controller labels each pod with its name.
    first = {**pod_labels(named(docs, "StatefulSet", "-replica")), "statefulset.kubernetes.io/pod-name": "ward-replica-0"}
    assert selects(replica_admin["selector"], first)
    # One pod: a UI session lives in one pod's memory.
    assert replica_admin["selector"]["statefulset.kubernetes.io/pod-name"] == "ward-replica-0"
    dashboard = named(docs, "ConfigMap", "-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["ward.json"]) == json.loads((REPO / "deploy/grafana/ward.json").read_text())
    (ingress,) = kinds(render("split"), "Ingress")
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "ward-admin"


def test_helm_test_validates_each_role_config_in_the_image():
    docs = render("home")
    pod = named(docs, "Pod", "-validate")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    args = [c["args"] for c in pod["spec"]["containers"]]
    assert args == [
        ["validate", "--config", "/etc/ward/primary.yaml"],
        ["validate", "--config", "/etc/ward/replica.yaml"],
    ]


@pytest.mark.parametrize(
    "sets, message",
    [
        (["config.sync.role=primary"], "'not' failed"),
        (["config.admin.listen=0.0.0.0:8080"], "'not' failed"),
        (["config.data_dir=/tmp"], "'not' failed"),
        (["config.dns.listen={0.0.0.0:53}"], "'not' failed"),
        (["replicas.count=two"], "/replicas"),
        (["dns.service.externalTrafficPolicy=Nowhere"], "externalTrafficPolicy"),
        (["replica.count=1"], "additional properties 'replica' not allowed"),
        (["primary.persistence.size=lots"], "/primary/persistence/size"),
        (["externalDns.pathPrefix=secret"], "/externalDns/pathPrefix"),
        (["externalDns.port=8080"], "/externalDns/port"),
    ],
)
def test_the_schema_refuses_bad_values(sets, message):
    out = helm_template(sets=sets)
    assert out.returncode != 0, out.stdout[:200]
    assert message in out.stderr, out.stderr


def test_external_dns_webhook_on_the_primary_only_behind_a_network_policy():
    docs = render("home")
    configs = node_configs(docs)
    assert configs["primary.yaml"]["external_dns"] == {
        "listen": "0.0.0.0:8888", "domains": ["home.example.com"]}
    assert "external_dns" not in configs["replica.yaml"], "a replica takes no writes"
    primary = named(docs, "StatefulSet", "-primary")
    ports = {p["name"]: p for p in primary["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert ports["external-dns"]["containerPort"] == 8888
    replica = named(docs, "StatefulSet", "-replica")
    assert "external-dns" not in {
        p["name"] for p in replica["spec"]["template"]["spec"]["containers"][0]["ports"]}
    svc = named(docs, "Service", "-external-dns")
    assert selects(svc["spec"]["selector"], pod_labels(primary))
    assert not selects(svc["spec"]["selector"], pod_labels(replica))
    assert svc["spec"]["ports"] == [{"name": "external-dns", "port": 8888,
                                     "targetPort": "external-dns", "protocol": "TCP"}]
    policy = named(docs, "NetworkPolicy", "-external-dns")
    assert selects(policy["spec"]["podSelector"]["matchLabels"], pod_labels(primary))
    open_rule, hook_rule = policy["spec"]["ingress"]
    # DNS and the admin port stay open to every client; the webhook's only to external-dns.
    assert "from" not in open_rule
    assert {p["port"] for p in open_rule["ports"]} == {"dns-udp", "dns-tcp", "admin"}
    assert hook_rule["ports"] == [{"port": "external-dns", "protocol": "TCP"}]
    peer = hook_rule["from"][0]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "external-dns"}
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "external-dns"}
    # Off by default, and a secret path when asked for.
    assert not kinds(render("default"), "NetworkPolicy")
    docs = render("home", ["externalDns.pathPrefix=/6f1c0e9a", "externalDns.networkPolicy.enabled=false"])
    assert node_configs(docs)["primary.yaml"]["external_dns"]["path_prefix"] == "/6f1c0e9a"
    assert not kinds(docs, "NetworkPolicy")


@pytest.mark.parametrize("name", VALUES)
def test_every_rendered_config_passes_ward_validate(name):
    configs = named(render(name), "ConfigMap", "-config")["data"]
    with tempfile.TemporaryDirectory() as d:
        # Readable by the image's user (65532), as a ConfigMap's files are.
        os.chmod(d, 0o755)
        for key, text in configs.items():
            pathlib.Path(d, key).write_text(text)
            os.chmod(pathlib.Path(d, key), 0o644)
            image = os.environ.get("WARD_IMAGE")
            if image:
                cmd = ["podman", "run", "--rm", "--network", "none", "--read-only",
                       "-v", f"{d}:/etc/ward:ro", image, "validate", "--config", f"/etc/ward/{key}"]
            else:
                cmd = [os.environ.get("WARD_BIN", str(REPO / "target/debug/ward")),
                       "validate", "--config", str(pathlib.Path(d, key))]
            out = subprocess.run(cmd, capture_output=True, text=True)
            assert out.returncode == 0, f"{name} {key}: {out.stdout}{out.stderr}"
            assert "config OK" in out.stdout + out.stderr
