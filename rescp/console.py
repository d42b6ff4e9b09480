"""`rescp status` and `rescp watch`: an operator's view of a running server, through the Python
client (rescp-client).

The client is imported inside each command, never at import time, so the server runs without
it; a missing client is one line on stderr and exit status 1. What is printed is built by
`rescp.console_format` (pure, unit-tested); this module only talks to the server and the
terminal:

- status: four reads printed as tables; an unreachable server is one line on stderr and exit
  status 1 once `timeout` has passed.
- watch: the client's blocking `watch()`, so the stream reconnects and resumes by itself (and
  prints a Snapshot when it could not resume). stdout carries only events, one per line,
  flushed as they come; every failed attempt is reported on stderr (the client logs it on the
  "rescp_client" logger, which this command sends there). Ctrl-C and SIGTERM end it with exit
  status 0; a bad filter is exit status 2, as for any bad argument.
"""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

DEFAULT_TARGET = "127.0.0.1:50051"


def status(target: str, timeout: float) -> int:
    """Print the server's breakers, limits, health and degradation."""
    try:
        from rescp.console_format import status_report
        from rescp_client import Client, ControlPlaneUnavailable, RescpError
    except ImportError as error:
        return _without_client("status", error)
    try:
        with Client(target, timeout=timeout) as client:
            report = status_report(client.list_breakers(), client.list_limits(),
                                   client.system_health(), client.degradation())
    except ControlPlaneUnavailable as error:
        return _fail(f"cannot reach rescp at {target}: {error}")
    except RescpError as error:
        return _fail(f"{target}: {error}")
    print(report)
    return 0


def watch(target: str, types: list[str] | None, min_severity: str | None,
          as_json: bool) -> int:
    """Print events as they happen, until interrupted."""
    try:
        from rescp.console_format import event_json, event_line
        from rescp_client import Client, InvalidArgumentError, RescpError
    except ImportError as error:
        return _without_client("watch", error)
    show = event_json if as_json else event_line
    _log_to_stderr(logging.getLogger("rescp_client"))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with Client(target) as client:
            events = client.watch(types, min_severity=min_severity)
            print(f"rescp: watching {target}; Ctrl-C to stop", file=sys.stderr, flush=True)
            for event in events:
                print(show(event), flush=True)
    except KeyboardInterrupt:
        return 0
    except InvalidArgumentError as error:
        return _fail(str(error), status=2)
    except RescpError as error:
        return _fail(f"{target}: {error}")
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0  # a watch ends by itself only when its client is closed


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends a watch the way Ctrl-C does."""
    raise KeyboardInterrupt


def _log_to_stderr(logger: logging.Logger) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("rescp: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _without_client(command: str, error: ImportError) -> int:
    return _fail(f"`rescp {command}` needs the Python client: pip install rescp-client ({error})")


def _fail(message: str, status: int = 1) -> int:
    print(f"rescp: {' '.join(message.split())}", file=sys.stderr)
    return status
