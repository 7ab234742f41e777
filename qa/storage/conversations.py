"""The conversation store: conversations and their turns, in the service's SQLite database
(namespace "conversations" of qa/storage/migrations.py).

A conversation is created by its first turn and identified by a random, unguessable id (122
bits): knowing the id is what gives access to it. Each turn keeps the question as asked, the
standalone question that was searched, the answer (null for an abstention), its citations (JSON)
and the time. A conversation expires `conversation_ttl_hours` after its last turn: expired
conversations read as missing at once and are deleted lazily (at most once a minute, on writes).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from qa.storage.db import Database
from qa.storage.migrations import CONVERSATIONS, migrate
from qa.types import Citation

log = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 60.0


class ConversationNotFound(LookupError):
    """A conversation id that does not exist (never did, expired, or was deleted)."""

    def __init__(self, conversation_id: str):
        super().__init__(
            f"no conversation with id {conversation_id!r} (it may have expired or been "
            "deleted); ask without conversation_id to start a new one"
        )
        self.conversation_id = conversation_id


@dataclass(frozen=True)
class Turn:
    conversation_id: str
    turn: int  # 1, 2, ...
    question: str
    standalone_question: str
    answer: str | None
    citations: list[dict[str, Any]]
    created_at: str
    analysis: dict[str, Any] | None = None  # the follow-up resolver's analysis of the turn


@dataclass(frozen=True)
class Conversation:
    id: str
    created_at: str
    updated_at: str
    expires_at: str
    turns: list[Turn]


def _iso(moment: datetime) -> str:
    # One fixed format, so that timestamps compare correctly as strings in SQL.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_conversation_id() -> str:
    return uuid.uuid4().hex


class ConversationStore:
    """Conversations in SQLite; safe to share between threads (one lock serializes access)."""

    def __init__(self, path: Path, ttl_hours: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.path = path
        self.ttl = timedelta(hours=ttl_hours)
        self.clock = clock
        self._db = Database(path)
        self._last_purge = float("-inf")
        migrate(self._db.conn, "conversations", CONVERSATIONS)

    def close(self) -> None:
        self._db.close()

    # reads -----------------------------------------------------------------------------------
    def _cutoff(self) -> str:
        return _iso(self.clock() - self.ttl)

    def exists(self, conversation_id: str) -> bool:
        return bool(self._db.query("SELECT 1 FROM conversations WHERE id = ? AND updated_at >= ?",
                                   (conversation_id, self._cutoff())))

    def get(self, conversation_id: str) -> Conversation | None:
        """The conversation with all its turns; None when missing or expired."""
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT * FROM conversations WHERE id = ? AND updated_at >= ?",
                (conversation_id, self._cutoff()),
            ).fetchone()
            if row is None:
                return None
            turns = self._turns(conversation_id, None)
        updated = datetime.strptime(row["updated_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=UTC)
        return Conversation(row["id"], row["created_at"], row["updated_at"],
                            _iso(updated + self.ttl), turns)

    def history(self, conversation_id: str, last: int) -> list[Turn]:
        """The last `last` turns, oldest first. Raises ConversationNotFound."""
        with self._db.lock:
            if not self.exists(conversation_id):
                raise ConversationNotFound(conversation_id)
            return self._turns(conversation_id, last)

    def _turns(self, conversation_id: str, last: int | None) -> list[Turn]:
        rows = self._db.conn.execute(
            "SELECT * FROM turns WHERE conversation_id = ? ORDER BY turn DESC LIMIT ?",
            (conversation_id, -1 if last is None else last),
        ).fetchall()
        return [
            Turn(r["conversation_id"], r["turn"], r["question"], r["standalone_question"],
                 r["answer"], json.loads(r["citations"]), r["created_at"],
                 json.loads(r["analysis"]) if r["analysis"] else None)
            for r in reversed(rows)
        ]

    # writes ----------------------------------------------------------------------------------
    def add_turn(self, conversation_id: str, question: str, standalone_question: str,
                 answer: str | None, citations: list[Citation], create: bool = False,
                 analysis: dict[str, Any] | None = None) -> Turn:
        """Append a turn (with `analysis`, what the follow-up resolver derived from it, kept
        for later turns). With `create`, a conversation that does not exist yet is created;
        otherwise a missing (or expired) one raises ConversationNotFound."""
        self._maybe_purge()
        now = _iso(self.clock())
        cited = json.dumps([asdict(c) for c in citations], ensure_ascii=False)
        with self._db.transaction() as conn:
            live = conn.execute(
                "SELECT updated_at >= ? FROM conversations WHERE id = ?",
                (self._cutoff(), conversation_id),
            ).fetchone()
            if live is not None and not live[0]:  # expired but not purged yet
                conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
                live = None
            if live is None:
                if not create:
                    raise ConversationNotFound(conversation_id)
                conn.execute(
                    "INSERT INTO conversations (id, created_at, updated_at) VALUES (?, ?, ?)",
                    (conversation_id, now, now),
                )
            else:
                conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                             (now, conversation_id))
            number = conn.execute(
                "SELECT COALESCE(MAX(turn), 0) + 1 FROM turns WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO turns (conversation_id, turn, question, standalone_question,"
                " answer, citations, created_at, analysis) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, number, question, standalone_question, answer, cited, now,
                 json.dumps(analysis, ensure_ascii=False) if analysis is not None else None),
            )
        return Turn(conversation_id, number, question, standalone_question, answer,
                    json.loads(cited), now, analysis)

    def set_analysis(self, conversation_id: str, turn: int, analysis: dict[str, Any]) -> None:
        """Keep the follow-up resolver's analysis with a stored turn (done when a later
        question first needs it)."""
        self._db.execute("UPDATE turns SET analysis = ? WHERE conversation_id = ? AND turn = ?",
                         (json.dumps(analysis, ensure_ascii=False), conversation_id, turn))

    def delete(self, conversation_id: str) -> bool:
        """Delete a conversation and its turns; False when there was none (or it expired)."""
        with self._db.lock:
            live = self.exists(conversation_id)
            self._db.conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        return live

    def purge_expired(self) -> int:
        """Delete every expired conversation now; returns how many."""
        with self._db.lock:
            cur = self._db.conn.execute("DELETE FROM conversations WHERE updated_at < ?",
                                        (self._cutoff(),))
            self._last_purge = time.monotonic()
        if cur.rowcount:
            log.info("purged %d expired conversations", cur.rowcount)
        return int(cur.rowcount)

    def _maybe_purge(self) -> None:
        if time.monotonic() - self._last_purge >= PURGE_EVERY_SECONDS:
            self.purge_expired()

    def count(self) -> int:
        return int(self._db.query("SELECT COUNT(*) FROM conversations")[0][0])
