"""S3 buckets kept as plain files: ``s3/<bucket>/<key>`` (a key that is no safe relative path goes to
``s3-keys/<bucket>/<sha256 of key>``) and ``s3.json`` for what files cannot say (region, content type,
metadata, ETag). Files dropped into ``s3/<bucket>/`` by hand are loaded as objects too."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
import shutil
from pathlib import Path, PurePosixPath

from .naming import bucket_name_problem
from .stored import BucketRecord, ObjectRecord, S3Manifest, read_json_model, write_atomic, write_json

log = logging.getLogger(__name__)

_PART = re.compile(r"^\..+\.\d+\.part$")


def _safe_paths(keys: list[str]) -> dict[str, str]:
    """Key -> relative file path for keys that map to a file path without clashing ("a" and "a/b" clash)."""
    folders: set[str] = set()
    for key in keys:
        parts = key.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    out = {}
    for key in keys:
        parts = key.split("/")
        if key in folders or any(p in ("", ".", "..") or "\x00" in p or "\\" in p for p in parts) or \
                _PART.match(parts[-1]):
            continue
        out[key] = key
    return out


def _file_for(bucket: str, key: str, safe: dict[str, str]) -> str:
    if key in safe:
        return f"s3/{bucket}/{safe[key]}"
    return f"s3-keys/{bucket}/{hashlib.sha256(key.encode()).hexdigest()}"


def export_s3(s3, state_dir: Path) -> int:
    """Write every bucket's objects under ``state_dir`` (unchanged files are kept, deleted objects removed).
    Returns the number of objects written anew."""
    old = _manifest(state_dir)
    manifest = S3Manifest()
    written = 0
    for bucket in (b["Name"] for b in s3.list_buckets().get("Buckets", [])):
        listed = [o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                  for o in page.get("Contents", [])]
        safe = _safe_paths([o["Key"] for o in listed])
        before = old.buckets.get(bucket, BucketRecord(region=""))
        region = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        record = BucketRecord(region=region)
        for obj in listed:
            key, etag = obj["Key"], obj.get("ETag", "").strip('"')
            file = _file_for(bucket, key, safe)
            prior = before.objects.get(key)
            path = state_dir / file
            if prior and prior.etag == etag and prior.file == file and path.is_file() and \
                    path.stat().st_size == obj.get("Size"):
                record.objects[key] = prior
                continue
            got = s3.get_object(Bucket=bucket, Key=key)
            write_atomic(path, got["Body"].read())
            record.objects[key] = ObjectRecord(file=file, etag=etag, content_type=got.get("ContentType"),
                                               metadata=got.get("Metadata") or {})
            written += 1
        manifest.buckets[bucket] = record
    _remove_stale(state_dir, manifest)
    write_json(state_dir / "s3.json", manifest)
    return written


def _remove_stale(state_dir: Path, manifest: S3Manifest) -> None:
    """Delete files of objects (and buckets) that no longer exist, and folders left empty."""
    keep = {state_dir / rec.file for b in manifest.buckets.values() for rec in b.objects.values()}
    for root in (state_dir / "s3", state_dir / "s3-keys"):
        if not root.is_dir():
            continue
        for bucket_dir in root.iterdir():
            if bucket_dir.is_dir() and bucket_dir.name not in manifest.buckets:
                shutil.rmtree(bucket_dir)
        for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_file() and path not in keep:
                path.unlink()
            elif path.is_dir() and path.parent != root and not any(path.iterdir()):
                path.rmdir()


def _manifest(state_dir: Path) -> S3Manifest:
    path = state_dir / "s3.json"
    return read_json_model(path, S3Manifest) if path.is_file() else S3Manifest()


def import_s3(s3_for_region, state_dir: Path, default_region: str) -> int:
    """Create the buckets and objects found under ``state_dir``; ``s3_for_region(region)`` gives a client.
    Returns the number of objects loaded."""
    manifest = _manifest(state_dir)
    root = state_dir / "s3"
    buckets = set(manifest.buckets) | ({p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set())
    count = 0
    for bucket in sorted(buckets):
        problem = bucket_name_problem(bucket)
        if problem:
            log.warning("%s: not loaded: %s", root / bucket, problem)
            continue
        record = manifest.buckets.get(bucket, BucketRecord(region=default_region))
        region = record.region or default_region
        s3 = s3_for_region(region)
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **config)
        files: dict[str, Path] = {}
        if (root / bucket).is_dir():
            for path in (root / bucket).rglob("*"):
                if path.is_file() and not _PART.match(path.name):
                    files[PurePosixPath(path.relative_to(root / bucket).as_posix()).as_posix()] = path
        for key, rec in record.objects.items():
            if rec.file.startswith("s3-keys/") and (state_dir / rec.file).is_file():
                files[key] = state_dir / rec.file
        for key, path in sorted(files.items()):
            known = record.objects.get(key)
            content_type = (known.content_type if known else None) or mimetypes.guess_type(key)[0] or \
                "binary/octet-stream"
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type,
                          Metadata=known.metadata if known else {})
            count += 1
    return count
