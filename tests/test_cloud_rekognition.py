"""The local Rekognition and Polly through real boto3 clients: bundled models on scikit-image's photographs,
collections kept on disk, espeak-ng speech decoded back."""

from __future__ import annotations

import io
import logging
import shutil

import boto3
import cv2
import numpy as np
import pytest
import skimage.data
from botocore.exceptions import ClientError

from simulator.cloud import LocalCloud
from simulator.cloud.polly import Polly
from simulator.inference.store import ensure_model
from tests.support.needs import unavailable


def jpeg(rgb: np.ndarray) -> bytes:
    if rgb.ndim == 2:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    return cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


ASTRONAUT = skimage.data.astronaut()
# the astronaut shifted (cut off at the top left) and rescaled by 1.3
ASTRONAUT_CROP = cv2.resize(ASTRONAUT[30:420, 80:470], None, fx=1.3, fy=1.3, interpolation=cv2.INTER_CUBIC)


def needs_models(*names: str) -> None:
    """Fetch the bundled models here, in the test (offline: skipped on a developer's machine, failed in CI)."""
    for name in names or ("blazeface-short", "sface"):
        ensure_model(name, progress=False)


@pytest.fixture
def cloud(tmp_path):
    with LocalCloud(tmp_path / "cloud") as c:
        yield c


@pytest.fixture
def rek(cloud):
    return boto3.client("rekognition", endpoint_url=cloud.endpoint, region_name="us-east-1",
                        aws_access_key_id="k", aws_secret_access_key="s")


@pytest.mark.network
def test_detect_faces_finds_the_astronaut(rek):
    needs_models()
    faces = rek.detect_faces(Image={"Bytes": jpeg(ASTRONAUT)})["FaceDetails"]
    assert len(faces) == 1
    face = faces[0]
    box = face["BoundingBox"]
    # her face is in the upper middle of the 512x512 photograph (about x 180-275, y 75-175 px)
    assert 0.30 < box["Left"] < 0.40 and 0.10 < box["Top"] < 0.20 and 0.12 < box["Width"] < 0.26
    assert face["Confidence"] > 80
    marks = {m["Type"]: (m["X"], m["Y"]) for m in face["Landmarks"]}
    assert marks["eyeLeft"][0] < marks["nose"][0] < marks["eyeRight"][0]
    for x, y in marks.values():
        assert box["Left"] < x < box["Left"] + box["Width"] and box["Top"] < y < box["Top"] + box["Height"]
    assert abs(face["Pose"]["Roll"]) < 20 and 0 < face["Quality"]["Brightness"] <= 100


@pytest.mark.network
def test_detect_faces_finds_none_in_a_face_free_photo(rek):
    needs_models()
    assert rek.detect_faces(Image={"Bytes": jpeg(skimage.data.coffee())})["FaceDetails"] == []


@pytest.mark.network
def test_detect_labels_finds_a_person_with_a_box(cloud, rek):
    needs_models("ssd-mobilenet-v2-coco")
    client = boto3.client("s3", endpoint_url=cloud.endpoint, region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="s")
    client.put_object(Bucket="photos", Key="astronaut.jpg", Body=jpeg(ASTRONAUT))
    labels = rek.detect_labels(Image={"S3Object": {"Bucket": "photos", "Name": "astronaut.jpg"}})["Labels"]
    person = next(label for label in labels if label["Name"] == "Person")
    assert person["Confidence"] >= 55 and person["Instances"]
    box = person["Instances"][0]["BoundingBox"]
    assert box["Left"] < 0.35 and box["Left"] + box["Width"] > 0.55 and box["Top"] < 0.15  # covers her face
    cat = rek.detect_labels(Image={"Bytes": jpeg(skimage.data.chelsea())})["Labels"]
    assert "Person" not in [label["Name"] for label in cat] and "Cat" in [label["Name"] for label in cat]


def test_bad_images_get_aws_errors(cloud, rek):
    for image, code in (({"Bytes": b"GIF89a not a photo"}, "InvalidImageFormatException"),
                        ({"S3Object": {"Bucket": "photos", "Name": "missing.jpg"}}, "InvalidS3ObjectException")):
        with pytest.raises(ClientError) as err:
            rek.detect_faces(Image=image)
        assert err.value.response["Error"]["Code"] == code
    assert cloud.client("s3").list_buckets()["Buckets"] == []  # reading an image creates no bucket


