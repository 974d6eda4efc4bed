"""Faces for the local Rekognition: found by the bundled BlazeFace (short range), described by its keypoints,
and embedded by the bundled SFace model (OpenCV zoo) after alignment to SFace's template.

Detection runs on the whole image (letterboxed to a square) and on overlapping tiles of half and a quarter of
its longer side (tiles of at least 160 px), so faces a few metres from a 4 MP camera are found too; a tile's
detections that touch its inner edges are dropped (the neighbouring tile sees that face whole), tiles ask for a
higher score than the whole image, and all are merged by weighted non-maximum suppression. Models load on
first use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..inference.substitutes import face as blazeface
from .bundled import BundledModel

MIN_SCORE = 0.5            # MediaPipe's threshold for this model, on the whole image
TILE_MIN_SCORE = 0.75      # on tiles, where background patches seen close up fool it more often
MIN_TILE = 160             # smallest tile side in pixels (below it tiling only upsamples)
LEVELS = 4                 # the whole image, then tiles of 1/2, 1/4 and 1/8 of its longer side
EDGE = 0.02                # a detection this close to an inner tile edge is left to the neighbouring tile
EMBED_SIZE = 112
# SFace's alignment template (OpenCV FaceRecognizerSF): right eye, left eye, nose tip; the mouth centre is the
# middle of the template's two mouth corners (BlazeFace gives the centre, not the corners).
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [56.1396, 92.2848]], np.float32)
SAME_PERSON_COSINE = 0.363  # OpenCV zoo's published SFace threshold


@dataclass(frozen=True)
class Face:
    """A face in an image: box and keypoints in pixels, detector score in [0, 1].

    Keypoints (BlazeFace order): the eye on the image's left, the other eye, nose tip, mouth centre, the ear
    on the image's left, the other ear."""

    box: tuple[float, float, float, float]   # xmin, ymin, xmax, ymax
    score: float
    keypoints: np.ndarray                    # [6, 2]

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


def _pick(outputs: dict[str, np.ndarray], part: str) -> np.ndarray:
    return next(v for k, v in outputs.items() if part in k)


