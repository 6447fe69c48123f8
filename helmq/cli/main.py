"""The `helmq` command: parse the arguments, build the process's runtime, run the verb."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from helmq.cli.output import EXIT_BROKEN_PIPE, EXIT_PROBLEMS, EXIT_USAGE
from helmq.cli.parser import build_parser
from helmq.errors import BrokerError, ConfigError, HelmqError, StoreError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `helmq` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else
        logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.verb in ("worker", "beat") and args.verbose == 0:
        logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        # Imported here: `--help` and a bad argument answer without loading the database layer.
        from helmq import runtime
        from helmq.config.settings import Settings

        rt = runtime.install(runtime.Runtime(Settings.from_env(), migrate=True))
        try:
            return args.func(rt, args)
        finally:
            rt.close()
    except (ConfigError, StoreError, BrokerError) as exc:
        print(f"helmq: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HelmqError as exc:
        print(f"helmq: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`helmq items --json | head`): stop quietly, as git does, and
        # keep Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
