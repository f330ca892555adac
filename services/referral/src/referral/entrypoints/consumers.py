"""The referral service's consumer: intake's case and consent events into local projections."""
from __future__ import annotations

from careroute_platform.consumer import ConsumerRunner
from careroute_platform.runtime import ServiceRuntime

from ..service_layer.context import Context
from ..service_layer.projections import ProjectionHandlers

TOPICS = ["careroute.case", "careroute.consent"]


def projection_consumer(ctx: Context) -> ConsumerRunner:
    settings = ctx.settings
    runtime: ServiceRuntime = ctx.runtime
    return ConsumerRunner(
        group_id=settings.consumer_group, topics=TOPICS, handlers=ProjectionHandlers(ctx).handlers(),
        uow_factory=runtime.uow, processed_table=runtime.processed_table,
        bootstrap=settings.kafka_bootstrap_servers, max_retries=settings.consumer_max_retries,
        retry_backoff=settings.consumer_retry_backoff_seconds,
        max_poll_interval_ms=settings.consumer_max_poll_interval_ms,
        session_timeout_ms=settings.consumer_session_timeout_ms,
    )
