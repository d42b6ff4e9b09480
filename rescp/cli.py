"""`rescp serve|status|watch`: the process around the library.

`serve` runs the server. `status` and `watch` are an operator's view of a running one; they
live in `rescp.console` and use the Python client, imported only when they run, so the server
never needs it. The server (and grpc with it) is imported only in the process that serves: with
`--workers`, after the fork (see rescp.workers).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from rescp import console
from rescp.config import STORES, Config, ConfigError, StartupError, load, server_problems

SEVERITIES = ["low", "medium", "high", "critical"]
EVENT_TYPES = "breaker_transition, notification, degradation_change, health_change, " \
              "rate_limit_exceeded"


def _names(value: str) -> list[str]:
    """A comma-separated list, blanks dropped."""
    return [name.strip() for name in value.split(",") if name.strip()]


def _seconds(value: str) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return seconds


def _workers(value: str) -> int:
    workers = int(value)
    if not 1 <= workers <= 256:
        raise argparse.ArgumentTypeError("must be 1 to 256")
    return workers


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rescp", description="rescp, a resilience control plane")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the server")
    run.add_argument("--listen", help="HOST:PORT to listen on (default 0.0.0.0:50051)")
    run.add_argument("--http-listen", help="HOST:PORT for HTTP (REST, Connect JSON, metrics, "
                     "dashboard), or off (default 0.0.0.0:8080)")
    run.add_argument("--store", help=f"where state lives: {STORES} (default sqlite)")
    run.add_argument("--data-dir", help="where the sqlite store keeps rescp.db "
                                        "(default ./rescp-data)")
    run.add_argument("--store-failure-mode", choices=["allow", "deny"],
                     help="what Allow answers while the store is unreachable (default allow)")
    run.add_argument("--workers", type=_workers,
                     help="server processes sharing the ports (SO_REUSEPORT); over 1 needs a "
                          "redis:// store (default 1)")
    run.add_argument("--config", help="a TOML config file (see examples/rescp.toml)")
    run.add_argument("--log-level", default="info",
                     choices=["debug", "info", "warning", "error"])
    status = commands.add_parser("status", help="print a running server's breakers, limits, "
                                                "health and degradation")
    status.add_argument("--target", default=console.DEFAULT_TARGET,
                        help=f"HOST:PORT of the server (default {console.DEFAULT_TARGET})")
    status.add_argument("--timeout", type=_seconds, default=5.0,
                        help="seconds to wait for the server (default 5)")
    watch = commands.add_parser("watch", help="print a running server's events as they happen")
    watch.add_argument("--target", default=console.DEFAULT_TARGET,
                       help=f"HOST:PORT of the server (default {console.DEFAULT_TARGET})")
    watch.add_argument("--types", type=_names,
                       help=f"comma-separated event types (default all): {EVENT_TYPES}")
    watch.add_argument("--min-severity", choices=SEVERITIES,
                       help="skip notifications below this severity")
    watch.add_argument("--json", action="store_true", help="print JSON lines")
    return parser


def _serve(args: argparse.Namespace) -> int:
    config = load(args.config) if args.config else Config()
    flags = {"listen": args.listen, "store": args.store, "data_dir": args.data_dir,
             "store_failure_mode": args.store_failure_mode, "http_listen": args.http_listen,
             "workers": args.workers}
    server = dataclasses.replace(config.server, **{k: v for k, v in flags.items() if v})
    if problems := server_problems(server):
        raise ConfigError("; ".join(problems))
    config = dataclasses.replace(config, server=server)
    process = " [%(process)d]" if server.workers > 1 else ""
    logging.basicConfig(level=args.log_level.upper(),
                        format=f"%(asctime)s %(levelname)s{process} %(name)s: %(message)s")
    if server.workers > 1:
        from rescp import workers
        return workers.run(config, serve_one)
    return serve_one(config)


def serve_one(config: Config) -> int:
    """One server process, run until SIGTERM or SIGINT: its exit status."""
    from rescp.server.app import run

    try:
        run(config)
    except StartupError as error:
        return _cannot_start(error)
    return 0


def _cannot_start(error: StartupError) -> int:
    print(f"rescp: cannot start: {error}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "status":
        return console.status(args.target, args.timeout)
    if args.command == "watch":
        return console.watch(args.target, args.types or None, args.min_severity, args.json)
    try:
        return _serve(args)
    except ConfigError as error:
        print(f"rescp: {error}", file=sys.stderr)
        return 2
    except StartupError as error:  # the --workers supervisor's; a server's own is serve_one's
        return _cannot_start(error)


if __name__ == "__main__":
    sys.exit(main())
