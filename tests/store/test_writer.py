"""The SQLite writer thread on a real file: group commit, failure translated into
StoreUnavailable, kept writes retried by themselves, keyed writes coalesced."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from rescp.errors import StoreUnavailable
from rescp.store import writer
from rescp.store.sqlite_schema import connect


async def scenario(db: Path) -> list[tuple[bool, int]]:
    conn = connect(db)
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
    attempts: list[tuple[bool, int]] = []
    w = writer.Writer(conn, lambda ok, sequence: attempts.append((ok, sequence)))
    put = "INSERT OR REPLACE INTO t VALUES (?, ?)"
    for v in range(3):  # one key, three values in one step: only the newest is written
        w.submit([(put, ("counter", v))], key="counter", sequence=v + 1)
    await w.commit()
    w.submit([(put, ("kept", 1))])  # keep=True: survives the failure below
    w.submit([("INSERT INTO no_such_table VALUES (1)", ())], keep=False)
    with pytest.raises(StoreUnavailable, match="no such table"):
        await w.commit()
    for _ in range(100):  # the writer retries the kept write by itself
        if attempts[-1][0]:
            break
        await asyncio.sleep(0.05)
    await w.close()
    return attempts


def test_the_writer_groups_translates_failures_and_retries_kept_writes(tmp_path: Path) -> None:
    attempts = asyncio.run(scenario(tmp_path / "w.db"))
    assert attempts[0] == (True, 3)  # the three keyed writes went in one commit
    assert (False, 0) in attempts and attempts[-1][0]
    with sqlite3.connect(tmp_path / "w.db") as conn:
        assert dict(conn.execute("SELECT k, v FROM t")) == {"counter": 2, "kept": 1}
