"""The Kubernetes manifests in k8s/: every overlay renders and every object is valid, checked offline.

Rendering: a small kustomize written here (resources, components, generators, strategic-merge patches,
images, replicas, namespace), because no kustomize binary is installed; it refuses any kustomization
field it does not implement, so the manifests cannot quietly rely on something unchecked.
Validation: core kinds against the Kubernetes JSON schemas shipped inside the ``kubernetes-validate``
wheel (strict: unknown fields fail), with the network blocked for the whole module; the operator kinds
(KEDA, Prometheus Operator) against the fields this repo relies on. Then what an operator cares about:
probes on /health, media nodes reachable over UDP and drained before they stop, stream autoscaling on
the streams and groups the workers really use, settings the code really reads, a dashboard of real
metrics.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from interview_room import bus

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "k8s"
K8S_VERSION = "1.30"
OVERLAYS = ("dev", "prod", "gpu")
OUR_IMAGES = ("interview-room", "ghcr.io/example/interview-room")
PARTS = ("signaling", "media", "stt", "llm")

Obj = dict[str, Any]


# ---------------------------------------------------------------- network guard


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The validator must work from the wheel alone: any connection attempt fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access during manifest validation: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ---------------------------------------------------------------- a small kustomize

KUSTOMIZATION_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "components",
    "namespace",
    "images",
    "replicas",
    "patches",
    "configMapGenerator",
    "secretGenerator",
}
CORE_GROUPS = {"v1", "apps/v1", "batch/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1"}
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass"}
# strategic-merge keys of the core list fields these manifests patch; other lists are replaced
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}


def read_docs(path: Path) -> list[Obj]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for d in docs:
        assert isinstance(d, dict) and {"apiVersion", "kind", "metadata"} <= set(d), f"{path}: not a resource"
    return docs


def key(o: Obj) -> tuple[str, str, str]:
    return (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", ""))


def strategic_merge(base: Obj, patch: Obj, core: bool) -> None:
    for k, v in patch.items():
        if v is None:
            base.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict):
            strategic_merge(base[k], v, core)
        elif isinstance(v, list) and core and k in MERGE_KEYS and isinstance(base.get(k), list):
            mk = MERGE_KEYS[k]
            for item in v:
                match = next((b for b in base[k] if b.get(mk) == item.get(mk)), None)
                if match is None:
                    base[k].append(copy.deepcopy(item))
                else:
                    strategic_merge(match, item, core)
        else:
            base[k] = copy.deepcopy(v)


def generate(d: Path, spec: Obj, kind: str) -> Obj:
    assert set(spec) <= {"name", "files", "literals", "options"}, spec
    options = spec.get("options", {})
    # real kustomize would rename and rewrite references; this renderer does not, so ask for stable names
    assert options.get("disableNameSuffixHash") is True, f"{spec['name']}: set options.disableNameSuffixHash"
    data: dict[str, str] = {}
    for lit in spec.get("literals", []):
        k, _, v = lit.partition("=")
        data[k] = v
    for f in spec.get("files", []):
        name, _, rel = f.rpartition("=") if "=" in f else ("", "", f)
        data[name or Path(rel).name] = (d / rel).read_text()
    meta = {"name": spec["name"], "labels": options.get("labels", {})}
    if kind == "Secret":
        enc = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "data": enc}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def pod_specs(o: Obj) -> Iterator[Obj]:
    if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        yield o["spec"]["template"]["spec"]


def containers(o: Obj) -> Iterator[Obj]:
    for ps in pod_specs(o):
        yield from ps.get("initContainers", [])
        yield from ps["containers"]


def build(d: Path, inherited: list[Obj] | None = None) -> list[Obj]:
    k = yaml.safe_load((d / "kustomization.yaml").read_text())
    unknown = set(k) - KUSTOMIZATION_FIELDS
    assert not unknown, f"{d}: kustomization fields this check does not implement: {unknown}"
    objs = list(inherited or [])
    for r in k.get("resources", []):
        p = (d / r).resolve()
        assert p.exists(), f"{d}: resource {r} does not exist"
        if p.is_dir():
            sub = yaml.safe_load((p / "kustomization.yaml").read_text())
            assert sub["kind"] == "Kustomization", f"{p} is a {sub['kind']}, not a Kustomization"
            objs += build(p)
        else:
            objs += read_docs(p)
    for c in k.get("components", []):
        p = (d / c).resolve()
        assert yaml.safe_load((p / "kustomization.yaml").read_text())["kind"] == "Component", p
        objs = build(p, objs)
    objs += [generate(d, g, "ConfigMap") for g in k.get("configMapGenerator", [])]
    objs += [generate(d, g, "Secret") for g in k.get("secretGenerator", [])]
    for patch in k.get("patches", []):
        assert set(patch) == {"path"}, f"{d}: only strategic-merge patch files are implemented: {patch}"
        for doc in read_docs(d / patch["path"]):
            targets = [
                o
                for o in objs
                if o["kind"] == doc["kind"]
                and o["metadata"]["name"] == doc["metadata"]["name"]
                and doc["metadata"].get("namespace") in (None, o["metadata"].get("namespace"))
            ]
            assert len(targets) == 1, f"{d}/{patch['path']}: {key(doc)} matches {len(targets)} resources"
            strategic_merge(targets[0], doc, doc["apiVersion"] in CORE_GROUPS)
    for r in k.get("replicas", []):
        targets = [o for o in objs if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == r["name"]]
        assert len(targets) == 1, f"{d}: replicas for unknown {r['name']}"
        targets[0]["spec"]["replicas"] = r["count"]
    for img in k.get("images", []):
        found = False
        for o in objs:
            for c in containers(o):
                name, _, _tag = c["image"].partition(":")
                if name == img["name"]:
                    c["image"] = f"{img.get('newName', name)}:{img.get('newTag', 'latest')}"
                    found = True
        assert found, f"{d}: image {img['name']} is used by no container"
    if "namespace" in k:
        for o in objs:
            if o["kind"] not in CLUSTER_SCOPED:
                o["metadata"]["namespace"] = k["namespace"]
    keys = [key(o) for o in objs]
    assert len(keys) == len(set(keys)), f"{d}: duplicate resources {sorted(x for x in keys if keys.count(x) > 1)}"
    return objs


_RENDERED: dict[str, list[Obj]] = {}


def rendered(overlay: str) -> list[Obj]:
    if overlay not in _RENDERED:
        _RENDERED[overlay] = build(K8S / "overlays" / overlay)
    return copy.deepcopy(_RENDERED[overlay])


def get(objs: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def container(objs: list[Obj], deployment: str, name: str | None = None) -> Obj:
    spec = get(objs, "Deployment", deployment)["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == (name or deployment))


def env_of(c: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in c.get("env", [])}


def config_data(objs: list[Obj]) -> dict[str, str]:
    return dict(get(objs, "ConfigMap", "interview-room-config")["data"])


# ---------------------------------------------------------------- operator kinds (CRDs)

_STR = {"type": "string"}
_NAME_REF = {"type": "object", "required": ["name"], "properties": {"name": _STR}}
CRD_SCHEMAS: dict[tuple[str, str], Obj] = {
    ("keda.sh/v1alpha1", "ScaledObject"): {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["scaleTargetRef", "triggers"],
                "properties": {
                    "scaleTargetRef": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {"name": _STR, "kind": _STR, "apiVersion": _STR},
                    },
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "cooldownPeriod": {"type": "integer", "minimum": 0},
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["type", "metadata"],
                            "properties": {
                                "type": {"enum": ["redis-streams", "prometheus"]},
                                "metadata": {"type": "object", "additionalProperties": _STR},
                                "authenticationRef": _NAME_REF,
                            },
                        },
                    },
                },
            }
        },
    },
    ("keda.sh/v1alpha1", "TriggerAuthentication"): {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "secretTargetRef": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["parameter", "name", "key"],
                            "properties": {"parameter": _STR, "name": _STR, "key": _STR},
                        },
                    }
                },
            }
        },
    },
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["selector", "endpoints"],
                "properties": {
                    "selector": {
                        "type": "object",
                        "properties": {"matchLabels": {"type": "object", "additionalProperties": _STR}},
                    },
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["port"],
                            "properties": {"port": _STR, "path": _STR, "interval": {"pattern": "^[0-9]+[smh]$"}},
                        },
                    },
                },
            }
        },
    },
}


def validate(o: Obj) -> None:
    schema = CRD_SCHEMAS.get((o["apiVersion"], o["kind"]))
    if schema is not None:
        jsonschema.validate(o, schema)
        return
    assert o["apiVersion"] in CORE_GROUPS, f"{key(o)}: {o['apiVersion']} is neither core nor a known operator kind"
    kubernetes_validate.validate(o, K8S_VERSION, strict=True)


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_renders_and_every_object_is_valid(overlay: str) -> None:
    objs = rendered(overlay)
    kinds = {o["kind"] for o in objs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PersistentVolumeClaim", "ConfigMap"} <= kinds
    for part in PARTS:
        get(objs, "Deployment", part)
    for o in objs:
        try:
            validate(o)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as e:
            pytest.fail(f"{overlay}: {key(o)} is invalid: {e.message} at {list(e.absolute_path)}")
    namespaces = {o["metadata"].get("namespace") for o in objs if o["kind"] not in CLUSTER_SCOPED}
    assert len(namespaces) == 1 and None not in namespaces, namespaces


def test_the_validator_catches_a_broken_manifest() -> None:
    """Guards the guard: strict schemas refuse a misspelt field and a wrong type."""
    deployment = get(rendered("prod"), "Deployment", "signaling")
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(typo)
    wrong = copy.deepcopy(deployment)
    wrong["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(wrong)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_has_probes_on_health(overlay: str) -> None:
    objs = rendered(overlay)
    for o in objs:
        for ps in pod_specs(o):
            for c in ps["containers"]:
                if o["kind"] == "Job":
                    continue
                assert c.get("readinessProbe") and c.get("livenessProbe"), f"{key(o)}/{c['name']}: no probes"
                if not c["image"].startswith(OUR_IMAGES):
                    continue
                ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
                for probe in ("readinessProbe", "livenessProbe"):
                    get_ = c[probe]["httpGet"]
                    assert get_["path"] == "/health", f"{key(o)} {probe}"
                    assert get_["port"] in ports, f"{key(o)} {probe}: port {get_['port']} is not declared"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_processes_listen_where_their_probes_and_services_look(overlay: str) -> None:
    objs = rendered(overlay)
    cfg = config_data(objs)
    assert cfg["HTTP_HOST"] == "0.0.0.0"  # workers and signaling must accept the kubelet and Prometheus
    expected = {"signaling": "HTTP_PORT", "media": "MEDIA_PORT", "stt": "STT_METRICS_PORT", "llm": "LLM_METRICS_PORT"}
    for part, setting in expected.items():
        c = container(objs, part)
        port = int(env_of(c)[setting]["value"]) if setting in env_of(c) else int(cfg[setting])
        assert port in [p["containerPort"] for p in c["ports"]], f"{part} listens on {port}"
        assert c["command"] == ["interview-room", part]
        assert any(ref.get("secretRef", {}).get("name") == "interview-room-secrets" for ref in c["envFrom"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_media_nodes_take_udp_and_drain_before_they_stop(overlay: str) -> None:
    from interview_room.config import Config
    from media_server.node import MediaNode

    objs = rendered(overlay)
    cfg = config_data(objs)
    media = get(objs, "Deployment", "media")
    ps = media["spec"]["template"]["spec"]
    c = container(objs, "media")
    env = env_of(c)
    # UDP from browsers: the pod is on the host's network and offers the host's address
    assert ps["hostNetwork"] is True and ps["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert env["HOST_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
    assert env["ICE_HOSTS"]["value"] == "$(HOST_IP)"
    port = int(cfg["MEDIA_PORT"])
    assert [p.get("hostPort") for p in c["ports"]] == [port]  # one media pod per node
    assert env["MEDIA_URL"]["value"] == f"http://$(POD_IP):{port}"
    # drained, not killed: the preStop hook calls the node's drain endpoint, and waits long enough
    hook = " ".join(c["lifecycle"]["preStop"]["exec"]["command"])
    assert f":{port}/internal/drain" in hook and 'method="POST"' in hook
    app = MediaNode(Config(), None, None).make_app()  # type: ignore[arg-type]
    assert any(
        r.method == "POST" and r.resource and r.resource.canonical == "/internal/drain" for r in app.router.routes()
    )
    grace = ps["terminationGracePeriodSeconds"]
    assert grace >= (3600 if overlay != "dev" else 60)
    # the hook must not return before the grace period ends: SIGTERM would then end the live sessions
    assert int(re.findall(r"time\.sleep\((\d+)\)", hook)[0]) >= grace
    assert media["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert get(objs, "PodDisruptionBudget", "media")["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_recordings_are_on_one_volume_that_media_and_signaling_share(overlay: str) -> None:
    objs = rendered(overlay)
    recordings = str(Path(config_data(objs)["DATA_DIR"]) / "recordings")
    pvc = get(objs, "PersistentVolumeClaim", "recordings")
    if overlay != "dev":  # several nodes write, signaling reads
        assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    for part in ("media", "signaling"):
        ps = get(objs, "Deployment", part)["spec"]["template"]["spec"]
        vols = {v["name"]: v for v in ps["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container(objs, part)["volumeMounts"]}
        assert vols[mounts[recordings]]["persistentVolumeClaim"]["claimName"] == "recordings", part


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_signaling_has_a_service_an_hpa_and_migrations(overlay: str) -> None:
    objs = rendered(overlay)
    svc = get(objs, "Service", "signaling")
    labels = get(objs, "Deployment", "signaling")["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    hpa = get(objs, "HorizontalPodAutoscaler", "signaling")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "signaling"}
    assert hpa["minReplicas"] >= 1 and hpa["maxReplicas"] > hpa["minReplicas"]
    init = get(objs, "Deployment", "signaling")["spec"]["template"]["spec"]["initContainers"]
    assert [c["command"] for c in init] == [["interview-room", "migrate"]]
    if overlay != "dev":
        rule = get(objs, "Ingress", "signaling")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert rule["name"] == "signaling" and rule["port"]["name"] in [p["name"] for p in svc["spec"]["ports"]]


@pytest.mark.parametrize("overlay", ("prod", "gpu"))
def test_stream_workers_scale_on_the_lag_of_the_streams_they_read(overlay: str) -> None:
    objs = rendered(overlay)
    expected = {"stt": (bus.STT_SEGMENTS, bus.STT_GROUP), "llm": (bus.LLM_JOBS, bus.LLM_GROUP)}
    for name, (stream, group) in expected.items():
        so = get(objs, "ScaledObject", name)["spec"]
        get(objs, "Deployment", so["scaleTargetRef"]["name"])
        (trigger,) = so["triggers"]
        meta = trigger["metadata"]
        assert trigger["type"] == "redis-streams"
        assert (meta["stream"], meta["consumerGroup"]) == (stream, group)
        assert int(meta["lagCount"]) >= 1 and "pendingEntriesCount" not in meta
        host = meta["address"].split(":")[0]
        get(objs, "Service", host)  # the Redis the workers use: dev StatefulSet or prod ExternalName
        auth = get(objs, "TriggerAuthentication", trigger["authenticationRef"]["name"])["spec"]
        assert {r["name"] for r in auth["secretTargetRef"]} == {"interview-room-secrets"}
        assert so["minReplicaCount"] >= 1  # a caption never waits for a cold model load
    media = get(objs, "ScaledObject", "media")["spec"]
    assert (
        media["scaleTargetRef"]["name"] == "media" and "ir_sessions_live" in media["triggers"][0]["metadata"]["query"]
    )


def test_dev_runs_without_operators_and_with_its_own_databases() -> None:
    objs = rendered("dev")
    assert not [o for o in objs if o["apiVersion"] not in CORE_GROUPS], "dev must apply on a bare cluster"
    for name in ("redis", "postgres"):
        get(objs, "StatefulSet", name)
        get(objs, "Service", name)
    secret = get(objs, "Secret", "interview-room-secrets")["data"]
    db = base64.b64decode(secret["DATABASE_URL"]).decode()
    assert db.startswith("postgresql://") and "@postgres:5432/" in db
    assert base64.b64decode(secret["REDIS_URL"]).decode().startswith("redis://redis:6379/")
    assert get(objs, "Deployment", "coturn")["spec"]["replicas"] == 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_and_config_reference_resolves(overlay: str) -> None:
    objs = rendered(overlay)
    dev_secret = set(get(rendered("dev"), "Secret", "interview-room-secrets")["data"])
    generated = {o["metadata"]["name"]: set(o["data"]) for o in objs if o["kind"] in ("Secret", "ConfigMap")}
    if overlay != "dev":  # provided outside the repo, with the keys the dev overlay shows (k8s/README.md)
        generated["interview-room-secrets"] = dev_secret - {"POSTGRES_PASSWORD"}
    refs: list[tuple[str, str | None]] = []
    for o in objs:
        for c in containers(o):
            for src in c.get("envFrom", []):
                ref = src.get("secretRef") or src.get("configMapRef")
                refs.append((ref["name"], None))
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef") or e.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    refs.append((ref["name"], ref["key"]))
        if o["kind"] == "TriggerAuthentication":
            refs += [(r["name"], r["key"]) for r in o["spec"]["secretTargetRef"]]
        for ps in pod_specs(o):
            for v in ps.get("volumes", []):
                if "configMap" in v:
                    refs.append((v["configMap"]["name"], None))
    for name, k in refs:
        assert name in generated, f"{overlay}: {name} is referenced but not defined"
        assert k is None or k in generated[name], f"{overlay}: {name} has no key {k}"


def settings_read_by_the_code() -> set[str]:
    pattern = re.compile(
        r"""(?:_env|_int|_float|_bool|_choice|_languages|_list|_env_int|environ\.get|getenv|environ\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
    )
    names: set[str] = set()
    for pkg in ("interview_room", "signaling", "web", "media_server", "recorder", "ai_sidecar"):
        for f in (ROOT / pkg).rglob("*.py"):
            names |= set(pattern.findall(f.read_text()))
    return names


