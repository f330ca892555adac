"""A local SMTP sink for the embedded stack (development only): it accepts every message and keeps it.

    python -m careroute_devstack.smtp_sink --port 8025 --maildir .run/mail

stores each message as `<maildir>/<time>-<id>.eml` (open it with any mail client or `less`). Tests use
the same class in-process:

    sink = SmtpSink(port=free_port()).start()
    ... sink.messages[0].message["Subject"] ...
    sink.stop()

`fail_with(code, times)` makes the next deliveries fail (e.g. 451 to simulate a relay in trouble);
stopping the sink simulates a relay that is down (connection refused)."""
from __future__ import annotations

import argparse
import email
import email.policy
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    received_at: float

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]


class _Handler:
    def __init__(self, sink: "SmtpSink") -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        return self.sink._accept(envelope)


class SmtpSink:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None, maildir: str | Path | None = None) -> None:
        self.host = host
        self.port = port or _free_port()
        self.maildir = Path(maildir) if maildir else None
        self.messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._failures: list[str] = []
        self._controller: Controller | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "SmtpSink":
        if self.maildir:
            self.maildir.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=10)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour ---------------------------------------------------------------------------------
    def fail_with(self, code: int = 451, times: int = 1, text: str = "Try again later") -> None:
        """The next `times` messages are answered with `code` instead of being accepted."""
        with self._lock:
            self._failures.extend([f"{code} {text}"] * times)

    def _accept(self, envelope) -> str:
        with self._lock:
            if self._failures:
                return self._failures.pop(0)
            mail = ReceivedMail(mail_from=envelope.mail_from, rcpt_tos=tuple(envelope.rcpt_tos),
                                raw=bytes(envelope.original_content or envelope.content), received_at=time.time())
            self.messages.append(mail)
            self._arrived.notify_all()
        if self.maildir:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            final = self.maildir / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            tmp = final.with_suffix(".tmp")
            tmp.write_bytes(mail.raw)
            tmp.replace(final)  # a reader never sees half a message
        return "250 Message accepted for delivery"

    # -- for tests -----------------------------------------------------------------------------------
    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.messages)} of {count} messages arrived")
                self._arrived.wait(left)
            return list(self.messages)

    def to(self, address: str) -> list[ReceivedMail]:
        with self._lock:
            return [m for m in self.messages if address in m.rcpt_tos]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="careroute-smtp-sink", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--maildir", default=".run/mail")
    args = parser.parse_args(argv)
    sink = SmtpSink(args.host, args.port, args.maildir).start()
    print(f"SMTP sink on {args.host}:{args.port}, writing to {Path(args.maildir).resolve()}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    while not stopped.wait(1.0):
        pass
    sink.stop()


if __name__ == "__main__":
    main()
