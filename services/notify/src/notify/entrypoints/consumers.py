"""The notify consumer: referral, case, consent and anomaly events in; inbox entries, e-mail fan-out
markers and webhook deliveries out (sending happens in the workers, after commit).

Events of types notify does not handle (case.registered, incident.recorded, ...) share these topics and
are ignored, not dead-lettered (`ignore_unknown=True`); malformed data for a type it does handle raises
PermanentError and goes to `<topic>.dlt`; a record that is not a CloudEvent at all is dead-lettered by
the runner."""
from __future__ import annotations

from careroute_platform.consumer import ConsumerRunner
from careroute_platform.runtime import ServiceRuntime

from ..bootstrap import components

GROUP_ID = "notify"
TOPICS = ["careroute.referral", "careroute.case", "careroute.consent", "careroute.anomaly"]


def consumer(runtime: ServiceRuntime) -> ConsumerRunner:
    settings = runtime.settings
    runner = ConsumerRunner(
        group_id=GROUP_ID, topics=TOPICS, handlers=components(runtime).handlers.table(),
        uow_factory=runtime.uow, processed_table=runtime.processed_table,
        bootstrap=settings.kafka_bootstrap_servers, ignore_unknown=True,
        max_retries=settings.consumer_max_retries, retry_backoff=settings.consumer_retry_backoff_seconds,
        max_poll_interval_ms=settings.consumer_max_poll_interval_ms,
        session_timeout_ms=settings.consumer_session_timeout_ms)
    # Notices are latency-sensitive (an emergency referral has a 24-hour clock and a person waiting): a
    # broker that holds a fetch until fetch_max_wait_ms even when records are there (Tansu does) would add
    # up to 500 ms (kafka-python's default) to every notice. Idle cost: a few more empty fetches a second.
    runner.consumer_options["fetch_max_wait_ms"] = settings.consumer_fetch_max_wait_ms
    return runner
