"""The SQLite file: its schema versions, the checks before use, and the one-server lock.

`PRAGMA user_version` is the schema version. Opening migrates an older file step by step, each
step in its own transaction; a newer or corrupt file is refused with a clear message and never
written to, let alone recreated. A second server on the same file is refused through an
exclusive `flock` on `<file>.lock`, which also names the holder's pid; the kernel drops the lock
when its holder dies, even by SIGKILL, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import IO

MIGRATIONS: tuple[str, ...] = (
    # 1: configs, breaker states, error records and counts, the event log
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE breakers (name TEXT PRIMARY KEY, config TEXT NOT NULL, state TEXT NOT NULL);
    CREATE TABLE limits (name TEXT PRIMARY KEY, config TEXT NOT NULL);
    CREATE TABLE features (name TEXT PRIMARY KEY, config TEXT NOT NULL);
    CREATE TABLE errors (seq INTEGER PRIMARY KEY AUTOINCREMENT, error_id TEXT UNIQUE NOT NULL,
                         record TEXT NOT NULL);
    CREATE TABLE error_counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL);
    CREATE TABLE events (sequence INTEGER PRIMARY KEY, time REAL NOT NULL, type INTEGER NOT NULL,
                         payload TEXT NOT NULL);
    """,
    # 2: deadlines as a column, so what is due is one indexed query
    """
    ALTER TABLE breakers ADD COLUMN deadline REAL;
    CREATE INDEX breakers_deadline ON breakers (deadline) WHERE deadline IS NOT NULL;
    """,
    # 3: rate-limit counters, each key until it turns idle
    """
    CREATE TABLE limit_keys (limit_name TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
                             idle_from REAL NOT NULL, PRIMARY KEY (limit_name, key));
    CREATE INDEX limit_keys_idle ON limit_keys (idle_from);
    """,
)
VERSION = len(MIGRATIONS)


class DatabaseRefused(RuntimeError):
    """The file cannot be used: newer, corrupt, or locked by another server."""


def lock(path: Path) -> IO[str]:
    """Hold `<path>.lock` for this process (released when the returned file closes or the
    process dies); DatabaseRefused naming the holder when another process has it."""
    holder = open(f"{path}.lock", "a+", encoding="utf-8")  # noqa: SIM115 (held until close)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder.seek(0)
        pid = holder.read().strip() or "unknown"
        holder.close()
        raise DatabaseRefused(f"{path} is in use by another rescp server (pid {pid})") from None
    holder.truncate(0)
    holder.write(str(os.getpid()))
    holder.flush()
    return holder


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode with synchronous=FULL: a commit survives a crash of the process
    and of the machine. Autocommit is off in the driver; transactions are explicit."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=1000")
    return conn


def open_database(path: Path) -> sqlite3.Connection:
    """Check and migrate the file at `path` (created when missing); DatabaseRefused if unusable.
    An existing file is checked read-only first, so a refused one is left byte for byte."""
    if path.exists() and path.stat().st_size > 0:
        _check(path)
    conn = connect(path)
    migrate(conn, int(conn.execute("PRAGMA user_version").fetchone()[0]), VERSION)
    return conn


def _check(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise _unusable(path, str(error)) from None
    if version > VERSION:
        raise DatabaseRefused(f"{path} has schema version {version}, newer than this rescp "
                              f"understands ({VERSION}); run a newer rescp")
    if check != "ok":
        raise _unusable(path, check)


def _unusable(path: Path, why: str) -> DatabaseRefused:
    return DatabaseRefused(f"{path} is not a usable rescp database ({why}); "
                           "move it away or restore a backup")


def migrate(conn: sqlite3.Connection, current: int, target: int) -> None:
    """Apply the steps after `current` up to `target`, each atomically with its version bump."""
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
