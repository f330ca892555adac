"""A small, honest kustomize renderer for exactly the subset deploy/k8s uses.

There is no kustomize binary on the CI machines, and the Debian package (kubernetes-client 1.20)
embeds kustomize v2, which predates `labels` and `patches`. So the tests render the overlays with
this module, and — where a real kustomize is available (`kubectl kustomize`, kustomize >= v4) — a
test renders them with both and requires the same objects (test_kustomize_lite_matches_kubectl).

Supported (anything else in a kustomization.yaml raises UnsupportedFeature, so the tests fail
instead of silently rendering something else than `kubectl apply -k` would):
  resources        files (multi-document YAML) and directories holding a kustomization.yaml
  namespace        set on every namespaced object
  labels           pairs with includeSelectors: false (metadata.labels; includeTemplates: true also
                   adds them to pod templates)
  patches          `path:` or inline `patch:`; strategic-merge patches (matched by kind + name, or a
                   `target:`) and JSON 6902 patches (a list of operations; need a `target:`)
  images           name -> newName / newTag / digest, on containers and initContainers
"""
from __future__ import annotations

import copy
import fnmatch
from pathlib import Path
from typing import Any

import yaml

SUPPORTED_KEYS = {"apiVersion", "kind", "namespace", "labels", "resources", "patches", "images"}

CLUSTER_SCOPED = {
    "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
    "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    "IngressClass", "RuntimeClass", "APIService",
}

# Strategic merge: list fields of built-in kinds merged by key (everything else is replaced, and
# custom resources have no strategic-merge schema at all: their lists are always replaced).
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "ports": "containerPort",
    "imagePullSecrets": "name", "envFrom": None, "tolerations": None,
}
BUILTIN_GROUPS = {"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io"}


class UnsupportedFeature(ValueError):
    pass


def group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def load_yaml_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def build(directory: str | Path) -> list[dict]:
    """Render the kustomization in `directory`; returns the objects."""
    directory = Path(directory)
    kfile = next((directory / n for n in ("kustomization.yaml", "kustomization.yml", "Kustomization")
                  if (directory / n).exists()), None)
    if kfile is None:
        raise FileNotFoundError(f"no kustomization in {directory}")
    k = yaml.safe_load(kfile.read_text()) or {}
    unknown = set(k) - SUPPORTED_KEYS
    if unknown:
        raise UnsupportedFeature(f"{kfile}: kustomize_lite does not render {sorted(unknown)}")

    objects: list[dict] = []
    for entry in k.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            objects.extend(build(path))
        else:
            objects.extend(copy.deepcopy(load_yaml_docs(path)))
    _check_unique(objects, directory)

    for patch in k.get("patches", []):
        _apply_patch(objects, patch, directory)
    if "namespace" in k:
        for obj in objects:
            if obj.get("kind") not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = k["namespace"]
    for spec in k.get("labels", []):
        _apply_labels(objects, spec)
    for image in k.get("images", []):
        _apply_image(objects, image)
    return objects


def _identity(obj: dict) -> tuple:
    md = obj.get("metadata", {})
    return (group_of(obj.get("apiVersion", "")), obj.get("kind"), md.get("namespace"), md.get("name"))


def _check_unique(objects: list[dict], where: Path) -> None:
    seen = set()
    for obj in objects:
        ident = _identity(obj)
        if ident in seen:
            raise ValueError(f"{where}: duplicate object {ident}")
        seen.add(ident)


# -- patches -------------------------------------------------------------------------------------
def _apply_patch(objects: list[dict], patch: dict, directory: Path) -> None:
    unknown = set(patch) - {"path", "patch", "target", "options"}
    if unknown or patch.get("options"):
        raise UnsupportedFeature(f"patch fields {sorted(unknown | set(patch.get('options') or {}))}")
    if "path" in patch:
        text = (directory / patch["path"]).read_text()
    else:
        text = patch["patch"]
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    target = patch.get("target")
    if len(docs) == 1 and isinstance(docs[0], list):  # JSON 6902
        if not target:
            raise UnsupportedFeature("a JSON 6902 patch needs a target")
        matched = [o for o in objects if _matches(o, target)]
        if not matched:
            raise ValueError(f"patch target {target} matched nothing")
        for obj in matched:
            _json6902(obj, docs[0])
        return
    for doc in docs:
        if not isinstance(doc, dict):
            raise UnsupportedFeature("strategic-merge patches must be mappings")
        if target:
            matched = [o for o in objects if _matches(o, target)]
        else:
            matched = [o for o in objects if _same_object(o, doc)]
        if not matched:
            raise ValueError(f"strategic-merge patch {doc.get('kind')}/{doc.get('metadata', {}).get('name')} "
                             f"matched nothing")
        for obj in matched:
            builtin = group_of(obj.get("apiVersion", "")) in BUILTIN_GROUPS
            patched = _merge(obj, doc, builtin)
            obj.clear()
            obj.update(patched)


