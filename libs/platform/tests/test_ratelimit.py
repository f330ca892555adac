import pytest

from careroute_platform.ratelimit import TokenBucket

pytestmark = pytest.mark.unit


def test_bucket_allows_the_burst_then_refuses_with_a_wait():
    bucket = TokenBucket(per_minute=6, burst=3)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.take("a")
    assert 0 < wait <= 10
    assert bucket.take("b") == 0.0  # callers are limited separately