@pytest.mark.network
def test_collection_matches_the_same_face_only(cloud, rek):
    needs_models()
    rek.create_collection(CollectionId="crew")
    with pytest.raises(ClientError) as err:
        rek.create_collection(CollectionId="crew")
    assert err.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    indexed = rek.index_faces(CollectionId="crew", Image={"Bytes": jpeg(ASTRONAUT)}, ExternalImageId="eileen")
    (record,) = indexed["FaceRecords"]
    face_id = record["Face"]["FaceId"]

    found = rek.search_faces_by_image(CollectionId="crew", Image={"Bytes": jpeg(ASTRONAUT_CROP)})
    assert [(m["Face"]["FaceId"], m["Face"]["ExternalImageId"]) for m in found["FaceMatches"]] == [(face_id, "eileen")]
    assert found["FaceMatches"][0]["Similarity"] >= 90

    other = rek.search_faces_by_image(CollectionId="crew", Image={"Bytes": jpeg(skimage.data.camera())})
    assert other["SearchedFaceConfidence"] > 50 and other["FaceMatches"] == []  # a face, but another man's
    with pytest.raises(ClientError) as err:  # the cat: no face to search with
        rek.search_faces_by_image(CollectionId="crew", Image={"Bytes": jpeg(skimage.data.chelsea())})
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"

    assert [f["FaceId"] for f in rek.list_faces(CollectionId="crew")["Faces"]] == [face_id]
    assert rek.search_faces(CollectionId="crew", FaceId=face_id)["FaceMatches"] == []
    assert rek.describe_collection(CollectionId="crew")["FaceCount"] == 1
    assert "crew" in rek.list_collections()["CollectionIds"]
    assert (cloud.state_dir / "rekognition" / "collections" / "crew.json").is_file()
    assert rek.delete_faces(CollectionId="crew", FaceIds=[face_id])["DeletedFaces"] == [face_id]
    assert rek.list_faces(CollectionId="crew")["Faces"] == []
    rek.delete_collection(CollectionId="crew")
    with pytest.raises(ClientError) as err:
        rek.describe_collection(CollectionId="crew")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.network
def test_compare_faces_and_celebrities(rek, caplog):
    needs_models()
    caplog.set_level(logging.INFO, logger="simulator.cloud")
    compared = rek.compare_faces(SourceImage={"Bytes": jpeg(ASTRONAUT)}, TargetImage={"Bytes": jpeg(ASTRONAUT_CROP)})
    assert len(compared["FaceMatches"]) == 1 and compared["FaceMatches"][0]["Similarity"] >= 90
    celebrities = rek.recognize_celebrities(Image={"Bytes": jpeg(ASTRONAUT)})
    assert celebrities["CelebrityFaces"] == [] and len(celebrities["UnrecognizedFaces"]) == 1
    assert any("no celebrity database" in r.getMessage() for r in caplog.records)
    rek.detect_text(Image={"Bytes": jpeg(ASTRONAUT)})  # not answered locally: moto's canned text, said so
    assert any("DetectText" in r.getMessage() and "canned" in r.getMessage() for r in caplog.records)


@pytest.mark.network
def test_collections_survive_a_restart(tmp_path):
    needs_models()
    with LocalCloud(tmp_path) as first:
        rek = boto3.client("rekognition", endpoint_url=first.endpoint, region_name="us-east-1",
                           aws_access_key_id="k", aws_secret_access_key="s")
        face_id = rek.index_faces(CollectionId="door", Image={"Bytes": jpeg(ASTRONAUT)})["FaceRecords"][0]["Face"]
    with LocalCloud(tmp_path) as second:
        rek = boto3.client("rekognition", endpoint_url=second.endpoint, region_name="us-east-1",
                           aws_access_key_id="k", aws_secret_access_key="s")
        found = rek.search_faces_by_image(CollectionId="door", Image={"Bytes": jpeg(ASTRONAUT_CROP)})
        assert [m["Face"]["FaceId"] for m in found["FaceMatches"]] == [face_id["FaceId"]]
        assert second.snapshot().collections[0].face_count == 1


def test_polly_speaks_with_espeak(cloud):
    if shutil.which("espeak-ng") is None:
        unavailable("espeak-ng", "not installed (Debian: apt-get install espeak-ng)")
    import soundfile
    polly = boto3.client("polly", endpoint_url=cloud.endpoint, region_name="us-east-1",
                         aws_access_key_id="k", aws_secret_access_key="s")
    mp3 = polly.synthesize_speech(Text="A person is at the door.", OutputFormat="mp3", VoiceId="Joanna")
    assert mp3["ContentType"] == "audio/mpeg"
    samples, rate = soundfile.read(io.BytesIO(mp3["AudioStream"].read()))
    assert rate == 22050 and len(samples) / rate > 0.8 and np.sqrt(np.mean(samples ** 2)) > 0.01
    pcm = polly.synthesize_speech(Text="A person is at the door.", OutputFormat="pcm", VoiceId="Matthew",
                                  SampleRate="8000")
    raw = np.frombuffer(pcm["AudioStream"].read(), "<i2")
    assert pcm["ContentType"] == "audio/pcm" and len(raw) / 8000 > 0.8 and np.abs(raw).max() > 1000
    ogg = polly.synthesize_speech(Text="Hallo", OutputFormat="ogg_vorbis", VoiceId="Hans")["AudioStream"].read()
    assert ogg[:4] == b"OggS"
    with pytest.raises(ClientError) as err:
        polly.synthesize_speech(Text="x", OutputFormat="pcm", VoiceId="Joanna", SampleRate="44100")
    assert err.value.response["Error"]["Code"] == "InvalidSampleRateException"


def test_polly_without_espeak_answers_a_silent_clip(caplog):
    caplog.set_level(logging.INFO, logger="simulator.cloud")
    audio, fmt = Polly(espeak="no-such-espeak-binary").synthesize({"Text": "hello", "OutputFormat": "pcm"})
    samples = np.frombuffer(audio, "<i2")
    assert fmt == "pcm" and len(samples) > 0 and not samples.any()
    assert any("espeak-ng is not installed" in r.getMessage() for r in caplog.records)
