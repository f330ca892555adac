"""What the deployment tests share: paths, the rendered compose file and Kubernetes overlays, the
services' Settings classes, and the environment each container of each deployment receives."""
from __future__ import annotations

import importlib
import inspect
import re
import shutil
import subprocess
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import kustomize_lite
import yaml
from pydantic import SecretBytes, SecretStr
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
SERVICES = ("intake", "referral", "notify", "audit")
PROCESS_KINDS = ("migrate", "api", "relay", "worker")
SETTINGS_MODULES = {**{s: f"{s}.settings" for s in SERVICES}, "frontend": "careroute_frontend.settings"}


# -- compose ------------------------------------------------------------------------------------
@lru_cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


# -- kubernetes -----------------------------------------------------------------------------------
@lru_cache
def _rendered(overlay: str) -> tuple:
    return tuple(kustomize_lite.build(K8S / "overlays" / overlay))


def rendered(overlay: str) -> list[dict]:
    return list(_rendered(overlay))


def kubectl_kustomize() -> str | None:
    """A real kustomize (kubectl >= 1.21 embeds kustomize >= v4), if this machine has one."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return None
    try:
        out = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, timeout=30,
                             check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"Kustomize Version: v(\d+)", out)
    return kubectl if match and int(match.group(1)) >= 4 else None


def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]


def pod_spec(obj: dict) -> dict | None:
    spec = obj.get("spec", {})
    if obj.get("kind") in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}:
        return spec["template"]["spec"]
    if obj.get("kind") == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    if obj.get("kind") == "Pod":
        return spec
    return None


def pod_labels(obj: dict) -> dict:
    spec = obj.get("spec", {})
    if obj.get("kind") == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["metadata"].get("labels", {})
    return spec.get("template", {}).get("metadata", {}).get("labels", {})


def selector_matches(selector: dict, labels: dict) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        op = expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and present and value in expr["values"]:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


# -- settings -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SettingField:
    name: str
    env: frozenset[str]          # upper-case names pydantic-settings reads for this field
    required: bool               # no default at all
    default: object
    annotation: object


@dataclass
class ServiceSettingsInfo:
    service: str
    cls: type
    prefix: str
    fields: dict[str, SettingField] = field(default_factory=dict)

    def field_for_env(self, env_name: str) -> SettingField | None:
        for f in self.fields.values():
            if env_name.upper() in f.env:
                return f
        return None


def settings_class(module_name: str) -> type:
    module = importlib.import_module(module_name)
    found = [c for _, c in inspect.getmembers(module, inspect.isclass)
             if issubclass(c, BaseSettings) and c.__module__ == module.__name__]
    if len(found) != 1:
        raise AssertionError(f"{module_name}: expected one Settings class, found {[c.__name__ for c in found]}")
    return found[0]


def settings_info(service: str) -> ServiceSettingsInfo:
    cls = settings_class(SETTINGS_MODULES[service])
    config = cls.model_config
    prefix = config.get("env_prefix", "") or ""
    info = ServiceSettingsInfo(service, cls, prefix)
    for name, f in cls.model_fields.items():
        aliases: set[str] = set()
        alias = f.validation_alias or f.alias
        if isinstance(alias, str):
            aliases.add(alias)
        elif alias is not None and hasattr(alias, "choices"):
            aliases.update(c for c in alias.choices if isinstance(c, str))
        env = {a.upper() for a in aliases} or {(prefix + name).upper()}
        default = None if f.is_required() else f.get_default(call_default_factory=True)
        info.fields[name] = SettingField(name, frozenset(env), f.is_required(), default, f.annotation)
    return info


def _annotation_types(annotation) -> set:
    out = {annotation}
    for arg in typing.get_args(annotation):
        out |= _annotation_types(arg)
    return out


SECRET_TOKENS = {"secret", "secrets", "password", "passphrase", "key", "keys", "kek", "token", "credentials",
                 "private"}


def is_secret_like(f: SettingField) -> bool:
    """Secret types, or a name that says key/secret/password on a str, Path or list-of-str field."""
    types = _annotation_types(f.annotation)
    if types & {SecretStr, SecretBytes}:
        return True
    if not set(f.name.split("_")) & SECRET_TOKENS:
        return False
    return bool(types & {str, Path}) and not types & {int, float, bool}


def is_empty_default(f: SettingField) -> bool:
    value = f.default
    if isinstance(value, (SecretStr, SecretBytes)):
        value = value.get_secret_value()
    return value is None or value == "" or value == b"" or value == [] or value == {}


def points_at_loopback(f: SettingField) -> bool:
    """A default that only works on a developer's machine (127.0.0.1 / localhost)."""
    value = f.default
    if isinstance(value, str):
        return bool(re.search(r"\b(127\.0\.0\.1|localhost)\b", value))
    return False