# read by libraries in our image (Hugging Face cache for faster-whisper), not by our code
THIRD_PARTY_ENV = {"HF_HOME", "HF_HUB_OFFLINE"}
GPU_SETTINGS = {"STT_DEVICE", "STT_COMPUTE_TYPE"}


def settings_in(objs: list[Obj]) -> set[str]:
    """ConfigMap settings plus the env of our containers, less helpers only used as $(VAR) in others."""
    names = set(config_data(objs))
    for o in objs:
        for c in containers(o):
            if not c["image"].startswith(OUR_IMAGES):
                continue
            env = env_of(c)
            uses = json.dumps([[x.get("value", "") for x in env.values()], c.get("command"), c.get("args")])
            names |= {n for n in env if f"$({n})" not in uses}
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_setting_in_the_manifests_is_one_the_code_reads(overlay: str) -> None:
    names = settings_in(rendered(overlay)) - THIRD_PARTY_ENV - GPU_SETTINGS
    unknown = names - settings_read_by_the_code()
    assert not unknown, f"settings nothing reads (typo?): {sorted(unknown)}"


def test_the_gpu_settings_are_read_by_the_stt_worker() -> None:
    used = settings_in(rendered("gpu")) & GPU_SETTINGS
    assert used == GPU_SETTINGS and used <= settings_read_by_the_code()