class FaceModels:
    """Face detection and embeddings, loaded lazily and shared by all requests."""

    def __init__(self) -> None:
        self._detector = BundledModel("blazeface-short")
        self._embedder = BundledModel("sface")

    # --- detection ------------------------------------------------------------------------------------

    def _level(self, image: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows (box 4 + keypoints 12, image pixels) and scores of the faces found in square tiles of ``side``
        pixels overlapping by half (one tile, letterboxed, when ``side`` covers the whole image)."""
        h, w = image.shape[:2]
        size = blazeface.INPUT_SIZE
        scale = size / side
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.cvtColor(cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        padded = np.zeros((max(sh, size), max(sw, size), 3), np.float32) - 1.0
        padded[:sh, :sw] = small.astype(np.float32) / 127.5 - 1.0
        whole = side >= max(h, w)
        step = size // 2
        xs = sorted({*range(0, max(sw - size, 0) + 1, step), max(sw - size, 0)})
        ys = sorted({*range(0, max(sh - size, 0) + 1, step), max(sh - size, 0)})
        rows, scores = [], []
        for y0 in ys:
            for x0 in xs:
                r, sc = self._tile(padded[y0:y0 + size, x0:x0 + size], MIN_SCORE if whole else TILE_MIN_SCORE)
                if not whole:  # drop faces cut by an inner tile edge: the neighbouring tile sees them whole
                    inner = ((r[:, 0] > EDGE) | (x0 == 0)) & ((r[:, 1] > EDGE) | (y0 == 0)) & \
                        ((r[:, 2] < 1 - EDGE) | (x0 + size >= sw)) & ((r[:, 3] < 1 - EDGE) | (y0 + size >= sh))
                    r, sc = r[inner], sc[inner]
                r = r * size
                r[:, 0::2] += x0
                r[:, 1::2] += y0
                rows.append(r / scale)
                scores.append(sc)
        return np.concatenate(rows).astype(np.float32), np.concatenate(scores).astype(np.float32)

    def _tile(self, tile: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
        """Rows normalised to the tile, and scores, of one 128x128 RGB tile in [-1, 1]."""
        out = self._detector.run(np.ascontiguousarray(tile)[None])
        reg: np.ndarray = _pick(out, "regressors").reshape(-1, 16)
        logits = _pick(out, "classificators").reshape(-1).astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -blazeface.SCORE_CLIP, blazeface.SCORE_CLIP)))
        keep = scores >= min_score
        reg, scores = reg[keep] / blazeface.SCALE, scores[keep]
        centre = blazeface.anchors()[keep]
        cx, cy = reg[:, 0] + centre[:, 0], reg[:, 1] + centre[:, 1]
        boxes = np.stack([cx - reg[:, 2] / 2, cy - reg[:, 3] / 2, cx + reg[:, 2] / 2, cy + reg[:, 3] / 2], axis=1)
        return np.concatenate([boxes, reg[:, 4:16] + np.tile(centre, 6)], axis=1), scores

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in a BGR image, largest first."""
        full = max(image.shape[:2])
        found = [self._level(image, full >> level) for level in range(LEVELS)
                 if level == 0 or (full >> level) >= MIN_TILE]
        rows = np.concatenate([r for r, _ in found])
        scores = np.concatenate([s for _, s in found])
        if not len(scores):
            return []
        merged, merged_scores = blazeface.nms(rows, scores, 0.3, weighted=True)
        faces = [Face((float(r[0]), float(r[1]), float(r[2]), float(r[3])), float(s), r[4:16].reshape(6, 2).copy())
                 for r, s in zip(merged, merged_scores, strict=True)]
        return sorted(faces, key=lambda f: f.area, reverse=True)

    # --- embeddings -----------------------------------------------------------------------------------

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The L2-normalised 128-float SFace embedding of ``face`` in the BGR ``image``."""
        matrix, _ = cv2.estimateAffinePartial2D(face.keypoints[:4].astype(np.float32), TEMPLATE, method=cv2.LMEDS)
        if matrix is None:  # degenerate keypoints: fall back to the box, squeezed to the template's size
            x0, y0, x1, y1 = face.box
            src = np.array([[x0, y0], [x1, y0], [x0, y1]], dtype=np.float32)
            matrix = cv2.getAffineTransform(src, np.array([[0, 0], [EMBED_SIZE, 0], [0, EMBED_SIZE]], dtype=np.float32))
        aligned = cv2.warpAffine(image, matrix, (EMBED_SIZE, EMBED_SIZE), flags=cv2.INTER_LINEAR)
        blob = aligned[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)  # RGB, 0..255, NCHW
        vector = next(iter(self._embedder.run(blob).values())).reshape(-1).astype(np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)


def similarity_percent(cosine: float) -> float:
    """Rekognition's 0-100 Similarity for an SFace cosine: piecewise linear, with SFace's published
    same-person threshold (0.363) at Rekognition's default FaceMatchThreshold (80); 1.0 -> 100, <= 0 -> 0."""
    if cosine <= 0:
        return 0.0
    if cosine < SAME_PERSON_COSINE:
        return 80.0 * cosine / SAME_PERSON_COSINE
    return min(100.0, 80.0 + 20.0 * (cosine - SAME_PERSON_COSINE) / (1.0 - SAME_PERSON_COSINE))


def pose_and_quality(image: np.ndarray, face: Face) -> tuple[dict[str, float], dict[str, float]]:
    """Rekognition's Pose (degrees, estimated from the keypoints: roll from the eye line, yaw from the nose
    between the ears, pitch from the nose between eyes and mouth) and Quality (Brightness: mean luminance of the
    face, 0-100; Sharpness: 100 * (1 - exp(-var(Laplacian) / 300)) on the face scaled to 112 px)."""
    k = face.keypoints
    eye_l, eye_r, nose, mouth, ear_l, ear_r = k
    roll = math.degrees(math.atan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0]))
    half_ears = max(abs(ear_r[0] - ear_l[0]) / 2, 1e-6)
    yaw = math.degrees(math.asin(float(np.clip((nose[0] - (ear_l[0] + ear_r[0]) / 2) / half_ears, -1, 1))))
    eyes_y = (eye_l[1] + eye_r[1]) / 2
    ratio = (nose[1] - eyes_y) / max(mouth[1] - eyes_y, 1e-6)
    frontal = (TEMPLATE[2, 1] - TEMPLATE[0, 1]) / (TEMPLATE[3, 1] - TEMPLATE[0, 1])
    pitch = -math.degrees(math.asin(float(np.clip(2 * (ratio - frontal), -1, 1))))
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in face.box)
    crop = image[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
    if crop.size == 0:
        brightness = sharpness = 0.0
    else:
        gray = cv2.cvtColor(cv2.resize(crop, (EMBED_SIZE, EMBED_SIZE)), cv2.COLOR_BGR2GRAY)
        brightness = float(gray.mean()) / 255 * 100
        sharpness = 100 * (1 - math.exp(-float(cv2.Laplacian(gray, cv2.CV_64F).var()) / 300))
    return ({"Roll": round(roll, 2), "Yaw": round(yaw, 2), "Pitch": round(pitch, 2)},
            {"Brightness": round(brightness, 2), "Sharpness": round(sharpness, 2)})
