"""Two local sinks AWS does not have: ``file`` (JSON Lines) and ``sqlite`` (a row per message).

Relative paths land in the engine's ``work_dir`` (outputs stay out of the project folder the rules file is in).
"""

from __future__ import annotations

import sqlite3
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

from simulator.rules.actions.base import ActionError, RuleAction, Services, json_line
from simulator.rules.plan import ActionPlan
from simulator.rules.schema import FileAction, SqliteAction
from simulator.rules.sql.message import Message
from simulator.rules.sql.values import UNDEFINED, dumps

_file_locks: dict[Path, threading.Lock] = {}
_file_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _file_locks_guard:
        return _file_locks.setdefault(path, threading.Lock())


def fixed_folder(template: str) -> str:
    """The folder part of a path template before its first ``${…}``: ``logs/${topic(2)}.jsonl`` → ``logs``,
    ``out/${a}/${b}.jsonl`` → ``out``, ``out.jsonl`` → ``""``. A rendered path must stay inside it."""
    prefix = template.split("${", 1)[0]
    return prefix.rpartition("/")[0] or ("/" if prefix.startswith("/") else "")


class FileSink(RuleAction[FileAction]):
    """``{"file": {"path": "out.jsonl"}}``: appends the outgoing payload as one JSON line (templates allowed).

    A template's values come from messages, so whoever may publish picks them: the rendered path must stay inside
    the folder the template fixes before its first ``${…}`` (``logs/${topic(2)}.jsonl`` stays in ``logs``; a
    ``name`` of ``../../x`` is refused with an action error, nothing is written)."""

    def target(self) -> str:
        return str(self.services.work_dir / self.spec.path)  # where it goes (templates unrendered), as shown

    @cached_property
    def _base(self) -> Path:
        """The folder every rendered path must stay in (resolved once)."""
        return (self.services.work_dir / fixed_folder(self.spec.path)).resolve()

    def _path(self, m: Message) -> Path:
        path = self.services.work_dir / self.render("path", m)
        base, resolved = self._base, path.resolve()
        if resolved != base and base not in resolved.parents:
            raise ActionError(f"the file action's path {self.spec.path!r} became {str(path)!r}, which is outside "
                              f"{base}: refused", str(path))
        return path

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        path = self._path(m)
        line = json_line(output) + "\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with _lock_for(path.resolve()), open(path, "a", encoding="utf-8") as f:
                f.write(line)
        except OSError as exc:
            raise ActionError(f"cannot append to {path}: {exc.strerror or exc}", str(path)) from None


def _column_value(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int) and not -(2 ** 63) <= v < 2 ** 63:
        return str(v)
    if isinstance(v, (list, dict)):
        return dumps(v)
    return v


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqliteSink(RuleAction[SqliteAction]):
    """``{"sqlite": {"database": "rules.db", "table": "t"}}``: one row per message, one column per top-level
    selected field (nested values as JSON text); the table is created, and widened with new columns, as fields
    appear. A payload that is not a JSON object goes in a column named ``value``. ``table`` defaults to the
    rule's name."""

    def __init__(self, plan: ActionPlan, services: Services) -> None:
        super().__init__(plan, services)
        self.path = services.work_dir / self.spec.database
        self.table = self.spec.table or plan.rule_name
        self._conn: sqlite3.Connection | None = None
        self._columns: set[str] | None = None
        self._lock = threading.Lock()

    def target(self) -> str:
        return f"{self.path}:{self.table}"

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
        return self._conn

    def _ensure_columns(self, conn: sqlite3.Connection, names: list[str]) -> None:
        if self._columns is None:
            rows = conn.execute(f"PRAGMA table_info({_quote(self.table)})").fetchall()
            self._columns = {r[1] for r in rows}
            if not rows:
                first = names or ["value"]
                conn.execute(f"CREATE TABLE IF NOT EXISTS {_quote(self.table)} "
                             f"({', '.join(_quote(n) for n in first)})")
                self._columns = set(first)
        for name in names:
            if name not in self._columns:
                conn.execute(f"ALTER TABLE {_quote(self.table)} ADD COLUMN {_quote(name)}")
                self._columns.add(name)

    def run(self, m: Message, output: Any, payload: bytes) -> None:
        if isinstance(output, dict):
            row = {k: _column_value(v) for k, v in output.items()}
        else:
            row = {"value": output if isinstance(output, bytes) else _column_value(
                None if output is UNDEFINED else output)}
        names = list(row)
        try:
            with self._lock:
                conn = self._connect()
                self._ensure_columns(conn, names)
                if names:
                    conn.execute(f"INSERT INTO {_quote(self.table)} ({', '.join(_quote(n) for n in names)}) "
                                 f"VALUES ({', '.join('?' * len(names))})", [row[n] for n in names])
                else:
                    conn.execute(f"INSERT INTO {_quote(self.table)} DEFAULT VALUES")
        except sqlite3.Error as exc:
            self._columns = None  # read the table again next time
            raise ActionError(f"SQLite write to {self.path} table {self.table} failed: {exc}",
                               f"{self.path}:{self.table}") from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
