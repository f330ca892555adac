"""A minimal supervisor for the embedded stack: runs one command and starts it again when it exits
with an error (as Kubernetes or a compose restart policy would), and passes SIGTERM on.
`python -m careroute_devstack.supervise -- python -m intake worker`"""
from __future__ import annotations

import signal
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1:] if "--" in argv else argv
    stopping = False
    child: subprocess.Popen | None = None

    def stop(*_):
        nonlocal stopping
        stopping = True
        if child and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    backoff = 1.0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        code = child.wait()
        if stopping or code == 0:
            return code
        if time.monotonic() - started > 60:
            backoff = 1.0
        print(f"supervise: {' '.join(command[-2:])} exited with {code}; restarting in {backoff:.0f}s",
              file=sys.stderr, flush=True)
        time.sleep(backoff)
        backoff = min(backoff * 2, 30.0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
