"""``mxnet`` inside a Lambda's process: importable, as on the device, but not usable.

The DeepLens had MXNet installed and many Lambdas ``import mxnet as mx`` without using it. Here the import
succeeds; ``mx.nd``, ``mx.gluon``, ``from mxnet import nd``, ``import mxnet.gluon.nn`` ... resolve to stand-ins,
and the first real use of any of them (a call, an attribute, an index, arithmetic, iteration) raises
``MXNetUnavailableError`` naming what was used and the way models load in the simulator.
"""

from __future__ import annotations

import sys
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

__path__: list[str] = []  # a package, so that ``import mxnet.gluon`` resolves through the finder below
__version__ = "unavailable"


class MXNetUnavailableError(ImportError):
    """MXNet code ran in the simulator, which has no MXNet."""


def _error(what: str) -> MXNetUnavailableError:
    return MXNetUnavailableError(
        f"MXNet is not available in the DeepLens simulator ({what} was used). Models load through "
        "awscam.Model('/opt/awscam/artifacts/<model>.xml', {'GPU': 1}) or mo.optimize(<name>, <width>, <height>); "
        "the simulator reads the MXNet model files (<name>-symbol.json + <name>-NNNN.params) itself.")


class Unavailable:
    """A name under ``mxnet``: any use raises ``MXNetUnavailableError``."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __repr__(self) -> str:
        return f"<{self._name}: MXNet is not available in the DeepLens simulator>"

    def _fail(self, *args, **kwargs):
        raise _error(self._name)

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        raise _error(f"{self._name}.{attr}")

    __call__ = __getitem__ = __setitem__ = __iter__ = __len__ = __setattr__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail


def __getattr__(name: str):
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)
    return Unavailable(f"mxnet.{name}")


class _SubmoduleStandIn(ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Unavailable(f"{self.__name__}.{name}")


class _Submodules(MetaPathFinder, Loader):
    """``import mxnet.gluon.nn`` and the like: stand-in modules whose every name is ``Unavailable``."""

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname.startswith("mxnet.") and sys.modules.get("mxnet") is _this():
            return ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _SubmoduleStandIn(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module) -> None:
        return None


def _this() -> ModuleType:
    return sys.modules[__name__]


if not any(isinstance(f, _Submodules) for f in sys.meta_path):
    sys.meta_path.append(_Submodules())