# -- containers and their environment -------------------------------------------------------------
@dataclass
class Container:
    where: str                    # "compose" or "k8s/<overlay>"
    name: str                     # compose service or "<Kind>/<name>"
    service: str                  # intake | referral | notify | audit | frontend
    kind: str                     # migrate | api | relay | worker | frontend
    env: dict[str, object]        # name -> raw value (compose string, or k8s env entry / ("configmap", cm))
    helpers: set[str] = field(default_factory=set)  # k8s: variables only used inside $(...) of others
    secret_mounts: set[str] = field(default_factory=set)  # k8s: mount paths of Secret volumes


def compose_containers() -> list[Container]:
    out = []
    pattern = re.compile(rf"^({'|'.join(SERVICES)})-({'|'.join(PROCESS_KINDS)})$")
    for name, svc in compose()["services"].items():
        match = pattern.match(name)
        if match:
            service, kind = match.groups()
        elif name == "frontend":
            service, kind = "frontend", "frontend"
        else:
            continue
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
        out.append(Container("compose", name, service, kind, dict(env)))
    return out


def k8s_containers(overlay: str) -> list[Container]:
    objects = rendered(overlay)
    config_maps = {o["metadata"]["name"]: o.get("data", {}) for o in find(objects, "ConfigMap")}
    out = []
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        labels = pod_labels(obj)
        service = labels.get("app.kubernetes.io/name")
        kind = labels.get("app.kubernetes.io/component")
        if service not in (*SERVICES, "frontend"):
            continue
        secret_volumes = {v["name"] for v in spec.get("volumes", []) if "secret" in v}
        for c in spec.get("containers", []):
            env: dict[str, object] = {}
            for source in c.get("envFrom", []):
                if "secretRef" in source:
                    raise AssertionError(f"{obj['metadata']['name']}: envFrom secretRef hides which variables "
                                         "a container gets; use env[].valueFrom.secretKeyRef")
                cm = source["configMapRef"]["name"]
                for key in config_maps[cm]:
                    env[source.get("prefix", "") + key] = ("configmap", cm, config_maps[cm][key])
            for item in c.get("env", []):
                env[item["name"]] = item
            referenced = set()
            for item in c.get("env", []):
                referenced |= set(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(item.get("value", ""))))
            mounts = {m["mountPath"] for m in c.get("volumeMounts", []) if m["name"] in secret_volumes}
            out.append(Container(f"k8s/{overlay}", f"{obj['kind']}/{obj['metadata']['name']}", service, kind,
                                 env, helpers=referenced, secret_mounts=mounts))
    return out


def all_containers() -> list[Container]:
    containers = compose_containers()
    for overlay in OVERLAYS:
        containers += k8s_containers(overlay)
    return containers


# -- environment variables the code reads directly (outside Settings) ------------------------------
def directly_read_env() -> set[str]:
    names: set[str] = set()
    roots = [ROOT / "libs" / "platform" / "src", ROOT / "frontend" / "src"] + [ROOT / "services" / s / "src"
                                                                                for s in SERVICES]
    pattern = re.compile(r"""os\.(?:environ\.get|getenv|environ\[)\(?\s*["']([A-Z][A-Z0-9_]*)["']""")
    for root in roots:
        for path in root.rglob("*.py"):
            names |= set(pattern.findall(path.read_text(errors="replace")))
    return names


# -- contracts ------------------------------------------------------------------------------------
def contract_topics() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "contracts" / "topics.yaml").read_text())["topics"]


def expected_topics() -> dict[str, int]:
    out = {}
    for name, spec in contract_topics().items():
        out[name] = int(spec["partitions"])
        out[f"{name}.dlt"] = 1
    return out
