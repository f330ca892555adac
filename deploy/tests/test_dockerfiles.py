"""Lint-ish checks of the images' Dockerfiles (no Docker engine here to build them): multi-stage,
pinned base, non-root, read-only-root friendly, a /livez HEALTHCHECK in Python, the embedded
stack's entry points, contracts/ copied and pointed at, and every local package the image's
project depends on built into it."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from deployment import ROOT, SERVICES, settings_info

pytestmark = pytest.mark.unit

IMAGES = {**{s: (ROOT / "services" / s / "Dockerfile", s) for s in SERVICES},
          "frontend": (ROOT / "frontend" / "Dockerfile", "careroute_frontend")}
LOCAL_PACKAGES = {"careroute-platform": "libs/platform", "careroute-devstack": "devstack",
                  "careroute-frontend": "frontend", **{f"careroute-{s}": f"services/{s}" for s in SERVICES}}


def instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def stages(path: Path) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for ins in instructions(path):
        if ins[0] == "FROM":
            out.append([])
        if out:
            out[-1].append(ins)
    return out


def local_dependencies(project_dir: str) -> set[str]:
    """The project's local package and, transitively, the local packages it depends on."""
    found, todo = set(), [project_dir]
    while todo:
        directory = todo.pop()
        if directory in found:
            continue
        found.add(directory)
        project = tomllib.loads((ROOT / directory / "pyproject.toml").read_text())["project"]
        for dep in project.get("dependencies", []):
            name = re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].strip().lower()
            if name in LOCAL_PACKAGES:
                todo.append(LOCAL_PACKAGES[name])
    return found


@pytest.mark.parametrize("image", IMAGES)
def test_multi_stage_with_pinned_base(image):
    path, _ = IMAGES[image]
    ins = instructions(path)
    args = dict(re.match(r"(\w+)=(\S+)", rest).groups() for word, rest in ins if word == "ARG" and "=" in rest)
    froms = [rest for word, rest in ins if word == "FROM"]
    assert len(froms) >= 2, "multi-stage: a builder and a slim final stage"
    assert any(re.search(r"\bAS builder\b", f, re.IGNORECASE) for f in froms[:-1])
    for f in froms:
        ref = f.split()[0]
        ref = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), ref)
        if ref in {"builder"}:
            continue
        name, _, tag = ref.partition(":")
        assert "@sha256:" in ref or (tag and tag != "latest" and re.match(r"\d+\.\d+\.\d+", tag)), \
            f"{path}: base image {ref} is not pinned to a full version (or digest)"
        assert name == "python" and "slim" in tag, f"{path}: expected python:3.11.x-slim-*"
        assert tag.startswith("3.11.")


@pytest.mark.parametrize("image", IMAGES)
def test_final_stage_runs_as_non_root_with_healthcheck_and_entry_point(image):
    path, module = IMAGES[image]
    final = stages(path)[-1]
    words = [w for w, _ in final]
    users = [rest for w, rest in final if w == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "final stage must run as non-root"
    assert users[-1].split(":")[0] == "10001"
    assert any(w == "COPY" and "--from=builder" in rest for w, rest in final), "venv copied from the builder"
    health = [rest for w, rest in final if w == "HEALTHCHECK"]
    assert health and "/livez" in health[0] and '"python"' in health[0] and "curl" not in health[0]
    prefix = settings_info(image).prefix
    assert f"'{prefix}HTTP_PORT'" in health[0], "the health check reads the service's own port setting"
    entry = [rest for w, rest in final if w == "ENTRYPOINT"]
    assert entry and entry[-1] == f'["python", "-m", "{module}"]'
    if image != "frontend":
        assert [rest for w, rest in final if w == "CMD"][-1] == '["api"]'
    assert "RUN" in words and "apt-get" not in " ".join(rest for w, rest in final if w == "RUN"), \
        "the final stage installs nothing (no compilers, no curl)"


@pytest.mark.parametrize("image", IMAGES)
def test_contracts_are_copied_and_pointed_at(image):
    path, _ = IMAGES[image]
    final = stages(path)[-1]
    copies = [rest for w, rest in final if w == "COPY" and rest.startswith("contracts ")]
    assert copies, "contracts/ must be in the image: the platform validates events against it at runtime"
    destination = copies[0].split()[1]
    env = " ".join(rest for w, rest in final if w == "ENV")
    assert f"CAREROUTE_CONTRACTS_DIR={destination}" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "HOME=/tmp" in env, "read-only root: nothing written outside /tmp"


@pytest.mark.parametrize("image", IMAGES)
def test_every_local_dependency_is_built_into_the_image(image):
    path, _ = IMAGES[image]
    project = "frontend" if image == "frontend" else f"services/{image}"
    builder = stages(path)[0]
    copied = {rest.split()[0] for w, rest in builder if w == "COPY"}
    wheel_cmd = " ".join(rest for w, rest in builder if w == "RUN")
    for directory in local_dependencies(project):
        assert directory in copied, f"{path}: COPY {directory}"
        assert f"./{directory}" in wheel_cmd, f"{path}: build a wheel of ./{directory}"
    assert "devstack" not in copied, "the embedded stack never goes into a production image"


def test_dockerignore_keeps_local_state_and_secrets_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for entry in (".venv", ".run", ".env", "**/.git", "**/__pycache__", "**/*.egg-info", "**/tests"):
        assert entry in ignored, entry
    for needed in ("libs", "services", "contracts", "frontend"):
        assert needed not in ignored
