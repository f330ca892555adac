"""deploy/k8s: the overlays render (kustomize_lite, cross-checked against a real kustomize where one
exists), their core objects pass `kubernetes-validate --strict`, and they are wired and hardened
the way docs/operations.md says."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import kustomize_lite
import pytest
import yaml
from deployment import (
    K8S,
    OVERLAYS,
    ROOT,
    SERVICES,
    contract_topics,
    find,
    kubectl_kustomize,
    pod_labels,
    pod_spec,
    rendered,
    selector_matches,
)

pytestmark = pytest.mark.unit

KUBERNETES_VERSION = "1.31.0"  # the oldest minor the manifests target (HPA v2, PDB v1, sidecar-free)
CORE_API_VERSIONS = {"v1", "apps/v1", "batch/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1"}


def kubernetes_validate() -> list[str]:
    exe = Path(sys.executable).with_name("kubernetes-validate")
    return [str(exe)] if exe.exists() else [shutil.which("kubernetes-validate") or "kubernetes-validate"]


def _identity(obj: dict) -> tuple:
    md = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], md.get("namespace"), md["name"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders(overlay):
    objects = rendered(overlay)
    assert len({_identity(o) for o in objects}) == len(objects)
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "careroute", obj["metadata"]["name"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "careroute"
        assert obj["metadata"]["labels"]["careroute.iom.int/environment"] == overlay


@pytest.mark.parametrize("overlay", [*OVERLAYS, "base"])
def test_kustomize_lite_matches_kubectl(overlay):
    kubectl = kubectl_kustomize()
    if not kubectl:
        pytest.skip("no kubectl with kustomize >= v4 on this machine; kustomize_lite alone renders the overlays")
    path = K8S / "base" if overlay == "base" else K8S / "overlays" / overlay
    real = [o for o in yaml.safe_load_all(subprocess.run([kubectl, "kustomize", str(path)], capture_output=True,
                                                         text=True, check=True, timeout=120).stdout) if o]
    lite = kustomize_lite.build(path)
    assert {_identity(o): o for o in lite} == {_identity(o): o for o in real}


def test_kustomize_lite_refuses_what_it_cannot_render(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(kustomize_lite.UnsupportedFeature):
        kustomize_lite.build(tmp_path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_pass_kubernetes_validate_strict(overlay, tmp_path):
    core = [o for o in rendered(overlay) if o["apiVersion"] in CORE_API_VERSIONS]
    unknown = {(o["apiVersion"], o["kind"]) for o in rendered(overlay)} - {(o["apiVersion"], o["kind"]) for o in core}
    # everything else is a custom resource with its own shape test (test_custom_resources.py)
    assert all("." in api.split("/")[0] for api, _ in unknown), unknown
    path = tmp_path / f"{overlay}.yaml"
    path.write_text(yaml.safe_dump_all(core))
    result = subprocess.run([*kubernetes_validate(), "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(path)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_kubernetes_validate_is_not_vacuous(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                                   "spec": {"selector": {}, "replica": 1, "template": {"spec": {"containers": []}}}}))
    result = subprocess.run([*kubernetes_validate(), "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(bad)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0


def test_no_secret_is_committed():
    for overlay in OVERLAYS:
        assert not find(rendered(overlay), "Secret"), "Secrets are created out of band, never committed"


def _app_workloads(objects):
    for obj in objects:
        spec = pod_spec(obj)
        if spec is not None and pod_labels(obj).get("careroute.iom.int/tier") == "app":
            yield obj, spec


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_hardened(overlay):
    for obj, spec in _app_workloads(rendered(overlay)):
        name = obj["metadata"]["name"]
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 10001, name
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], name
            assert any(m["mountPath"] == "/tmp" and m["name"] in tmp_volumes for m in c["volumeMounts"]), name
            assert "@" in c["image"] or re.search(r":[\w.-]+$", c["image"].rsplit("/", 1)[-1]), \
                f"{name}: image {c['image']} has no tag"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_process_kinds_and_probes(overlay):
    objects = rendered(overlay)
    for svc in SERVICES:
        job = find(objects, "Job", f"{svc}-migrate")[0]
        assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
        api = find(objects, "Deployment", f"{svc}-api")[0]
        c = api["spec"]["template"]["spec"]["containers"][0]
        assert c["args"] == ["api"]
        assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert "replicas" not in api["spec"], "the HPA owns api replicas"
        relay = find(objects, "Deployment", f"{svc}-relay")[0]
        assert relay["spec"]["replicas"] == 1, "one relay: it keeps per-case order"
        assert relay["spec"]["strategy"]["type"] == "Recreate", "a rollout must never run two relays"
        worker = find(objects, "Deployment", f"{svc}-worker")[0]
        assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
        assert "replicas" not in worker["spec"], "KEDA owns worker replicas"
    frontend = find(objects, "Deployment", "frontend")[0]["spec"]["template"]["spec"]["containers"][0]
    assert frontend["livenessProbe"]["httpGet"]["path"] == "/livez"


def _metrics_port(container: dict, svc: str) -> int | None:
    """The port the process serves /metrics and /livez on: its <SVC>_METRICS_PORT (a literal in
    the container's own env, not a ConfigMap shared with the api)."""
    for item in container.get("env", []):
        if item["name"] == f"{svc.upper()}_METRICS_PORT":
            return int(item["value"])
    return None


def _resolve_port(container: dict, port) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    assert port in named, f"{container['name']}: no container port named {port}"
    return named[port]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_relays_and_workers_serve_metrics_and_livez(overlay):
    objects = rendered(overlay)
    for svc in SERVICES:
        for kind in ("relay", "worker"):
            c = find(objects, "Deployment", f"{svc}-{kind}")[0]["spec"]["template"]["spec"]["containers"][0]
            port = _metrics_port(c, svc)
            assert port, f"{svc}-{kind}: no {svc.upper()}_METRICS_PORT in its env"
            assert {"name": "metrics", "containerPort": port} in c.get("ports", []), f"{svc}-{kind}: no port `metrics`"
            for probe in ("startupProbe", "livenessProbe"):
                get = c[probe]["httpGet"]
                assert get["path"] == "/livez" and _resolve_port(c, get["port"]) == port, f"{svc}-{kind} {probe}"
            assert "readinessProbe" not in c, "no Service in front of relays and workers"
        for kind in ("api",):
            c = find(objects, "Deployment", f"{svc}-{kind}")[0]["spec"]["template"]["spec"]["containers"][0]
            assert _metrics_port(c, svc) is None


def _policy_allows(policy: dict, labels: dict, port: int, namespace: str) -> bool:
    if "Ingress" not in policy["spec"]["policyTypes"] or not selector_matches(policy["spec"]["podSelector"], labels):
        return False
    for rule in policy["spec"].get("ingress", []):
        ports = rule.get("ports")
        if ports and not any(p.get("protocol", "TCP") == "TCP" and p["port"] == port for p in ports):
            continue
        for peer in rule.get("from", []):
            ns = peer.get("namespaceSelector")
            if ns is not None and "podSelector" not in peer and selector_matches(
                    ns, {"kubernetes.io/metadata.name": namespace}):
                return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_relay_and_worker_is_scraped(overlay):
    """A PodMonitor selects every relay and worker pod, scrapes its `metrics` port with the
    service/process labels the alerts use, and a NetworkPolicy lets Prometheus (namespace
    monitoring) reach that port."""
    objects = rendered(overlay)
    monitors = find(objects, "PodMonitor")
    policies = find(objects, "NetworkPolicy")
    for svc in SERVICES:
        for kind in ("relay", "worker"):
            deployment = find(objects, "Deployment", f"{svc}-{kind}")[0]
            labels = pod_labels(deployment)
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            port = _metrics_port(container, svc)
            scraped = [e for m in monitors if selector_matches(m["spec"]["selector"], labels)
                       for e in m["spec"]["podMetricsEndpoints"]]
            assert scraped, f"{svc}-{kind}: no PodMonitor selects its pods"
            for endpoint in scraped:
                assert _resolve_port(container, endpoint["port"]) == port and endpoint.get("path", "/metrics") == "/metrics"
                targets = {r["targetLabel"]: r["sourceLabels"] for r in endpoint.get("relabelings", [])}
                assert targets.get("service") == ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
                assert targets.get("process") == ["__meta_kubernetes_pod_label_app_kubernetes_io_component"]
            assert any(_policy_allows(p, labels, port, "monitoring") for p in policies), \
                f"{svc}-{kind}: Prometheus may not reach port {port}"
    for monitor in monitors:
        selected = [o for o in objects if pod_spec(o) is not None and selector_matches(monitor["spec"]["selector"],
                                                                                      pod_labels(o))]
        assert selected, f"PodMonitor {monitor['metadata']['name']} selects no pods"
        for obj in selected:
            names = {p["name"] for c in pod_spec(obj)["containers"] for p in c.get("ports", [])}
            assert {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]} <= names, obj["metadata"]["name"]


