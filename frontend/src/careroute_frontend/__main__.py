"""`python -m careroute_frontend` / `careroute-frontend`: serve the staff frontend."""
from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    import uvicorn
    from careroute_platform.logging import configure_logging

    from .app import create_app
    from .settings import FrontendSettings

    parser = argparse.ArgumentParser(prog="careroute-frontend")
    parser.add_argument("component", nargs="?", default="api", choices=["api"],
                        help="the frontend has one component: the web server")
    parser.parse_args(argv)
    settings = FrontendSettings()
    configure_logging("frontend", settings.log_level)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None,
                access_log=False, proxy_headers=True, forwarded_allow_ips="127.0.0.1")


if __name__ == "__main__":
    main()
