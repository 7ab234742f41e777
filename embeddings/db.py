"""SQLite connection and numbered schema migrations (per namespace, applied in order)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: Path) -> sqlite3.Connection:
    """A connection usable from any thread (callers serialize access with a lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " namespace TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (namespace, version))"
    )
    return conn


def statements(script: str) -> list[str]:
    """The SQL statements of `script`, each complete by SQLite's own test (a trigger's body
    holds semicolons of its own)."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement: {buffer.strip()[:80]!r}")
    return out


def migrate(conn: sqlite3.Connection, namespace: str, migrations: list[str]) -> int:
    """Apply the migrations of `namespace` not applied yet; migration i has version i + 1.
    Each runs in its own transaction. Returns the schema version."""
    done = {
        row[0]
        for row in conn.execute(
            "SELECT version FROM schema_migrations WHERE namespace = ?", (namespace,)
        )
    }
    for version, script in enumerate(migrations, start=1):
        if version in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements(script):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (namespace, version) VALUES (?, ?)",
                (namespace, version),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(migrations)
