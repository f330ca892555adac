"""How a service declares itself, and the command line every service shares:
`careroute-<service> migrate | api | relay | worker | all`."""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import FastAPI
from sqlalchemy import MetaData

from .logging import configure_logging
from .migrations import upgrade
from .runtime import ServiceRuntime
from .settings import ServiceSettings

log = logging.getLogger(__name__)


class Worker(Protocol):
    def run(self) -> None: ...
    def stop(self) -> None: ...


@dataclass
class ServiceDefinition:
    name: str
    settings_factory: Callable[[], ServiceSettings]
    metadata: MetaData
    migrations: str  # alembic script location, e.g. "intake:migrations"
    create_app: Callable[[ServiceRuntime], FastAPI]
    # Long-running background parts besides the relay: consumers, clocks, senders, checkpointers.
    workers: Callable[[ServiceRuntime], list[Worker]] = field(default=lambda runtime: [])
    # Development only: extra settings the embedded stack gives this service (generated dev keys,
    # the SMTP sink, ...), as un-prefixed names. Never used in production.
    dev_env: Callable[[object], dict[str, str]] | None = None

    def runtime(self, settings: ServiceSettings | None = None) -> ServiceRuntime:
        return ServiceRuntime(settings or self.settings_factory(), self.metadata)


def migration_url(settings: ServiceSettings) -> str:
    return getattr(settings, "migration_database_url", None) or settings.database_url


def serve_metrics(host: str, port: int, threads: list[threading.Thread]) -> None:
    """`/metrics` and `/livez` for processes without an API (relay, workers). Live = every worker
    thread is still running."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client import make_wsgi_app

    metrics = make_wsgi_app()

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/livez":
            alive = all(t.is_alive() for t in threads)
            start_response("200 OK" if alive else "503 Service Unavailable", [("content-type", "application/json")])
            return [b'{"status":"ok"}' if alive else b'{"status":"failing"}']
        return metrics(environ, start_response)

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):  # access logs would only repeat the metrics scrape
            pass

    server = make_server(host, port, app, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()


def run_workers(workers: list[Worker], settings: ServiceSettings | None = None) -> None:
    """Run workers in threads until SIGTERM/SIGINT, then stop them gracefully."""
    threads = [threading.Thread(target=w.run, name=type(w).__name__, daemon=True) for w in workers]
    if settings is not None and settings.metrics_port:
        serve_metrics(settings.http_host, settings.metrics_port, threads)
    stopped = threading.Event()

    def stop(*_):
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for t in threads:
        t.start()
    while not stopped.wait(0.5):
        if not all(t.is_alive() for t in threads):
            # A worker that died would leave its work undone behind a live process: exit, so that
            # the supervisor (Kubernetes, compose restart policy) starts a fresh one.
            log.error("a worker thread stopped; exiting", extra={"count": sum(not t.is_alive() for t in threads)})
            for w in workers:
                w.stop()
            raise SystemExit(1)
    for w in workers:
        w.stop()
    for t in threads:
        t.join(timeout=15)


def main(definition: ServiceDefinition, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"careroute-{definition.name}")
    parser.add_argument("component", choices=["migrate", "api", "relay", "worker", "all"])
    args = parser.parse_args(argv)
    runtime = definition.runtime()
    settings = runtime.settings
    configure_logging(definition.name, settings.log_level)
    if args.component in ("migrate", "all"):
        upgrade(migration_url(settings), definition.migrations)
        log.info("migrations applied")
    if args.component == "relay":
        run_workers([runtime.relay()], settings)
    elif args.component == "worker":
        run_workers(definition.workers(runtime), settings)
    elif args.component in ("api", "all"):
        import uvicorn

        if args.component == "all":
            workers = [runtime.relay(), *definition.workers(runtime)]
            for w in workers:
                threading.Thread(target=w.run, daemon=True).start()
        uvicorn.run(definition.create_app(runtime), host=settings.http_host, port=settings.http_port,
                    log_config=None, access_log=False, proxy_headers=True, forwarded_allow_ips="127.0.0.1",
                    server_header=False)  # no "server: uvicorn" banner
