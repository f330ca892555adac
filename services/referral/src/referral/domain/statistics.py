"""Coordination figures under the GBVIMS Information Sharing Protocol: aggregated, de-identified,
only for cases whose survivor consented to reporting, small cells suppressed.

Suppression: a count between 1 and `min_cell - 1` is withheld (zero is shown: it identifies no
one). Where a breakdown's total is published and exactly one cell of it is withheld, the next
smallest cell is withheld too, so that the hidden one cannot be recovered by subtraction.
A rate is withheld when its denominator is below `min_cell`."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from .vocabulary import RESPONSE_WINDOWS, Priority, ReferralStatus

DEFAULT_MIN_CELL = 5


@dataclass(frozen=True)
class ReferralFact:
    """One referral as the statistics see it: no ids, no text."""
    service_type: str
    province: str | None
    canton: str | None
    organisation: str
    priority: str
    status: str
    created_at: datetime
    first_response_at: datetime | None
    accepted: bool               # was accepted at some point (accepted, completed, closed)
    sexual_violence: bool
    incident_at: datetime | None


@dataclass(frozen=True)
class UnmetNeed:
    service_type: str
    province: str | None
    canton: str | None


def suppress(counts: dict[tuple, int], min_cell: int = DEFAULT_MIN_CELL) -> dict[tuple, int | None]:
    """Primary and secondary suppression of one breakdown. Returns the same keys; None = withheld."""
    out: dict[tuple, int | None] = {k: (None if 0 < v < min_cell else v) for k, v in counts.items()}
    hidden = [k for k, v in out.items() if v is None]
    if len(hidden) == 1:
        visible = sorted((v, k) for k, v in out.items() if v)   # non-zero visible cells
        if visible:
            out[visible[0][1]] = None
    return out


def rate(numerator: int, denominator: int, min_cell: int = DEFAULT_MIN_CELL) -> float | None:
    if denominator < min_cell:
        return None
    return round(numerator / denominator, 3)


def _cells(name: str, keys: tuple[str, ...], counts: Counter, min_cell: int) -> list[dict]:
    suppressed = suppress(dict(counts), min_cell)
    rows = []
    for key in sorted(counts, key=lambda k: tuple(str(x) for x in k)):
        value = suppressed[key]
        rows.append({**dict(zip(keys, key, strict=True)), "referrals" if name != "unmet_needs" else "cases": value,
                     "suppressed": value is None})
    return rows


def compute(facts: list[ReferralFact], unmet: list[UnmetNeed], *, min_cell: int = DEFAULT_MIN_CELL) -> dict:
    total = len(facts)
    by_type = Counter((f.service_type,) for f in facts)
    by_canton = Counter((f.province, f.canton) for f in facts)
    by_org = Counter((f.organisation,) for f in facts)

    decided = [f for f in facts if f.accepted or f.status in (ReferralStatus.DECLINED, ReferralStatus.EXPIRED)]
    accepted = [f for f in facts if f.accepted]
    completed = [f for f in facts if f.status == ReferralStatus.COMPLETED]

    timeliness = []
    for priority in Priority:
        group = [f for f in facts if f.priority == priority]
        answered = [f for f in group if f.first_response_at is not None]
        hours = [(f.first_response_at - f.created_at).total_seconds() / 3600 for f in answered]
        in_time = [f for f in answered if f.first_response_at - f.created_at <= RESPONSE_WINDOWS[priority]]
        timeliness.append({
            "priority": priority.value,
            "referrals": None if 0 < len(group) < min_cell else len(group),
            "answered": None if 0 < len(answered) < min_cell else len(answered),
            "median_hours_to_first_answer": round(median(hours), 1) if len(hours) >= min_cell else None,
            "answered_within_window_rate": rate(len(in_time), len(group), min_cell),
        })

    sv = [f for f in facts if f.sexual_violence]

    def within(limit: timedelta) -> int:
        n = 0
        for f in sv:
            if f.accepted and f.first_response_at is not None:
                start = f.incident_at or f.created_at
                if f.first_response_at - start <= limit:
                    n += 1
        return n

    unmet_counts = Counter((u.service_type, u.province, u.canton) for u in unmet)
    return {
        "min_cell": min_cell,
        "total_referrals": None if 0 < total < min_cell else total,
        "by_service_type": _cells("by_service_type", ("service_type",), by_type, min_cell),
        "by_canton": _cells("by_canton", ("province", "canton"), by_canton, min_cell),
        "by_organisation": _cells("by_organisation", ("organisation",), by_org, min_cell),
        "acceptance_rate": rate(len(accepted), len(decided), min_cell),
        "completion_rate": rate(len(completed), len(accepted), min_cell),
        "time_to_first_answer": timeliness,
        "sexual_violence": {
            "referrals": None if 0 < len(sv) < min_cell else len(sv),
            "answered_within_72h_rate": rate(within(timedelta(hours=72)), len(sv), min_cell),
            "answered_within_120h_rate": rate(within(timedelta(hours=120)), len(sv), min_cell),
        },
        "unmet_needs": _cells("unmet_needs", ("service_type", "province", "canton"), unmet_counts, min_cell),
    }


def to_csv_rows(figures: dict) -> list[dict]:
    """One flat table: section, dimension, value, suppressed."""
    rows: list[dict] = []

    def add(section: str, dimension: str, metric: str, value) -> None:
        rows.append({"section": section, "dimension": dimension, "metric": metric,
                     "value": "" if value is None else value, "suppressed": value is None})

    add("total", "", "referrals", figures["total_referrals"])
    for row in figures["by_service_type"]:
        add("by_service_type", row["service_type"], "referrals", row["referrals"])
    for row in figures["by_canton"]:
        add("by_canton", f"{row['province'] or ''}/{row['canton'] or ''}", "referrals", row["referrals"])
    for row in figures["by_organisation"]:
        add("by_organisation", row["organisation"], "referrals", row["referrals"])
    add("acceptance", "", "acceptance_rate", figures["acceptance_rate"])
    add("completion", "", "completion_rate", figures["completion_rate"])
    for row in figures["time_to_first_answer"]:
        for metric in ("referrals", "answered", "median_hours_to_first_answer", "answered_within_window_rate"):
            add("time_to_first_answer", row["priority"], metric, row[metric])
    for metric, value in figures["sexual_violence"].items():
        add("sexual_violence", "", metric, value)
    for row in figures["unmet_needs"]:
        add("unmet_needs", f"{row['service_type']}@{row['province'] or ''}/{row['canton'] or ''}", "cases", row["cases"])
    return rows
