"""`python -m referral migrate | api | relay | worker | all | seed-directory`"""
import sys

from careroute_platform.logging import configure_logging
from careroute_platform.service import main as _main

from .definition import DEFINITION


def seed(argv: list[str]) -> None:
    from .service_layer.context import Context
    from .service_layer.seed import seed_directory

    runtime = DEFINITION.runtime()
    configure_logging("referral", runtime.settings.log_level)
    added = seed_directory(runtime, now=Context(runtime).clock.now())
    print(f"directory seeded: {added['organisations']} organisations and {added['services']} services added")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["seed-directory"]:
        seed(argv[1:])
        return
    _main(DEFINITION, argv)


if __name__ == "__main__":
    main()
