"""The referral service's own Prometheus metrics (labels: codes only, never ids)."""
from prometheus_client import Counter, Gauge

TRANSITIONS = Counter("referral_transitions_total", "Referral lifecycle transitions", ["action", "outcome"])
CREATED = Counter("referrals_created_total", "Referrals created", ["priority", "service_type", "override"])
PENDING_OVERDUE = Gauge("referrals_pending_overdue", "Pending referrals past their response deadline")
CLOCK_ACTIONS = Counter("referral_clock_actions_total", "Clock actions taken", ["action"])
