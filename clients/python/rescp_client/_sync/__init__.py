# Generated from rescp_client/_async/__init__.py by scripts/unasync.py; do not edit.
"""One flavour of the client (the module docstrings of its parts state the design)."""

from ._guard import Guard
from ._handles import BreakerHandle, Limiter
from ._watch import Watch
from .client import Client

__all__ = ["BreakerHandle", "Client", "Guard", "Limiter", "Watch"]
