"""Imports a Lambda the way the simulator's Lambda host does, with stand-in device modules.

``python run_lambda.py LAMBDA_FILE OUT_DIR ARTIFACTS``: installs the stand-in ``awscam``/``greengrasssdk``
and the simulator's ``mxnet`` in ``sys.modules``, the import and download guards, modernises the Lambda into
OUT_DIR, imports it (its module-level code runs, as on the device), then exits.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(lambda_file: Path, out_dir: Path, artifacts: Path) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    sys.path.insert(0, str(HERE))
    import awscam
    import greengrasssdk

    sys.path[:] = [entry for entry in sys.path if entry != str(HERE)]
    from simulator.device import mxnet
    from simulator.runtime.py2 import install_download_guard, install_import_guards, prepare_lambda

    sys.modules.update(awscam=awscam, greengrasssdk=greengrasssdk, mxnet=mxnet)
    install_import_guards(lambda_file.parent, extra_dirs=(out_dir,))
    install_download_guard(artifacts)
    prepared = prepare_lambda(lambda_file, out_dir)
    sys.path.insert(0, str(prepared.sys_path))
    spec = importlib.util.spec_from_file_location(prepared.path.stem, prepared.path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[prepared.path.stem] = module
    spec.loader.exec_module(module)
    return 0


if __name__ == "__main__":
    code = main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]), Path(sys.argv[3]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # as the host does: Timer threads the Lambda started do not keep the process alive
