"""The notify service's Prometheus metrics. Labels are kinds, channels, outcomes and reasons — never
ids, organisations, addresses or anything else that names someone."""
from prometheus_client import Counter, Gauge, Histogram

NOTIFICATIONS_CREATED = Counter("notify_notifications_created_total",
                                "Notifications created (inbox entries and deliveries)", ["kind", "channel"])
EMAILS_SENT = Counter("notify_emails_sent_total", "E-mails accepted by the SMTP relay")
EMAIL_FAILURES = Counter("notify_email_send_failures_total", "E-mail send failures", ["reason"])
WEBHOOK_DELIVERIES = Counter("notify_webhook_delivery_attempts_total", "Webhook delivery attempts", ["outcome"])
WEBHOOK_LATENCY = Histogram("notify_webhook_delivery_seconds", "Webhook delivery attempt duration", ["outcome"],
                            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
WEBHOOK_GIVEN_UP = Counter("notify_webhook_deliveries_dead_total", "Webhook deliveries given up (dead)")
WEBHOOK_ENDPOINTS_DISABLED = Counter("notify_webhook_endpoints_disabled_total", "Endpoints disabled for failing")
QUEUE_AGE = Gauge("notify_delivery_queue_age_seconds", "Age of the oldest due, pending delivery", ["channel"])
QUEUE_DEPTH = Gauge("notify_delivery_queue_depth", "Pending deliveries", ["channel"])
DIRECTORY_LOOKUPS = Counter("notify_directory_lookups_total", "Directory lookups", ["what", "outcome"])
SSE_STREAMS = Gauge("notify_inbox_streams", "Open inbox live streams")
