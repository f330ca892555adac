"""Standard Webhooks signatures and the retry schedule."""
import random
from datetime import datetime, timedelta, timezone

import pytest

from notify.domain import backoff, signing

pytestmark = pytest.mark.unit


def test_signature_matches_the_standard_webhooks_reference_vector():
    # the test vector published with the Standard Webhooks reference libraries
    sig = signing.sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                       b'{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_rotation_signs_with_both_secrets_space_separated():
    old, new = signing.generate_secret(), signing.generate_secret()
    headers = signing.headers([new, old], "msg_1", 1700000000, b"{}")
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == "1700000000"
    parts = headers["webhook-signature"].split(" ")
    assert len(parts) == 2 and all(p.startswith("v1,") for p in parts)
    for secret in (old, new):
        assert signing.verify(secret, "msg_1", 1700000000, b"{}", headers["webhook-signature"])
    assert not signing.verify(signing.generate_secret(), "msg_1", 1700000000, b"{}", headers["webhook-signature"])
    assert not signing.verify(new, "msg_1", 1700000001, b"{}", headers["webhook-signature"])  # timestamp is signed


def test_generated_secrets_are_whsec_base64_of_32_bytes():
    secret = signing.generate_secret()
    assert secret.startswith("whsec_") and len(signing.secret_key(secret)) == 32
    with pytest.raises(signing.InvalidSecret):
        signing.secret_key("not-a-secret")


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    rng = random.Random(7)
    delays = [backoff.delay(n, base=5, maximum=7200, rng=rng) for n in range(1, 16)]
    for n, d in enumerate(delays, start=1):
        ceiling = min(7200, 5 * 2 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling
    assert max(delays) <= 7200


def test_next_attempt_gives_up_after_the_horizon():
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rng = random.Random(1)
    assert backoff.next_attempt(start, 1, base=5, maximum=60, horizon_start=start, horizon=3600, rng=rng) is not None
    late = start + timedelta(seconds=3590)
    assert backoff.next_attempt(late, 10, base=5, maximum=60, horizon_start=start, horizon=3600, rng=rng) is None
    # a horizon of hours: a schedule keeps retrying for hours before giving up
    now, attempts = start, 0
    while True:
        attempts += 1
        when = backoff.next_attempt(now, attempts, base=5, maximum=7200, horizon_start=start, horizon=72 * 3600,
                                    rng=rng)
        if when is None:
            break
        now = when
    assert (now - start) > timedelta(hours=60) and attempts > 10
