"""A local thing-shadow store with AWS IoT's document semantics, kept in a JSON file per thing.

``update`` merges ``state.desired`` / ``state.reported`` (a ``null`` value deletes a key), bumps ``version``,
and returns the accepted document; ``delta`` is what desired holds that reported does not. Files survive
restarts of the simulator; writes are atomic and serialised across processes with a lock file.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from filelock import FileLock


class ShadowError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _merge(target: dict, patch: dict) -> dict:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
    return target


def _delta(desired: dict, reported: dict) -> dict:
    out = {}
    for key, value in desired.items():
        if isinstance(value, dict) and isinstance(reported.get(key), dict):
            sub = _delta(value, reported[key])
            if sub:
                out[key] = sub
        elif reported.get(key) != value:
            out[key] = value
    return out


def _stamp(state: dict, ts: int) -> dict:
    return {k: _stamp(v, ts) if isinstance(v, dict) else {"timestamp": ts} for k, v in state.items()}


class ShadowStore:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, thing: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_:." else "_" for c in thing)
        return self.folder / f"{safe}.json"

    def _locked(self) -> FileLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        return FileLock(self.folder / ".lock")

    def _load(self, thing: str) -> dict | None:
        try:
            return json.loads(self._path(thing).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def _save(self, thing: str, doc: dict) -> None:
        path = self._path(thing)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    def get(self, thing: str) -> dict[str, Any]:
        with self._locked():
            doc = self._load(thing)
        if doc is None:
            raise ShadowError(f"No shadow exists with name: '{thing}'", 404)
        out = dict(doc)
        delta = _delta(doc["state"].get("desired", {}), doc["state"].get("reported", {}))
        if delta:
            out["state"] = dict(doc["state"], delta=delta)
        return out

    def update(self, thing: str, request: dict) -> tuple[dict, dict]:
        """Apply an update request; returns (accepted document, delta) — delta empty if none."""
        state = request.get("state") if isinstance(request, dict) else None
        if not isinstance(state, dict) or not set(state) <= {"desired", "reported"}:
            raise ShadowError("the update must be {\"state\": {\"desired\": {...}, \"reported\": {...}}}", 400)
        ts = int(time.time())
        with self._locked():
            doc = self._load(thing) or {"state": {}, "metadata": {}, "version": 0}
            if "version" in request and request["version"] != doc["version"]:
                raise ShadowError(f"Version conflict: expected {doc['version']}", 409)
            for part in ("desired", "reported"):
                if state.get(part) is None and part in state:
                    doc["state"].pop(part, None)
                    doc["metadata"].pop(part, None)
                elif isinstance(state.get(part), dict):
                    _merge(doc["state"].setdefault(part, {}), state[part])
                    _merge(doc["metadata"].setdefault(part, {}), _stamp(state[part], ts))
            doc["version"] += 1
            doc["timestamp"] = ts
            self._save(thing, doc)
        accepted = {"state": state, "metadata": _stamp({k: v for k, v in state.items() if v}, ts),
                    "version": doc["version"], "timestamp": ts}
        delta = _delta(doc["state"].get("desired", {}), doc["state"].get("reported", {}))
        return accepted, delta

    def delete(self, thing: str) -> dict:
        with self._locked():
            doc = self._load(thing)
            if doc is None:
                raise ShadowError(f"No shadow exists with name: '{thing}'", 404)
            self._path(thing).unlink()
        return {"version": doc["version"], "timestamp": int(time.time())}
