"""SMTP sending against the development sink (in-process, real SMTP over loopback)."""
import pytest

from careroute_devstack.smtp_sink import SmtpSink
from notify.adapters.mailer import Mail, PermanentMailError, SmtpMailer, TemporaryMailError

pytestmark = pytest.mark.unit


def mail(n: int, to: str = "provider.alas@example.org") -> Mail:
    return Mail(to=to, subject=f"Nueva referencia REF-{n:08d}", text="Texto ñ", html="<p>HTML ñ</p>", locale="es",
                delivery_id=f"00000000-0000-0000-0000-{n:012d}")


@pytest.fixture
def sink(tmp_path):
    s = SmtpSink(maildir=tmp_path / "mail").start()
    yield s
    s.stop()


def mailer(sink) -> SmtpMailer:
    return SmtpMailer(host="127.0.0.1", port=sink.port, sender="Care Route <no-reply@careroute.iom.int>",
                      msgid_domain="careroute.iom.int", timeout=5)


def test_a_message_has_both_parts_headers_and_lands_in_the_maildir(sink):
    assert mailer(sink).send_all([mail(1)]) == [None]
    [received] = sink.wait_for(1)
    msg = received.message
    assert msg["Subject"] == "Nueva referencia REF-00000001" and msg["Content-Language"] == "es"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Message-ID"].endswith("@careroute.iom.int>")
    assert msg.get_body(("plain",)).get_content().strip() == "Texto ñ"
    assert msg.get_body(("html",)).get_content().strip() == "<p>HTML ñ</p>"
    assert received.rcpt_tos == ("provider.alas@example.org",)
    assert len(list(sink.maildir.glob("*.eml"))) == 1


def test_temporary_and_permanent_refusals_are_told_apart(sink):
    m = mailer(sink)
    sink.fail_with(451, 1)
    sink.fail_with(550, 1)
    results = m.send_all([mail(2), mail(3), mail(4)])
    assert isinstance(results[0], TemporaryMailError) and results[0].reason == "smtp-451"
    assert isinstance(results[1], PermanentMailError) and results[1].reason == "smtp-550"
    assert results[2] is None


def test_a_relay_that_is_down_is_a_temporary_failure_and_the_connection_is_redialled(sink):
    m = mailer(sink)
    assert m.send_all([mail(5)]) == [None]
    sink.stop()
    results = m.send_all([mail(6), mail(7)])
    assert all(isinstance(r, TemporaryMailError) and r.reason == "connection-refused" for r in results)
    sink.start()
    assert m.send_all([mail(8)]) == [None]
    m.close()
