"""Prometheus metrics shared by every service. Labels carry routes, topics and outcomes — never
ids or personal data."""
from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency", ["method", "route"])
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published")
OUTBOX_OLDEST_AGE = Gauge("outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row")
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Outbox rows published", ["topic"])
CONSUMER_LAG = Gauge("consumer_lag", "Records behind the end of the partition", ["group", "topic", "partition"])
CONSUMED = Counter("events_consumed_total", "Events handled", ["group", "type", "outcome"])
DEAD_LETTERED = Counter("events_dead_lettered_total", "Events sent to a dead-letter topic", ["group", "topic"])
ACCESS_DECISIONS = Counter("access_decisions_total", "Policy decisions", ["action", "outcome"])