def _same_object(obj: dict, patch: dict) -> bool:
    if obj.get("kind") != patch.get("kind"):
        return False
    if patch.get("apiVersion") and group_of(patch["apiVersion"]) != group_of(obj.get("apiVersion", "")):
        return False
    pm, om = patch.get("metadata", {}), obj.get("metadata", {})
    if pm.get("name") != om.get("name"):
        return False
    return not pm.get("namespace") or pm.get("namespace") == om.get("namespace")


def _matches(obj: dict, target: dict) -> bool:
    unknown = set(target) - {"group", "version", "kind", "name", "namespace", "labelSelector"}
    if unknown:
        raise UnsupportedFeature(f"patch target fields {sorted(unknown)}")
    api = obj.get("apiVersion", "")
    md = obj.get("metadata", {})
    if "group" in target and target["group"] != group_of(api):
        return False
    if "version" in target and target["version"] != api.rsplit("/", 1)[-1]:
        return False
    if "kind" in target and target["kind"] != obj.get("kind"):
        return False
    if "name" in target and not fnmatch.fnmatchcase(md.get("name", ""), target["name"]):
        return False
    if "namespace" in target and target["namespace"] != md.get("namespace"):
        return False
    if "labelSelector" in target:
        labels = md.get("labels", {})
        for term in str(target["labelSelector"]).split(","):
            key, _, value = term.partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
    return True


def _merge(base: Any, patch: Any, builtin: bool, field: str | None = None) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = _merge(out[key], value, builtin, key)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and builtin and MERGE_KEYS.get(field or ""):
        key = MERGE_KEYS[field]
        out = [copy.deepcopy(item) for item in base]
        for item in patch:
            existing = next((i for i, b in enumerate(out) if isinstance(b, dict) and b.get(key) == item.get(key)), None)
            if existing is None:
                out.append(copy.deepcopy(item))
            else:
                out[existing] = _merge(out[existing], item, builtin)
        return out
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError(f"bad JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _json6902(obj: dict, ops: list[dict]) -> None:
    for op in ops:
        parts = _pointer(op["path"])
        parent = obj
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        kind = op["op"]
        if kind == "add":
            if isinstance(parent, list):
                parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(op["value"]))
            else:
                parent[last] = copy.deepcopy(op["value"])
        elif kind == "replace":
            if isinstance(parent, list):
                parent[int(last)] = copy.deepcopy(op["value"])
            else:
                if last not in parent:
                    raise ValueError(f"replace: {op['path']} does not exist")
                parent[last] = copy.deepcopy(op["value"])
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[int(last)]
            else:
                if last not in parent:
                    raise ValueError(f"remove: {op['path']} does not exist")
                del parent[last]
        elif kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
        else:
            raise UnsupportedFeature(f"JSON 6902 op {kind!r}")


# -- labels and images ------------------------------------------------------------------------------
def _pod_templates(obj: dict) -> list[dict]:
    spec = obj.get("spec", {})
    found = []
    if isinstance(spec.get("template"), dict):
        found.append(spec["template"])
    job_template = spec.get("jobTemplate", {}).get("spec", {}).get("template")
    if isinstance(job_template, dict):
        found.append(job_template)
    return found


def _apply_labels(objects: list[dict], spec: dict) -> None:
    unknown = set(spec) - {"pairs", "includeSelectors", "includeTemplates"}
    if unknown or spec.get("includeSelectors"):
        raise UnsupportedFeature("labels: only pairs with includeSelectors: false (and includeTemplates)")
    for obj in objects:
        obj.setdefault("metadata", {}).setdefault("labels", {}).update(spec["pairs"])
        if spec.get("includeTemplates") and obj.get("kind") in {"Deployment", "StatefulSet", "DaemonSet", "Job",
                                                                 "CronJob", "ReplicaSet"}:
            for template in _pod_templates(obj):
                template.setdefault("metadata", {}).setdefault("labels", {}).update(spec["pairs"])


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest)"""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    name, tag = image, None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = image.rsplit(":", 1)
    return name, tag, digest


def _apply_image(objects: list[dict], rule: dict) -> None:
    unknown = set(rule) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise UnsupportedFeature(f"images fields {sorted(unknown)}")
    for obj in objects:
        pods = [t.get("spec", {}) for t in _pod_templates(obj)]
        if obj.get("kind") == "Pod":
            pods.append(obj.get("spec", {}))
        for pod in pods:
            for container in pod.get("containers", []) + pod.get("initContainers", []):
                name, tag, digest = split_image(container.get("image", ""))
                if name != rule["name"]:
                    continue
                name = rule.get("newName", name)
                if "digest" in rule:
                    container["image"] = f"{name}@{rule['digest']}"
                elif "newTag" in rule:
                    container["image"] = f"{name}:{rule['newTag']}"
                else:
                    container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