def test_gpu_overlay_puts_stt_on_gpus_with_a_larger_model() -> None:
    objs = rendered("gpu")
    ps = get(objs, "Deployment", "stt")["spec"]["template"]["spec"]
    c = container(objs, "stt")
    env = {k: v.get("value") for k, v in env_of(c).items()}
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert any("gpu" in k for k in ps["nodeSelector"])
    assert any(t["key"] == "nvidia.com/gpu" for t in ps["tolerations"])
    assert env["STT_MODEL"] not in ("", "tiny.en", "base") and "cuda" in c["image"]
    # the model is read from the volume the fetch Job fills, at the cache path the Job writes to
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in ps["volumes"] if "persistentVolumeClaim" in v}
    job = get(objs, "Job", "fetch-whisper-model")["spec"]["template"]["spec"]
    job_env = {e["name"]: e.get("value") for e in job["containers"][0]["env"]}
    assert job_env["HF_HOME"] == env["HF_HOME"]
    job_claims = {v["persistentVolumeClaim"]["claimName"] for v in job["volumes"]}
    model_vol = next(n for n, p in mounts.items() if env["HF_HOME"].startswith(p))
    assert claims[model_vol] in job_claims
    # the CPU stt of prod is unchanged
    prod_stt = container(rendered("prod"), "stt")
    assert "nvidia.com/gpu" not in prod_stt["resources"].get("limits", {})


