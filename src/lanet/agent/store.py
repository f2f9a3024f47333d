"""The agent's local SQLite database (WAL): credentials, the durable outbox, metric history and small
state that must survive restarts.

The outbox follows persist-queue's acknowledged queue: each row has a status; rows that were in flight
when the agent died go back to ``ready`` at start; a delivered row is deleted at once, so the table
never grows with history. Payloads are JSON text, never pickles. Every item carries the id the agent
made for it (heartbeat ``message_id``, ticket ``client_ticket_id``, command id), which the server uses
to ignore a repeat, so delivering "at least once" from here is "exactly once" there.
"""

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanet.agent.secrets.protect import Protector

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 5,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'ready',
    last_error TEXT,
    refused_status INTEGER,
    refused_code TEXT,
    refused_at REAL,
    reported INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_outbox_ready ON outbox (status, priority, created_at);
CREATE TABLE IF NOT EXISTS command_ledger (
    command_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    pid INTEGER,
    pid_created REAL
);
-- Written by earlier agents and never read: the server keeps the metrics' history.
DROP TABLE IF EXISTS metric_history;
"""

#: Heartbeats kept while the server is unreachable; older ones are dropped first (and counted).
MAX_QUEUED_HEARTBEATS = 500
#: Dead letters of kinds that may be dropped (heartbeats), kept for diagnosis; precious ones all stay.
MAX_DEAD_ORDINARY = 50
#: Columns added to ``outbox`` after its first release, for stores made by an older agent.
_OUTBOX_ADDED = {
    "refused_status": "INTEGER",
    "refused_code": "TEXT",
    "refused_at": "REAL",
    "reported": "INTEGER NOT NULL DEFAULT 0",
}


@dataclass(frozen=True)
class OutboxItem:
    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    created_at: float
    status: str = "ready"
    last_error: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    """An item the server refused: kept, shown in ``lanet-agent status``, reported in a heartbeat."""

    id: str
    kind: str
    status: int | None
    code: str | None
    error: str
    refused_at: float
    reported: bool


class Store:
    """One connection shared by the agent's threads, serialised by a lock (the agent is not busy)."""

    def __init__(self, path: Path, protector: Protector) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.protector = protector
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        present = {row[1] for row in self._conn.execute("PRAGMA table_info(outbox)")}
        for column, declaration in _OUTBOX_ADDED.items():
            if column not in present:
                self._conn.execute(f"ALTER TABLE outbox ADD COLUMN {column} {declaration}")
        # Whatever was being sent when the previous process died is sent again (the server dedupes).
        self._conn.execute("UPDATE outbox SET status = 'ready' WHERE status = 'inflight'")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # --- small state ------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def put(self, key: str, value: Any) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    # --- secrets ----------------------------------------------------------------------------------
    def put_secret(self, name: str, value: str) -> None:
        blob = self.protector.seal(value.encode())
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO secrets (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, blob),
            )

    def put_together(self, secrets: dict[str, str], values: dict[str, Any]) -> None:
        """Secrets and small state written in one transaction: a process killed half-way leaves the
        old set or the new one, never a new JWT beside an old refresh credential."""
        sealed = {name: self.protector.seal(value.encode()) for name, value in secrets.items()}
        with self._tx() as conn:
            for name, blob in sealed.items():
                conn.execute(
                    "INSERT INTO secrets (name, value) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (name, blob),
                )
            for key, value in values.items():
                conn.execute(
                    "INSERT INTO kv (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value)),
                )

    def get_secret(self, name: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return self.protector.unseal(bytes(row[0])).decode() if row else None

    def raw_secret(self, name: str) -> bytes | None:
        """The stored blob as it is on disk (tests check that it is not plain text)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return bytes(row[0]) if row else None

    # --- outbox -----------------------------------------------------------------------------------
    def enqueue(
        self, kind: str, item_id: str, payload: dict[str, Any], priority: int = 5, *, precious: bool = True
    ) -> bool:
        """Add an item; False when an item with that id is already queued (it is not added twice).
        Of a kind that is not ``precious`` (heartbeats) at most :data:`MAX_QUEUED_HEARTBEATS` wait."""
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO outbox (id, kind, payload, priority, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (item_id, kind, json.dumps(payload), priority, time.time()),
            )
            if not precious:
                self._trim(conn, kind)
            return cursor.rowcount == 1

    def _trim(self, conn: sqlite3.Connection, kind: str) -> None:
        count = conn.execute(
            "SELECT count(*) FROM outbox WHERE kind = ? AND status != 'dead'", (kind,)
        ).fetchone()[0]
        excess = count - MAX_QUEUED_HEARTBEATS
        if excess > 0:
            conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE kind = ? "
                "AND status = 'ready' ORDER BY created_at LIMIT ?)",
                (kind, excess),
            )
            dropped = conn.execute("SELECT value FROM kv WHERE key = 'dropped_heartbeats'").fetchone()
            total = (json.loads(dropped[0]) if dropped else 0) + excess
            conn.execute(
                "INSERT INTO kv (key, value) VALUES ('dropped_heartbeats', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (json.dumps(total),),
            )

    def replace_pending(self, kind: str, item_id: str, payload: dict[str, Any], priority: int = 5) -> None:
        """Queue an item that supersedes any queued item of its kind (e.g. a newer full inventory)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM outbox WHERE kind = ? AND status = 'ready'", (kind,))
            conn.execute(
                "INSERT OR REPLACE INTO outbox (id, kind, payload, priority, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (item_id, kind, json.dumps(payload), priority, time.time()),
            )

    def next_ready(self, now: float | None = None, skip: set[str] | None = None) -> OutboxItem | None:
        """Take the next item due for sending (not of a kind in ``skip``) and mark it in flight."""
        now = time.time() if now is None else now
        skipped = sorted(skip or ())
        marks = ", ".join("?" for _ in skipped)
        exclude = f" AND kind NOT IN ({marks})" if skipped else ""
        query = (
            "SELECT id, kind, payload, attempts, created_at FROM outbox WHERE status = 'ready' "  # noqa: S608 - only placeholders are interpolated
            f"AND next_attempt_at <= ?{exclude} ORDER BY priority, created_at LIMIT 1"
        )
        with self._tx() as conn:
            row = conn.execute(query, (now, *skipped)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE outbox SET status = 'inflight' WHERE id = ?", (row[0],))
        return OutboxItem(row[0], row[1], json.loads(row[2]), row[3], row[4])

    def delivered(self, item_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM outbox WHERE id = ?", (item_id,))

    def retry_later(self, item_id: str, at: float, error: str, *, count: bool = True) -> None:
        """Back to ready, not before ``at``; ``count`` says it was an attempt (not a deferral)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'ready', attempts = attempts + ?, next_attempt_at = ?, "
                "last_error = ? WHERE id = ?",
                (1 if count else 0, at, error[:500], item_id),
            )

    def dead_letter(
        self, item_id: str, error: str, *, status: int | None = None, code: str | None = None
    ) -> None:
        """The server refused the item: keep it apart, never sent again, never silently dropped."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?, "
                "refused_status = ?, refused_code = ?, refused_at = ?, reported = 0 WHERE id = ?",
                (error[:500], status, (code or "")[:64] or None, time.time(), item_id),
            )
            # Old dead heartbeats say nothing new; dead tickets and results are all kept.
            conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status = 'dead' AND "
                "kind = 'heartbeat' AND reported = 1 ORDER BY refused_at DESC LIMIT -1 OFFSET ?)",
                (MAX_DEAD_ORDINARY,),
            )

    def dead_letters(self, *, unreported: bool = False, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, kind, refused_status, refused_code, last_error, refused_at, reported FROM outbox "
                "WHERE status = 'dead' AND (reported = 0 OR ? = 0) ORDER BY refused_at LIMIT ?",
                (1 if unreported else 0, limit),
            ).fetchall()
        return [DeadLetter(r[0], r[1], r[2], r[3], r[4] or "", r[5] or 0.0, bool(r[6])) for r in rows]

    def mark_reported(self, item_ids: list[str]) -> None:
        """The server has the heartbeat that listed these dead letters."""
        if not item_ids:
            return
        with self._tx() as conn:
            conn.executemany(
                "UPDATE outbox SET reported = 1 WHERE id = ? AND status = 'dead'", [(i,) for i in item_ids]
            )

    def outbox_counts(self) -> dict[str, int]:
        """Items waiting to be sent, by kind (dead letters are not waiting)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, count(*) FROM outbox WHERE status != 'dead' GROUP BY kind"
            ).fetchall()
        return {kind: count for kind, count in rows}

    def pending_items(self, kind: str, *, include_dead: bool = False) -> list[OutboxItem]:
        """Items of ``kind`` still to be sent (and, with ``include_dead``, those the server refused)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, kind, payload, attempts, created_at, status, last_error FROM outbox "
                "WHERE kind = ? AND (status != 'dead' OR ? = 1) ORDER BY created_at",
                (kind, 1 if include_dead else 0),
            ).fetchall()
        return [OutboxItem(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    # --- command ledger ---------------------------------------------------------------------------
    # A command id goes in before anything runs and never leaves: the ledger is what makes a command
    # run at most once, whatever the server re-offers and however the agent dies.
    def ledger_accept(self, command_id: str, payload: dict[str, Any], status: str = "accepted") -> bool:
        """Record a command; False when it was already recorded (then it must not run again)."""
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO command_ledger (command_id, status, payload, received_at) "
                "VALUES (?, ?, ?, ?)",
                (command_id, status, json.dumps(payload), time.time()),
            )
            return cursor.rowcount == 1

    def ledger_set(self, command_id: str, status: str) -> None:
        column = {"running": "started_at", "done": "finished_at"}.get(status)
        with self._tx() as conn:
            if column:
                conn.execute(
                    f"UPDATE command_ledger SET status = ?, {column} = ? WHERE command_id = ?",  # noqa: S608
                    (status, time.time(), command_id),
                )
            else:
                conn.execute(
                    "UPDATE command_ledger SET status = ? WHERE command_id = ?", (status, command_id)
                )

    def ledger_process(self, command_id: str, pid: int, created: float) -> None:
        """Remember the script's process, so a later start can end what a crash left running."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE command_ledger SET pid = ?, pid_created = ? WHERE command_id = ?",
                (pid, created, command_id),
            )

    def ledger_orphan(self, command_id: str) -> tuple[int, float] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT pid, pid_created FROM command_ledger WHERE command_id = ?", (command_id,)
            ).fetchone()
        return (int(row[0]), float(row[1])) if row and row[0] is not None else None

    def ledger_with(self, status: str) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT command_id, payload FROM command_ledger WHERE status = ? ORDER BY received_at",
                (status,),
            ).fetchall()
        return [(row[0], json.loads(row[1])) for row in rows]

    def ledger_recent(self, since: float, limit: int = 500) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT command_id FROM command_ledger WHERE received_at >= ? "
                "ORDER BY received_at DESC LIMIT ?",
                (since, limit),
            ).fetchall()
        return [row[0] for row in rows]
