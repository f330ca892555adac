from fastapi import FastAPI

from careroute_platform.http import create_app as platform_app
from careroute_platform.runtime import ServiceRuntime


def create_app(runtime: ServiceRuntime) -> FastAPI:
    app = platform_app(title="Care Route referral API", readiness=runtime.readiness_checks(),
                       max_body_bytes=runtime.settings.max_body_bytes)
    app.state.runtime = runtime
    return app