def test_turn_relays_only_with_credentials_and_only_to_media_nodes() -> None:
    objs = rendered("prod")
    conf = get(objs, "ConfigMap", "coturn-config")["data"]["turnserver.conf"]
    lines = {ln.split("=")[0] for ln in conf.splitlines() if ln and not ln.startswith("#")}
    assert {"use-auth-secret", "fingerprint", "min-port", "max-port", "no-multicast-peers"} <= lines
    assert "static-auth-secret" not in lines  # from the Secret, on the command line
    assert "denied-peer-ip" in lines and "allowed-peer-ip" in lines
    # no TCP relays: a user with TURN credentials could otherwise reach HTTP ports inside the cluster
    assert "no-tcp-relay" in lines
    denied = [_peer_range(ln) for ln in conf.splitlines() if ln.startswith("denied-peer-ip=")]
    for addr in ("10.1.2.3", "172.20.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1", "::1", "fd00::1"):
        assert any(lo <= ipaddress.ip_address(addr) <= hi for lo, hi in denied if lo.version == ipaddress.ip_address(addr).version), addr
    c = container(objs, "coturn")
    assert "--static-auth-secret=$(TURN_SECRET)" in c["args"]
    assert env_of(c)["TURN_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "interview-room-secrets"
    assert {(p["containerPort"], p["protocol"]) for p in c["ports"]} >= {(3478, "UDP"), (3478, "TCP")}
    ice = config_data(objs)["ICE_SERVERS"]
    assert ice and all(u.startswith(("stun:", "turn:", "turns:")) for u in ice.split(","))


def _peer_range(line: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """coturn's ``denied-peer-ip=A`` or ``=A-B`` as (low, high)."""
    value = line.split("=", 1)[1].strip()
    lo, _, hi = value.partition("-")
    return ipaddress.ip_address(lo), ipaddress.ip_address(hi or lo)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_media_nodes_internal_api_is_for_signaling_only(overlay: str) -> None:
    objs = rendered(overlay)
    port = int(config_data(objs)["MEDIA_PORT"])
    # the shared credential is in the Secret both signaling and the media nodes read; the preStop hook sends it
    dev_secret = get(rendered("dev"), "Secret", "interview-room-secrets")["data"]
    assert base64.b64decode(dev_secret["INTERNAL_TOKEN"]).decode()
    for part in ("signaling", "media"):
        refs = container(objs, part)["envFrom"]
        assert any(ref.get("secretRef", {}).get("name") == "interview-room-secrets" for ref in refs), part
    hook = " ".join(container(objs, "media")["lifecycle"]["preStop"]["exec"]["command"])
    assert 'os.environ["INTERNAL_TOKEN"]' in hook and '"Bearer "' in hook and "headers=auth" in hook
    # a NetworkPolicy on the media pods admits the internal port from signaling pods (and Prometheus) only
    media_labels = get(objs, "Deployment", "media")["spec"]["template"]["metadata"]["labels"]
    signaling_labels = get(objs, "Deployment", "signaling")["spec"]["template"]["metadata"]["labels"]
    policies = [
        o["spec"]
        for o in objs
        if o["kind"] == "NetworkPolicy" and o["spec"]["podSelector"]["matchLabels"].items() <= media_labels.items()
    ]
    assert policies, "no NetworkPolicy selects the media pods"
    signaling_admitted = False
    for policy in policies:
        assert "Ingress" in policy["policyTypes"]
        for rule in policy["ingress"]:
            tcp = [p for p in rule.get("ports", []) if p.get("protocol", "TCP") == "TCP"]
            if not rule.get("ports") or any(p.get("port") in (None, port) for p in tcp):
                assert rule.get("from"), f"{overlay}: TCP {port} of media pods is open to everyone: {rule}"
                for peer in rule["from"]:
                    assert "ipBlock" not in peer, rule
                    if "podSelector" in peer:
                        assert peer["podSelector"]["matchLabels"].items() <= signaling_labels.items(), rule
                        signaling_admitted = True
                    else:
                        assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
            else:  # the rest: WebRTC over UDP
                assert {p["protocol"] for p in rule["ports"]} == {"UDP"}, rule
    assert signaling_admitted


def metric_names() -> set[str]:
    import prometheus_client

    import interview_room.metrics  # noqa: F401 - registers the metrics

    names: set[str] = set()
    for fam in prometheus_client.REGISTRY.collect():
        if not fam.name.startswith("ir_"):
            continue
        names |= {
            "counter": {fam.name + "_total"},
            "histogram": {fam.name + s for s in ("_bucket", "_sum", "_count")},
        }.get(fam.type, {fam.name})
    return names


def test_monitoring_scrapes_every_process_and_the_dashboard_shows_real_metrics() -> None:
    objs = rendered("prod")
    sm = get(objs, "ServiceMonitor", "interview-room")["spec"]
    ports = {e["port"] for e in sm["endpoints"]}
    scraped = {
        o["metadata"]["name"]
        for o in objs
        if o["kind"] == "Service"
        and sm["selector"]["matchLabels"].items() <= o["metadata"].get("labels", {}).items()
        and ports & {p["name"] for p in o["spec"].get("ports", [])}
    }
    for part in PARTS:  # every process's pods are behind one scraped Service
        labels = get(objs, "Deployment", part)["spec"]["template"]["metadata"]["labels"]
        assert any(get(objs, "Service", s)["spec"]["selector"].items() <= labels.items() for s in scraped), (
            f"{part} is not scraped"
        )
    cm = get(objs, "ConfigMap", "interview-room-grafana-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    (raw,) = cm["data"].values()
    dash = json.loads(raw)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    used = {m for e in exprs for m in re.findall(r"\b(ir_[a-z0-9_]+)", e)}
    known = metric_names()
    assert used <= known, f"dashboard metrics nothing exports: {sorted(used - known)}"
    # the product's key metrics are all on it (peers, segments, caption latency, lag, first token, credits)
    for m in ("ir_peer_connections", "ir_segments_total", "ir_caption_latency_seconds_bucket", "ir_stream_lag",
              "ir_llm_time_to_first_token_seconds_bucket", "ir_credits_debited_seconds_total"):  # fmt: skip
        assert m in used, m
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
    jobs = set(re.findall(r'job="([^"]+)"', " ".join(exprs)))
    assert jobs <= scraped, f"dashboard filters on jobs that are not scraped Services: {jobs - scraped}"
