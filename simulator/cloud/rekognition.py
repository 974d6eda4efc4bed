"""The local Rekognition: AWS's request and response shapes, answered by bundled models.

Answered here: DetectFaces, DetectLabels, CompareFaces, RecognizeCelebrities (no celebrity is ever
recognised; detected faces are returned as UnrecognizedFaces), and the face collections (CreateCollection,
DeleteCollection, ListCollections, DescribeCollection, IndexFaces, SearchFacesByImage, SearchFaces, ListFaces,
DeleteFaces; a collection named by IndexFaces or a search that does not exist is created on first use). Face
details carry BoundingBox, Landmarks (eyeLeft, eyeRight, nose), Pose and Quality (estimated, see
:func:`.faces.pose_and_quality`) and Confidence; the other attributes of ``Attributes=["ALL"]`` (age, emotions,
...) are not produced. Any other Rekognition operation falls through to moto's canned answer (said in the log).
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from .face_collections import COLLECTION_ID, FACE_MODEL_VERSION, FaceCollections, FaceRecord
from .faces import Face, FaceModels, pose_and_quality, similarity_percent
from .labels import LabelModel
from .wire import Call, json_error

log = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024      # Image.Bytes limit
MAX_S3_BYTES = 15 * 1024 * 1024  # Image.S3Object limit
LABEL_MODEL_VERSION = "local-ssd-mobilenet-v2-coco"


class AwsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _no_face() -> AwsError:
    return AwsError("InvalidParameterException", "There are no faces in the image. Should be at least 1.")


def _no_collection(cid: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"The collection id: {cid} does not exist")


@functools.cache
def _models() -> tuple[FaceModels, LabelModel]:
    """The models are shared by every local cloud of the process (each loads on its first use)."""
    return FaceModels(), LabelModel()


class Rekognition:
    """Handler for the gateway: ``handle(call)`` answers a Rekognition request, or returns None for moto."""

    def __init__(self, folder: Path, region: str, fetch_object: Callable[[str, str, str | None], bytes]) -> None:
        self.collections = FaceCollections(folder / "collections")
        self._region = region
        self._fetch = fetch_object
        self._faces, self._labels = _models()
        self._said: set[str] = set()
        self._said_lock = threading.Lock()

    def _once(self, key: str, message: str, *args) -> None:
        with self._said_lock:
            if key in self._said:
                return
            self._said.add(key)
        log.info(message, *args)

    def handle(self, call: Call):
        op = getattr(self, f"op_{call.target}", None)
        if op is None:
            self._once(call.target, "Rekognition %s is not answered locally: moto's canned answer is returned "
                                    "(not an analysis of the image)", call.target)
            return None
        try:
            body = json.dumps(op(call.json())).encode()
        except AwsError as err:
            return json_error(err.code, err.message, err.status)
        return ("200 OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body))),
                           ("x-amzn-RequestId", str(uuid.uuid4()))], body)

    # --- images and faces -----------------------------------------------------------------------------

    def _image(self, spec) -> np.ndarray:
        """The BGR image of a request's ``Image`` (Bytes or S3Object); AWS's errors for bad input."""
        if not isinstance(spec, dict) or not ({"Bytes", "S3Object"} & set(spec)):
            raise AwsError("InvalidParameterException", "Request has invalid parameters")
        if "Bytes" in spec:
            try:
                data = base64.b64decode(spec["Bytes"], validate=True)
            except (ValueError, TypeError) as exc:
                raise AwsError("InvalidParameterException", "Request has invalid parameters") from exc
            if len(data) > MAX_BYTES:
                raise AwsError("ImageTooLargeException", "Image size is too large.")
        else:
            obj = spec["S3Object"] or {}
            try:
                data = self._fetch(obj.get("Bucket", ""), obj.get("Name", ""), obj.get("Version"))
            except Exception as exc:  # any S3 failure is AWS's InvalidS3ObjectException
                raise AwsError("InvalidS3ObjectException", "Unable to get object metadata from S3. Check object "
                                                           "key, region and/or access permissions.") from exc
            if len(data) > MAX_S3_BYTES:
                raise AwsError("ImageTooLargeException", "Image size is too large.")
        if not (data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n"):
            raise AwsError("InvalidImageFormatException", "Request has unsupported image format")
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise AwsError("InvalidImageFormatException", "Request has unsupported image format")
        return image

    @staticmethod
    def _box(image: np.ndarray, face: Face) -> dict[str, float]:
        h, w = image.shape[:2]
        x0, y0, x1, y1 = face.box
        return {"Width": (x1 - x0) / w, "Height": (y1 - y0) / h, "Left": x0 / w, "Top": y0 / h}

    def _detail(self, image: np.ndarray, face: Face) -> dict:
        """Rekognition's FaceDetail / ComparedFace fields that can be answered."""
        h, w = image.shape[:2]
        k = face.keypoints
        landmarks = [{"Type": t, "X": float(k[i, 0] / w), "Y": float(k[i, 1] / h)}
                     for t, i in (("eyeLeft", 0), ("eyeRight", 1), ("nose", 2))]
        pose, quality = pose_and_quality(image, face)
        return {"BoundingBox": self._box(image, face), "Landmarks": landmarks, "Pose": pose, "Quality": quality,
                "Confidence": round(face.score * 100, 4)}

    def _attributes(self, requested) -> None:
        if any(a not in ("DEFAULT",) for a in requested or []):
            self._once("attributes", "Rekognition face attributes other than the default ones (age, emotions, "
                                     "glasses, ...) are not produced locally")

    # --- detection ------------------------------------------------------------------------------------

    def op_DetectFaces(self, req: dict) -> dict:  # noqa: N802 - AWS's operation names
        image = self._image(req.get("Image"))
        self._attributes(req.get("Attributes"))
        return {"FaceDetails": [self._detail(image, f) for f in self._faces.detect(image)[:100]]}

    def op_DetectLabels(self, req: dict) -> dict:  # noqa: N802
        image = self._image(req.get("Image"))
        if "IMAGE_PROPERTIES" in (req.get("Features") or []):
            self._once("properties", "Rekognition DetectLabels IMAGE_PROPERTIES are not produced locally")
        min_conf = float(req.get("MinConfidence", 55.0)) / 100
        labels: dict[str, dict] = {}
        for inst in self._labels.detect(image, min_conf):
            left, top, width, height = inst.box
            label = labels.setdefault(inst.name, {"Name": inst.name, "Confidence": inst.confidence * 100,
                                                  "Instances": [], "Parents": [], "Aliases": [], "Categories": []})
            label["Instances"].append({"BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top},
                                       "Confidence": inst.confidence * 100})
        ordered = sorted(labels.values(), key=lambda lab: lab["Confidence"], reverse=True)
        if req.get("MaxLabels"):
            ordered = ordered[:int(req["MaxLabels"])]
        return {"Labels": ordered, "LabelModelVersion": LABEL_MODEL_VERSION}

    def op_RecognizeCelebrities(self, req: dict) -> dict:  # noqa: N802
        image = self._image(req.get("Image"))
        faces = self._faces.detect(image)[:64]
        log.info("Rekognition RecognizeCelebrities: no celebrity database locally; %d face(s) returned as "
                 "unrecognized", len(faces))
        return {"CelebrityFaces": [], "UnrecognizedFaces": [self._detail(image, f) for f in faces]}

    def op_CompareFaces(self, req: dict) -> dict:  # noqa: N802
        source, target = self._image(req.get("SourceImage")), self._image(req.get("TargetImage"))
        threshold = float(req.get("SimilarityThreshold", 80.0))
        src_faces = self._faces.detect(source)
        if not src_faces:
            raise _no_face()
        reference = self._faces.embed(source, src_faces[0])
        matched, unmatched = [], []
        for face in self._faces.detect(target)[:100]:
            similarity = similarity_percent(float(reference @ self._faces.embed(target, face)))
            if similarity >= threshold:
                matched.append({"Similarity": similarity, "Face": self._detail(target, face)})
            else:
                unmatched.append(self._detail(target, face))
        return {"SourceImageFace": {"BoundingBox": self._box(source, src_faces[0]),
                                    "Confidence": src_faces[0].score * 100},
                "FaceMatches": sorted(matched, key=lambda m: m["Similarity"], reverse=True),
                "UnmatchedFaces": unmatched}

    # --- collections ----------------------------------------------------------------------------------

    def _collection(self, req: dict, create: bool):
        cid = req.get("CollectionId")
        if not isinstance(cid, str) or not COLLECTION_ID.match(cid):
            raise AwsError("InvalidParameterException", "Request has invalid parameters")
        collection = self.collections.get(cid)
        if collection is None and create:
            log.info("created face collection %s on first use (local cloud)", cid)
            collection = self.collections.create(cid)
        if collection is None:
            raise _no_collection(cid)
        return collection

    def _arn(self, cid: str) -> str:
        from moto.core import DEFAULT_ACCOUNT_ID

        return f"aws:rekognition:{self._region}:{DEFAULT_ACCOUNT_ID}:collection/{cid}"

    def op_CreateCollection(self, req: dict) -> dict:  # noqa: N802
        cid = req.get("CollectionId")
        if not isinstance(cid, str) or not COLLECTION_ID.match(cid):
            raise AwsError("InvalidParameterException", "Request has invalid parameters")
        if self.collections.get(cid) is not None:
            raise AwsError("ResourceAlreadyExistsException", f"The collection id: {cid} already exists")
        self.collections.create(cid)
        return {"StatusCode": 200, "CollectionArn": self._arn(cid), "FaceModelVersion": FACE_MODEL_VERSION}

    def op_DeleteCollection(self, req: dict) -> dict:  # noqa: N802
        collection = self._collection(req, create=False)
        self.collections.delete(collection.collection_id)
        return {"StatusCode": 200}

    def op_ListCollections(self, req: dict) -> dict:  # noqa: N802
        ids = self.collections.ids()
        return {"CollectionIds": ids, "FaceModelVersions": [FACE_MODEL_VERSION] * len(ids)}

    def op_DescribeCollection(self, req: dict) -> dict:  # noqa: N802
        c = self._collection(req, create=False)
        return {"FaceCount": len(c.faces), "FaceModelVersion": c.face_model_version, "UserCount": 0,
                "CollectionARN": self._arn(c.collection_id), "CreationTimestamp": c.created_at.timestamp()}

    def op_IndexFaces(self, req: dict) -> dict:  # noqa: N802
        collection = self._collection(req, create=True)
        image = self._image(req.get("Image"))
        self._attributes(req.get("DetectionAttributes"))
        faces = self._faces.detect(image)
        limit = int(req.get("MaxFaces") or len(faces) or 1)
        image_id = str(uuid.uuid4())
        records, out = [], []
        for face in faces[:limit]:
            record = FaceRecord(face_id=str(uuid.uuid4()), image_id=image_id,
                                external_image_id=req.get("ExternalImageId"), bounding_box=self._box(image, face),
                                confidence=face.score * 100,
                                embedding=[round(float(v), 6) for v in self._faces.embed(image, face)])
            records.append(record)
            out.append({"Face": collection.face_view(record), "FaceDetail": self._detail(image, face)})
        self.collections.add_faces(collection.collection_id, records)
        unindexed = [{"Reasons": ["EXCEEDS_MAX_FACES"], "FaceDetail": self._detail(image, f)} for f in faces[limit:]]
        return {"FaceRecords": out, "FaceModelVersion": collection.face_model_version, "UnindexedFaces": unindexed}

    def _found(self, collection, embedding: np.ndarray, req: dict, exclude: str | None = None) -> list[dict]:
        threshold = float(req.get("FaceMatchThreshold", 80.0))
        limit = int(req.get("MaxFaces") or 100)
        found: list[dict] = []
        for cosine, record in collection.matches(embedding, exclude):
            similarity = similarity_percent(cosine)
            if similarity >= threshold and len(found) < limit:
                found.append({"Similarity": similarity, "Face": collection.face_view(record)})
        return found

    def op_SearchFacesByImage(self, req: dict) -> dict:  # noqa: N802
        collection = self._collection(req, create=True)
        image = self._image(req.get("Image"))
        faces = self._faces.detect(image)
        if not faces:
            raise _no_face()
        embedding = self._faces.embed(image, faces[0])
        return {"SearchedFaceBoundingBox": self._box(image, faces[0]), "SearchedFaceConfidence": faces[0].score * 100,
                "FaceMatches": self._found(collection, embedding, req), "FaceModelVersion": FACE_MODEL_VERSION}

    def op_SearchFaces(self, req: dict) -> dict:  # noqa: N802
        collection = self._collection(req, create=True)
        face_id = req.get("FaceId")
        record = next((f for f in collection.faces if f.face_id == face_id), None)
        if record is None:
            raise AwsError("InvalidParameterException", f"face id {face_id} is not in the collection")
        embedding = np.asarray(record.embedding, np.float32)
        return {"SearchedFaceId": face_id, "FaceMatches": self._found(collection, embedding, req, exclude=face_id),
                "FaceModelVersion": FACE_MODEL_VERSION}

    def op_ListFaces(self, req: dict) -> dict:  # noqa: N802
        collection = self._collection(req, create=True)
        wanted = set(req.get("FaceIds") or [])
        faces = [f for f in collection.faces if not wanted or f.face_id in wanted]
        start = int(req.get("NextToken") or 0) if str(req.get("NextToken") or "0").isdigit() else 0
        size = int(req.get("MaxResults") or 1000)
        page = faces[start:start + size]
        out = {"Faces": [collection.face_view(f) for f in page], "FaceModelVersion": FACE_MODEL_VERSION}
        if start + size < len(faces):
            out["NextToken"] = str(start + size)
        return out

    def op_DeleteFaces(self, req: dict) -> dict:  # noqa: N802
        collection = self._collection(req, create=True)
        ids = [i for i in req.get("FaceIds") or [] if isinstance(i, str)]
        return {"DeletedFaces": self.collections.delete_faces(collection.collection_id, ids)}