def test_network_policy_check_is_not_vacuous():
    policy = {"spec": {"podSelector": {"matchLabels": {"a": "b"}}, "policyTypes": ["Ingress"], "ingress": [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
         "ports": [{"protocol": "TCP", "port": 9100}]}]}}
    assert _policy_allows(policy, {"a": "b"}, 9100, "monitoring")
    assert not _policy_allows(policy, {"a": "b"}, 8000, "monitoring")
    assert not _policy_allows(policy, {"a": "b"}, 9100, "default")
    assert not _policy_allows(policy, {"a": "c"}, 9100, "monitoring")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_find_their_pods(overlay):
    objects = rendered(overlay)
    workloads = [(o, pod_labels(o)) for o in objects if pod_spec(o) is not None and o["kind"] != "Job"]
    for svc in find(objects, "Service"):
        if svc["metadata"]["name"] == "mailpit":
            continue
        assert any(selector_matches({"matchLabels": svc["spec"]["selector"]}, labels) for _, labels in workloads), \
            f"Service {svc['metadata']['name']} selects no pods"
    for pdb in find(objects, "PodDisruptionBudget"):
        assert any(selector_matches(pdb["spec"]["selector"], labels) for _, labels in workloads), pdb["metadata"]["name"]
    for kind in ("Deployment",):
        for obj in find(objects, kind):
            assert selector_matches(obj["spec"]["selector"], pod_labels(obj)), obj["metadata"]["name"]
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for hpa in find(objects, "HorizontalPodAutoscaler"):
        assert (hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"]) in names
    for so in find(objects, "ScaledObject"):
        assert ("Deployment", so["spec"]["scaleTargetRef"]["name"]) in names
    services = find(objects, "Service")
    for sm in find(objects, "ServiceMonitor"):
        matched = [s for s in services if selector_matches(sm["spec"]["selector"], s["metadata"].get("labels", {}))]
        assert matched, f"ServiceMonitor {sm['metadata']['name']} selects no Service"
        ports = {p["name"] for s in matched for p in s["spec"]["ports"]}
        assert {e["port"] for e in sm["spec"]["endpoints"]} <= ports


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_referenced_config_maps_and_secrets_exist_or_are_created_by_the_script(overlay):
    objects = rendered(overlay)
    config_maps = {o["metadata"]["name"] for o in find(objects, "ConfigMap")}
    script = (K8S / "create-secrets.sh").read_text()
    created = set(re.findall(r'create ([a-z0-9.-]+) ', script))
    created |= {f"{s}-db-{k}" for s in SERVICES for k in ("owner", "app")} if 'create "$svc-db-owner"' in script else set()
    created |= {"careroute-tls", "backup-object-store"}  # named in the script's closing note, made by hand / cert-manager
    secrets_used, config_used = set(), set()

    def walk(node):
        if isinstance(node, dict):
            if "secretKeyRef" in node:
                secrets_used.add(node["secretKeyRef"]["name"])
            if "configMapKeyRef" in node:
                config_used.add(node["configMapKeyRef"]["name"])
            if "configMapRef" in node:
                config_used.add(node["configMapRef"]["name"])
            if "secretName" in node:
                secrets_used.add(node["secretName"])
            for key in ("passwordSecret", "usernameSecret", "secret", "accessKeyId", "secretAccessKey"):
                if isinstance(node.get(key), dict) and "name" in node[key]:
                    secrets_used.add(node[key]["name"])
            if isinstance(node.get("secret"), str):
                secrets_used.add(node["secret"])
            for key, value in node.items():
                if key != "realm":  # the realm representation's own client "secret" fields
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for obj in objects:
        walk(obj.get("spec", {}))
    assert config_used <= config_maps, config_used - config_maps
    assert secrets_used <= created, f"Secrets nobody creates: {sorted(secrets_used - created)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worker_autoscaling_is_bounded_by_partitions(overlay):
    """A consumer group uses at most one member per partition: KEDA's maximum must not exceed the
    partitions of the busiest topic the service consumes (contracts/topics.yaml)."""
    objects = rendered(overlay)
    topics = contract_topics()
    for svc in SERVICES:
        bound = max(spec["partitions"] for spec in topics.values() if svc in spec.get("consumers", []))
        so = find(objects, "ScaledObject", f"{svc}-worker")[0]
        assert 1 <= so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"] <= bound
        for trigger in so["spec"]["triggers"]:
            assert trigger["type"] == "kafka"
            assert trigger["metadata"]["bootstrapServers"] == "careroute-kafka-bootstrap:9092"


def _consumer_groups(svc: str) -> set[str]:
    """Consumer groups the service declares: `*consumer_group` settings and GROUP_ID constants."""
    from deployment import settings_info

    groups = {str(f.default) for f in settings_info(svc).fields.values()
              if f.name == "consumer_group" or f.name.endswith("_consumer_group")}
    for path in (ROOT / "services" / svc / "src").rglob("*.py"):
        groups |= set(re.findall(r'^GROUP_ID\s*=\s*["\']([^"\']+)["\']', path.read_text(), re.MULTILINE))
    return groups


@pytest.mark.parametrize("svc", SERVICES)
def test_keda_watches_the_consumer_groups_the_service_uses(svc):
    groups = _consumer_groups(svc)
    if not groups:
        pytest.skip(f"{svc} declares no consumer group yet")
    for overlay in OVERLAYS:
        so = find(rendered(overlay), "ScaledObject", f"{svc}-worker")[0]
        assert {t["metadata"]["consumerGroup"] for t in so["spec"]["triggers"]} == groups


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_default_deny_and_cover_every_app_pod(overlay):
    objects = rendered(overlay)
    policies = find(objects, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and p["spec"]["policyTypes"] == ["Ingress"]
            and not p["spec"].get("ingress")]
    assert deny, "a default-deny ingress policy for the whole namespace"
    for obj, _ in _app_workloads(objects):
        labels = pod_labels(obj)
        egress = [p for p in policies if "Egress" in p["spec"]["policyTypes"]
                  and selector_matches(p["spec"]["podSelector"], labels)]
        assert egress, f"{obj['metadata']['name']}: egress is not restricted"
        ports = {(port.get("protocol", "TCP"), port["port"]) for p in egress for e in p["spec"].get("egress", [])
                 for port in e.get("ports", [])}
        assert ("UDP", 53) in ports, f"{obj['metadata']['name']}: no DNS"
        svc, kind = labels["app.kubernetes.io/name"], labels["app.kubernetes.io/component"]
        if svc in SERVICES:
            assert ("TCP", 5432) in ports, f"{obj['metadata']['name']}: cannot reach its database"
            db_targets = [e for p in egress for e in p["spec"].get("egress", []) for to in e.get("to", [])
                          if to.get("podSelector", {}).get("matchLabels", {}).get("cnpg.io/cluster")]
            assert all(to["podSelector"]["matchLabels"]["cnpg.io/cluster"] == f"{svc}-db"
                       for e in db_targets for to in e["to"] if "podSelector" in to), "only its own database"
            if kind != "migrate":
                assert ("TCP", 9092) in ports, f"{obj['metadata']['name']}: cannot reach Kafka"
        if svc == "frontend":
            assert ("TCP", 8000) in ports


def test_strimzi_listener_restricted_to_care_route_and_keda():
    kafka = find(rendered("prod"), "Kafka")[0]
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert listener.get("networkPolicyPeers"), f"listener {listener['name']} open to every pod"
