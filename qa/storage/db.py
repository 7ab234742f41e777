"""The SQLite connection every store uses, its one transaction helper and its one "ids" helper.

A `Database` is one connection shared by threads; every use of it is serialized by its lock.
Writes that must land together go through `transaction`; a list of values of any length is
bound as one JSON parameter (`among`), never as one `?` per value (SQLite limits those).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def connect(path: Path) -> sqlite3.Connection:
    """A connection usable from any thread (callers serialize access with a lock), in
    autocommit mode: transactions are explicit (`transaction`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (the commit's own included).
    IMMEDIATE takes the write lock at once, so two writers queue (busy_timeout) rather than
    one failing on upgrading a read lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back itself (disk full, I/O error)
            conn.execute("ROLLBACK")
        raise


def among(column: str) -> str:
    """`column IN` the values bound to one parameter as a JSON array (`values`): any number of
    values in one statement."""
    return f"{column} IN (SELECT value FROM json_each(?))"


def values(items: Iterable[Any]) -> str:
    """The parameter `among` expects."""
    return json.dumps(list(items))


class Database:
    """One connection to a SQLite file, shared by threads under one lock."""

    def __init__(self, path: Path):
        self.path = path
        self.conn = connect(path)
        self.lock = threading.RLock()

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Cursor:
        """One statement on its own (autocommit)."""
        with self.lock:
            return self.conn.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock, transaction(self.conn) as conn:
            yield conn

    def close(self) -> None:
        with self.lock:
            self.conn.close()
