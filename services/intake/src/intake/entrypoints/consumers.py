"""Event handlers: the projection of referrals (who may read which referred case)."""
from __future__ import annotations

from careroute_platform.cloudevents import event_type
from careroute_platform.consumer import ConsumerRunner

from ..service_layer.sharing import STATUS_BY_EVENT, apply_referral_event

GROUP_ID = "intake.referral-access"


def referral_consumer(runtime, ctx) -> ConsumerRunner:
    settings = runtime.settings

    def handle(uow, event) -> None:
        apply_referral_event(uow, event, follow_up_days=settings.completed_referral_access_days)

    return ConsumerRunner(
        group_id=GROUP_ID, topics=["careroute.referral"], handlers={event_type(n): handle for n in STATUS_BY_EVENT},
        uow_factory=runtime.uow, processed_table=runtime.processed_table, bootstrap=settings.kafka_bootstrap_servers,
        max_retries=settings.consumer_max_retries, retry_backoff=settings.consumer_retry_backoff_seconds,
        max_poll_interval_ms=settings.consumer_max_poll_interval_ms,
        session_timeout_ms=settings.consumer_session_timeout_ms)
