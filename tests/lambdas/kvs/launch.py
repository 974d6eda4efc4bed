"""Starts a Lambda process exactly as ``python -m simulator.runtime.host`` does, with ``DeepLens_Kinesis_Video``
installed among the device modules (as the host's ``_install_device_modules`` does once it lists it)."""

import os
import sys
import traceback

from simulator.runtime import host

_install_others = host._install_device_modules


def _install_device_modules():
    _install_others()
    from simulator.device import DeepLens_Kinesis_Video

    sys.modules["DeepLens_Kinesis_Video"] = DeepLens_Kinesis_Video


host._install_device_modules = _install_device_modules

if __name__ == "__main__":
    del sys.path[0]  # this folder: the host puts the Lambda's own folder on sys.path
    try:
        code = host.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else host.EXIT_CRASH
    except BaseException:  # noqa: BLE001 - reported, then the supervisor restarts us
        traceback.print_exc()
        code = host.EXIT_CRASH
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(code)
