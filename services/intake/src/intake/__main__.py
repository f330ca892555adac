"""`python -m intake migrate | api | relay | worker | all` (shared), plus the vault's key commands:

    python -m intake rewrap-keys [--batch-size N] [--check]   rewrap case keys under the current KEK
    python -m intake new-kek --id KEY_ID                      print a new KEK entry for the key file
"""
import argparse
import json
import sys

from careroute_platform.service import main as _main

from .definition import DEFINITION


def _key_commands(argv: list[str]) -> int:
    from careroute_platform.logging import configure_logging

    parser = argparse.ArgumentParser(prog="careroute-intake")
    sub = parser.add_subparsers(dest="command", required=True)
    rewrap = sub.add_parser("rewrap-keys", help="rewrap case data keys under the current KEK (progressive)")
    rewrap.add_argument("--batch-size", type=int, default=None)
    rewrap.add_argument("--check", action="store_true", help="only count keys still wrapped with an old KEK")
    new = sub.add_parser("new-kek", help="print a new random KEK as a key-file entry")
    new.add_argument("--id", required=True)
    args = parser.parse_args(argv)
    if args.command == "new-kek":
        from .vault.keyring import new_kek_entry

        print(json.dumps({args.id: new_kek_entry()}))
        return 0
    from .service_layer.context import intake_context
    from .service_layer.keys import rewrap_keys, stale_key_count

    runtime = DEFINITION.runtime()
    configure_logging("intake", runtime.settings.log_level)
    ctx = intake_context(runtime)
    if args.check:
        remaining = stale_key_count(ctx)
        print(json.dumps({"current_kek": ctx.keyring.current.key_id, "keys_on_old_keks": remaining}))
        return 1 if remaining else 0
    done = rewrap_keys(ctx, batch_size=args.batch_size or runtime.settings.rewrap_batch_size)
    print(json.dumps({"current_kek": ctx.keyring.current.key_id, "rewrapped": done,
                      "keys_on_old_keks": stale_key_count(ctx)}))
    return 0


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in ("rewrap-keys", "new-kek"):
        sys.exit(_key_commands(argv))
    _main(DEFINITION)


if __name__ == "__main__":
    main()
