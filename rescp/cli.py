"""`rescp serve` (and, later, status and watch): the process around the library."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys

from rescp.config import Config, ConfigError, load
from rescp.server.app import StartupError, serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rescp", description="rescp, a resilience control plane")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the server")
    run.add_argument("--listen", help="HOST:PORT to listen on (default 0.0.0.0:50051)")
    run.add_argument("--store", choices=["memory"], help="where state lives (default memory)")
    run.add_argument("--config", help="a TOML config file (see examples/rescp.toml)")
    run.add_argument("--log-level", default="info",
                     choices=["debug", "info", "warning", "error"])
    return parser


def _serve(args: argparse.Namespace) -> int:
    config = load(args.config) if args.config else Config()
    overrides = {k: v for k, v in (("listen", args.listen), ("store", args.store)) if v}
    config = dataclasses.replace(config, server=dataclasses.replace(config.server, **overrides))
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(config))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _serve(args)
    except (ConfigError, StartupError) as error:
        print(f"rescp: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
