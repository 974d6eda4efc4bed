"""Entry point of a Lambda process: ``python -m simulator.runtime.host`` (the supervisor starts it).

It makes the device's modules importable (ahead of any copies bundled beside the Lambda), redirects the
project-stream FIFO, then imports the Lambda as Greengrass did — its module-level code starts its loop — and
stays alive afterwards, as a long-lived Lambda did. An exception that escapes the import, or that ends the
last working thread of the Lambda, ends the process with status 1 so the supervisor restarts it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

EXIT_CRASH = 1


def _install_device_modules() -> None:
    from simulator.device import DeepLens_Kinesis_Video, awscam, greengrasssdk, mo, mxnet

    sys.modules["awscam"] = awscam
    sys.modules["mo"] = mo
    sys.modules["greengrasssdk"] = greengrasssdk
    sys.modules["mxnet"] = mxnet  # on the device, often imported and never used
    sys.modules["DeepLens_Kinesis_Video"] = DeepLens_Kinesis_Video


def _numpy_compat() -> None:
    """Aliases numpy 2 removed that device-era Lambdas still use (``np.int0``, ``np.float``, ...)."""
    import numpy as np

    for old, new in (("int0", np.intp), ("uint0", np.uintp), ("float", float), ("int", int),
                     ("bool", bool), ("object", object), ("str", str)):
        if old not in np.__dict__:
            setattr(np, old, new)


def _watch_parent(parent: int) -> None:
    """End this process if the simulator that started it is gone (no orphans, even after a kill -9)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _shutdown(*_args) -> None:
    """SIGTERM/SIGINT from the supervisor: finish the Kinesis Video segments being written (3 s at most; on a
    thread, so a lock the interrupted main thread holds cannot block it), then leave."""
    kvs = sys.modules.get("DeepLens_Kinesis_Video")
    if kvs is not None and hasattr(kvs, "stop_all"):
        finisher = threading.Thread(target=kvs.stop_all, kwargs={"timeout": 2.0}, daemon=True)
        finisher.start()
        finisher.join(3.0)
    os._exit(0)  # nothing else to flush: the core resets the Lambda's counters on every deploy


class _Crashes:
    """Decides when an exception that ends a Lambda thread ends the Lambda: when no thread the Lambda started
    (nor its import, still running its loop in the main thread) is left working."""

    def __init__(self) -> None:
        self.baseline: set[threading.Thread] = set()
        self.importing = True
        self.crashed = False
        self._lock = threading.Lock()

    def _working(self, ending: threading.Thread | None = None) -> bool:
        return any(t not in self.baseline and t is not ending and t is not threading.main_thread()
                   and not t.daemon and t.is_alive() for t in threading.enumerate())

    def hook(self, args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread else "?"
        print(f"Exception in Lambda thread {name}:", file=sys.stderr)
        traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback, file=sys.stderr)
        with self._lock:
            self.crashed = True
            if self.importing or self._working(args.thread):
                return
        print("the Lambda has no working thread left: ending its process", file=sys.stderr)
        sys.stderr.flush()
        os._exit(EXIT_CRASH)

    def finish_import(self) -> bool:
        """The import returned; True if a thread crashed meanwhile and none is left working."""
        with self._lock:
            self.importing = False
            return self.crashed and not self._working()


_crashes = _Crashes()


def load_lambda(path: Path):
    """Import the Lambda file as a module named after it (so its loop starts, as on the device)."""
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    from simulator.inference import lazy_ovc

    lazy_ovc.defer()  # before anything imports OpenVINO: its model-conversion API loads on first use
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    from simulator.device import greengrasssdk
    from simulator.ipc import context
    from simulator.runtime import py2, redirects

    ctx = context.current()
    if ctx.lambda_file is None:
        print("no Lambda file given", file=sys.stderr)
        return 2
    lambda_file = ctx.lambda_file.resolve()
    threading.Thread(target=_watch_parent, args=(os.getppid(),), name="simulator-watch", daemon=True).start()
    signal.signal(signal.SIGTERM, _shutdown)
    signal.signal(signal.SIGINT, _shutdown)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
    os.environ.setdefault("AWS_LAMBDA_FUNCTION_NAME", lambda_file.stem)
    os.environ.setdefault("MY_FUNCTION_ARN",
                          f"arn:aws:lambda:{os.environ['AWS_DEFAULT_REGION']}:000000000000:function:{lambda_file.stem}")
    _numpy_compat()
    _install_device_modules()
    redirects.install(ctx)
    modernised = ctx.run_dir / "lambda-py3"  # a Python 2 Lambda's modernised copy (the original is never changed)
    py2.install_import_guards(lambda_file.parent, extra_dirs=(modernised,))
    py2.install_download_guard(ctx.artifacts)
    prepared = py2.prepare_lambda(lambda_file, modernised)
    threading.excepthook = _crashes.hook
    sys.path.insert(0, str(prepared.sys_path))
    sys.argv = [str(lambda_file)]
    _crashes.baseline = set(threading.enumerate()) - {threading.main_thread()}  # the simulator's own threads
    module = load_lambda(prepared.path)  # a crash here propagates: traceback + exit status 1
    if _crashes.finish_import():
        return EXIT_CRASH
    for attr in ("function_handler", "lambda_handler", "handler"):
        handler = getattr(module, attr, None)
        if callable(handler):
            greengrasssdk.local_functions.setdefault(lambda_file.stem, handler)
            greengrasssdk.local_functions.setdefault(os.environ["AWS_LAMBDA_FUNCTION_NAME"], handler)
            break
    while True:  # a long-lived Lambda stays loaded, its threads doing the work
        time.sleep(3600)


if __name__ == "__main__":
    if sys.version_info < (3, 11) and sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # what -P does on 3.11+: the Lambda's folder goes on sys.path where the host puts it
    try:
        code = main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_CRASH
    except BaseException:  # noqa: BLE001 - reported, then the supervisor restarts us
        traceback.print_exc()
        code = EXIT_CRASH
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(code)
