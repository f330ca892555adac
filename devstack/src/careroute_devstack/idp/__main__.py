"""careroute-dev-idp: run the development identity provider on a loopback address.

    careroute-dev-idp --realm-file deploy/keycloak/careroute-realm.json --host 127.0.0.1 --port 8180
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .app import is_loopback_address

BANNER = """
==============================================================================
  Care Route development identity provider — NOT FOR PRODUCTION
  Proveedor de identidad de desarrollo — NO USAR EN PRODUCCIÓN
  Plaintext development credentials, in-memory keys and sessions.
  Production uses Keycloak with the same realm file.
==============================================================================
"""


def _is_loopback_host(host: str) -> bool:
    return host.lower() == "localhost" or is_loopback_address(host)


def _default_base_url(host: str, port: int) -> str:
    shown = host.strip("[]")
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="careroute-dev-idp",
        description="Development identity provider (Keycloak paths and token shapes) - not for production.",
    )
    parser.add_argument("--realm-file", type=Path, default=Path("deploy/keycloak/careroute-realm.json"),
                        help="Keycloak realm export to serve (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8180, help="port (default: %(default)s)")
    parser.add_argument("--issuer-base-url", default=None,
                        help="base URL in issued tokens and discovery (default: http://HOST:PORT)")
    parser.add_argument("--keys-file", type=Path, default=None,
                        help="keep the signing keys in this file across restarts (PEM list, mode 0600)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not _is_loopback_host(args.host):
        print(
            f"careroute-dev-idp: refusing to bind to {args.host!r}: the development identity provider "
            "listens on loopback only (127.0.0.1, ::1 or localhost). Use Keycloak anywhere else.",
            file=sys.stderr,
        )
        return 2
    if not 0 < args.port < 65536:
        print(f"careroute-dev-idp: invalid port {args.port}", file=sys.stderr)
        return 2
    if not args.realm_file.is_file():
        print(f"careroute-dev-idp: realm file not found: {args.realm_file}", file=sys.stderr)
        return 2
    base_url = (args.issuer_base_url or _default_base_url(args.host, args.port)).rstrip("/")

    import uvicorn  # imported late so that --help and the host check stay fast

    from .app import create_app

    app = create_app(args.realm_file, base_url, keys_file=args.keys_file)
    print(BANNER, file=sys.stderr)
    print(f"  realm {app.state.idp.realm.name!r} from {args.realm_file}\n  issuer {app.state.idp.issuer}\n", file=sys.stderr,
          flush=True)
    uvicorn.run(app, host=args.host.strip("[]"), port=args.port, log_level=args.log_level, server_header=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
