"""Local Rekognition face collections, one JSON file each under ``<state>/rekognition/collections/``, written
on every change: each face keeps its ids, box, detector confidence and its SFace embedding."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from .stored import read_json_model, write_json

COLLECTION_ID = re.compile(r"^[a-zA-Z0-9_.\-]{1,255}$")
FACE_MODEL_VERSION = "local-sface-2021dec"   # what FaceModelVersion says: the embedding model that answers


class FaceRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    face_id: str
    image_id: str
    external_image_id: str | None = None
    bounding_box: dict[str, float]
    confidence: float
    embedding: list[float]


class Collection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collection_id: str
    created_at: datetime
    face_model_version: str = FACE_MODEL_VERSION
    faces: list[FaceRecord] = []

    def face_view(self, face: FaceRecord) -> dict:
        """Rekognition's ``Face`` shape."""
        view = {"FaceId": face.face_id, "BoundingBox": face.bounding_box, "ImageId": face.image_id,
                "Confidence": face.confidence, "IndexFacesModelVersion": self.face_model_version}
        if face.external_image_id is not None:
            view["ExternalImageId"] = face.external_image_id
        return view

    def matches(self, embedding: np.ndarray, exclude: str | None = None) -> list[tuple[float, FaceRecord]]:
        """(cosine similarity, face) for every face but ``exclude``, most similar first."""
        faces = [f for f in self.faces if f.face_id != exclude]
        if not faces:
            return []
        cosines = np.asarray([f.embedding for f in faces], np.float32) @ embedding.astype(np.float32)
        return sorted(zip(cosines.tolist(), faces, strict=True), key=lambda m: m[0], reverse=True)


class FaceCollections:
    """All collections, kept in memory and on disk; thread-safe."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._lock = threading.RLock()
        self._items: dict[str, Collection] = {}
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                collection = read_json_model(path, Collection)
                self._items[collection.collection_id] = collection

    def _save(self, collection: Collection) -> None:
        write_json(self._folder / f"{collection.collection_id}.json", collection)

    def get(self, collection_id: str) -> Collection | None:
        with self._lock:
            return self._items.get(collection_id)

    def create(self, collection_id: str) -> Collection:
        """A new empty collection (the caller checked that it does not exist)."""
        with self._lock:
            collection = Collection(collection_id=collection_id, created_at=datetime.now(timezone.utc))
            self._items[collection_id] = collection
            self._save(collection)
            return collection

    def delete(self, collection_id: str) -> bool:
        with self._lock:
            if self._items.pop(collection_id, None) is None:
                return False
            (self._folder / f"{collection_id}.json").unlink(missing_ok=True)
            return True

    def add_faces(self, collection_id: str, faces: list[FaceRecord]) -> None:
        with self._lock:
            collection = self._items[collection_id]
            collection.faces.extend(faces)
            self._save(collection)

    def delete_faces(self, collection_id: str, face_ids: list[str]) -> list[str]:
        """Delete the faces with these ids; returns the ids that were deleted."""
        with self._lock:
            collection = self._items[collection_id]
            wanted = set(face_ids)
            deleted = [f.face_id for f in collection.faces if f.face_id in wanted]
            collection.faces = [f for f in collection.faces if f.face_id not in wanted]
            self._save(collection)
            return deleted

    def ids(self) -> list[str]:
        with self._lock:
            return sorted(self._items)

    def summary(self) -> list[tuple[str, int]]:
        """(collection id, face count) of every collection."""
        with self._lock:
            return [(cid, len(self._items[cid].faces)) for cid in sorted(self._items)]
