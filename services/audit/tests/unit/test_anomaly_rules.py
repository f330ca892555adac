"""Anomaly rules: thresholds, sliding windows, one firing per subject and window, local hours."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from audit.domain.anomaly import (
    DENIED_ACCESS_BURST,
    OFF_HOURS_ACCESS,
    UNUSUAL_CASE_READS,
    Access,
    Thresholds,
    bucket,
    evaluate,
    is_off_hours,
)

pytestmark = pytest.mark.unit
T = Thresholds(case_reads=3, case_reads_window=3600, denials=2, denials_window=600)
# Wednesday 2025-03-05 10:00 in Guayaquil (UTC-5)
NOON = datetime(2025, 3, 5, 15, 0, tzinfo=UTC)


def read(subject, case, at, outcome="allowed", action="case.read"):
    return Access(subject, "/iom/tulcan", at, action, "case", case, outcome)


def run(accesses, t=T):
    return evaluate(accesses, accesses, t)


def test_distinct_cases_not_repeated_reads_count():
    same = [read("u1", "c1", NOON + timedelta(minutes=i)) for i in range(10)]
    assert run(same) == []
    distinct = [read("u1", f"c{i}", NOON + timedelta(minutes=i)) for i in range(3)]
    [f] = run(distinct)
    assert (f.rule, f.subject, f.count, f.threshold, f.organisation) == (UNUSUAL_CASE_READS, "u1", 3, 3, "/iom/tulcan")


def test_reads_spread_beyond_the_window_do_not_fire():
    spread = [read("u1", f"c{i}", NOON + timedelta(minutes=40 * i)) for i in range(3)]
    assert run(spread) == []


def test_writes_denials_and_other_resources_are_not_reads():
    xs = [read("u1", "c1", NOON, action="case.update"), read("u1", "c2", NOON, outcome="denied"),
          Access("u1", None, NOON, "referral.read", "referral", "r1", "allowed"), read("u1", "c3", NOON)]
    assert [f.rule for f in run(xs)] == []


def test_fires_once_per_subject_and_window_and_again_in_the_next_window():
    many = [read("u1", f"c{i}", NOON + timedelta(minutes=i)) for i in range(10)]
    assert len(run(many)) == 1
    later = [read("u1", f"d{i}", NOON + timedelta(hours=1, minutes=i)) for i in range(3)]
    assert len(run(many + later)) == 2
    other = [read("u2", f"c{i}", NOON + timedelta(minutes=i)) for i in range(3)]
    assert {f.subject for f in run(many + other)} == {"u1", "u2"}


def test_denial_bursts():
    denials = [read("u1", "c1", NOON + timedelta(seconds=i), outcome="denied") for i in range(2)]
    [f] = run(denials)
    assert (f.rule, f.count, f.window_seconds) == (DENIED_ACCESS_BURST, 2, 600)
    slow = [read("u1", "c1", NOON + timedelta(minutes=11 * i), outcome="denied") for i in range(2)]
    assert run(slow) == []


def test_history_counts_but_only_new_accesses_trigger():
    old = [read("u1", f"c{i}", NOON + timedelta(minutes=i)) for i in range(2)]
    new = [read("u1", "c9", NOON + timedelta(minutes=5))]
    [f] = evaluate(new, old + new, T)
    assert f.count == 3
    assert evaluate([], old + new, T) == []


def test_off_hours_in_guayaquil():
    t = Thresholds()
    assert not is_off_hours(NOON, t)                                  # 10:00 local, Wednesday
    assert is_off_hours(datetime(2025, 3, 5, 11, 59, tzinfo=UTC), t)   # 06:59 local
    assert is_off_hours(datetime(2025, 3, 6, 0, 30, tzinfo=UTC), t)    # 19:30 local
    assert is_off_hours(datetime(2025, 3, 8, 15, 0, tzinfo=UTC), t)    # Saturday 10:00
    night = [read("u1", "c1", datetime(2025, 3, 5, 8, 0, tzinfo=UTC)),
             read("u1", "c2", datetime(2025, 3, 5, 9, 0, tzinfo=UTC))]
    [f] = evaluate(night, night, t)
    assert (f.rule, f.count) == (OFF_HOURS_ACCESS, 1)  # fires at the first off-hours access, once
    assert f.window_key == datetime(2025, 3, 5, 5, 0, tzinfo=UTC)  # local midnight
    assert evaluate(night, night, Thresholds(off_hours=False)) == []
    denied_at_night = [read("u1", "c1", datetime(2025, 3, 5, 8, 0, tzinfo=UTC), outcome="denied")]
    assert evaluate(denied_at_night, denied_at_night, t) == []


def test_buckets_are_local_wall_clock():
    assert bucket(datetime(2025, 3, 5, 4, 59, tzinfo=UTC), 86400, "America/Guayaquil") == \
        datetime(2025, 3, 4, 5, 0, tzinfo=UTC)
    assert bucket(NOON + timedelta(minutes=30), 3600, "America/Guayaquil") == NOON


def test_event_data_matches_the_contract():
    from careroute_platform import contracts

    [f] = run([read("u1", f"c{i}", NOON + timedelta(minutes=i)) for i in range(3)])
    contracts.validate("org.iom.careroute.anomaly.detected.v1", f.event_data())


def test_a_late_access_completes_a_window_that_ends_at_an_earlier_logged_access():
    """Partitions deliver out of order: 32 and then 28 arrive after 36 and 24 were logged. When 28
    arrives, no window ending at 28 holds three denials, but the window ending at 32 (logged
    before) now does - and fires."""
    at = {m: NOON + timedelta(minutes=m) for m in (24, 28, 32, 36)}
    t = Thresholds(denials=3, denials_window=600, off_hours=False)
    logged = [read("u1", "c", at[36], outcome="denied"), read("u1", "c", at[24], outcome="denied")]
    assert evaluate(logged, logged, t) == []
    late = [read("u1", "c", at[32], outcome="denied")]
    assert evaluate(late, logged + late, t) == []   # (22, 32] holds 24, 32; (26, 36] holds 32, 36
    later = [read("u1", "c", at[28], outcome="denied")]
    [f] = evaluate(later, logged + late + later, t)
    assert (f.rule, f.count, f.window_end) == (DENIED_ACCESS_BURST, 3, at[32])
