"""`rescp serve` with the one check `--workers` makes lifted, so each worker runs on a memory
store of its own (which the CLI refuses: the workers would not share state). It tests the
process machinery (the fork, the shared ports, the signals) without Redis:

    python tests/replicas/memory_workers.py serve --workers 2 --store memory ...

Each worker first checks that the parent never imported grpc before forking it (a module the
parent imported is in the worker's sys.modules too) and exits 1 if it had.
"""

from __future__ import annotations

import sys

from rescp import cli, config


def _problems(server: config.ServerSettings) -> list[str]:
    return [p for p in config.server_problems(server) if not p.startswith("workers:")]


def _serve_one(settings: config.Config) -> int:
    if "grpc" in sys.modules:
        print("rescp: grpc was imported before the fork", file=sys.stderr)
        return 1
    return serve_one(settings)


serve_one = cli.serve_one
cli.server_problems = _problems
cli.serve_one = _serve_one
sys.exit(cli.main(sys.argv[1:]))
