from careroute_platform.service import main as _main

from .definition import DEFINITION


def main() -> None:
    _main(DEFINITION)


if __name__ == "__main__":
    main()
