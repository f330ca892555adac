"""The whole platform as real processes for browser tests: the four services (migrate, then api,
relay and worker each) and the staff frontend, on the shared `stack` (PostgreSQL, broker, dev IdP),
session scoped. Chromium is told to resolve localhost:8080 — the origin registered for the
`careroute-frontend` client in the realm — to the frontend's free test port, so the tests never
collide with a running `make up` and still use the realm's real redirect URIs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from careroute_devstack.stack import ROOT, SERVICES, frontend_env

# the journey's helpers (careroute_e2e.py) sit beside this file
sys.path.insert(0, str(Path(__file__).parent))

PUBLIC_ORIGIN = "http://localhost:8080"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"


@dataclass
class Platform:
    stack: object
    frontend_port: int
    processes: list = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """What the browser types (resolved to the test port by Chromium)."""
        return PUBLIC_ORIGIN

    @property
    def direct_url(self) -> str:
        """The frontend's real socket, for HTTP clients that are not the browser."""
        return f"http://127.0.0.1:{self.frontend_port}"

    def service_url(self, service: str) -> str:
        return self.stack.cfg.service_url(service)


def _spawn(name: str, args: list[str], env: dict, logs: Path) -> subprocess.Popen:
    log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child process
    return subprocess.Popen(args, stdout=log, stderr=log, env=env, cwd=ROOT, start_new_session=True)


def _wait_ready(url: str, procs: list[subprocess.Popen], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"a platform process exited early ({dead[0].args[-2:]}); see the logs")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout}s")


@pytest.fixture(scope="session")
def platform(stack):
    cfg = stack.cfg
    logs = cfg.run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    running = Platform(stack, cfg.frontend_port)
    try:
        for service in SERVICES:
            env = {**os.environ, **stack.service_env(service)}
            subprocess.run([py, "-m", service, "migrate"], env=env, cwd=ROOT, check=True,
                           stdout=open(logs / f"{service}-migrate.log", "ab"),  # noqa: SIM115
                           stderr=subprocess.STDOUT)
            for component in ("api", "relay", "worker"):
                running.processes.append(_spawn(f"{service}-{component}", [py, "-m", service, component], env, logs))
        fenv = {**os.environ, **frontend_env(cfg), "FRONTEND_PUBLIC_BASE_URL": PUBLIC_ORIGIN,
                "FRONTEND_HTTP_PORT": str(cfg.frontend_port)}
        running.processes.append(_spawn("frontend", [py, "-m", "careroute_frontend"], fenv, logs))
        for service in SERVICES:
            _wait_ready(cfg.service_url(service) + "/readyz", running.processes)
        _wait_ready(running.direct_url + "/livez", running.processes)
        yield running
    finally:
        for proc in running.processes:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, 15)
                except OSError:
                    proc.terminate()
        for proc in running.processes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if os.environ.get("CAREROUTE_KEEP_TEST_RUN"):
            dest = ARTIFACTS / "e2e-logs"
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(logs, dest)


@pytest.fixture(scope="session")
def chromium(platform):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: apt-get install -y chromium (make browsers)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", f"--host-resolver-rules=MAP localhost:8080 127.0.0.1:{platform.frontend_port}"])
        yield browser
        browser.close()
