"""OpenVINO imported without its model-conversion API (start-up), which still loads the moment it is used.

Each case runs in a fresh interpreter: OpenVINO is already imported in the test process."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import json, sys
sys.path.insert(0, {root!r})
if {defer}:
    from simulator.inference import lazy_ovc
    lazy_ovc.defer()
import openvino as ov
out = {{"at_import": "openvino.tools.ovc" in sys.modules, "version": bool(ov.__version__)}}
{then}
print(json.dumps(out))
"""


def probe(defer: bool, then: str = "") -> dict:
    code = PROBE.format(root=str(ROOT), defer=defer, then=then)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_openvino_alone_imports_its_conversion_api():
    assert probe(defer=False)["at_import"]  # what defer() saves: without it, every process pays for it


def test_deferred_conversion_api_loads_on_first_use_and_converts():
    got = probe(defer=True, then="""
from openvino.tools.ovc import convert_model as real
out["from_import_is_the_api"] = __import__("openvino").convert_model is real
import onnx, tempfile, os
from onnx import TensorProto, helper
graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
path = os.path.join(tempfile.mkdtemp(), "relu.onnx")
onnx.save(helper.make_model(graph), path)
model = ov.convert_model(path)  # a real conversion of a real ONNX file
out["converted"] = [list(o.get_partial_shape().to_shape()) for o in model.outputs]
out["finder_left"] = any(type(f).__name__ == "_Deferral" for f in sys.meta_path)
try:
    ov.no_such_name
except AttributeError as exc:
    out["missing"] = str(exc)
""")
    assert not got["at_import"] and got["version"]
    assert got["from_import_is_the_api"] and got["converted"] == [[1, 3]]
    assert not got["finder_left"]
    assert got["missing"] == "module 'openvino' has no attribute 'no_such_name'"


def test_from_openvino_import_convert_model_works_first():
    got = probe(defer=True, then="""
from openvino import convert_model
out["callable"] = callable(convert_model)
out["loaded"] = "openvino.tools.ovc" in sys.modules
""")
    assert not got["at_import"] and got["callable"] and got["loaded"]


def test_defer_after_openvino_was_imported_changes_nothing():
    got = probe(defer=False, then="""
from simulator.inference import lazy_ovc
lazy_ovc.defer()
out["finders"] = sum(type(f).__name__ == "_Deferral" for f in sys.meta_path)
""")
    assert got["at_import"] and got["finders"] == 0
