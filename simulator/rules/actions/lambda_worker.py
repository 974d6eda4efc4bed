"""The process a local Lambda handler runs in (started by ``lambdas.LambdaWorker``; standard library only).

Usage: ``python -u lambda_worker.py HANDLER_FILE HANDLER_NAME FUNCTION_NAME FUNCTION_ARN TIMEOUT_S``

It imports the handler file once (a warm Lambda), then reads one JSON request per line on stdin
(``{"id", "event", "requestId"}``) and answers each on stdout, on a line that starts with ``MARK``. Everything
else the handler prints passes through as plain lines (the engine logs them).
"""

import os
import sys

if __name__ == "__main__":
    # the handler's folder first, never this package's (its module names must not shadow the handler's imports)
    sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[1]))

import importlib.util  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

MARK = "\x1edeeplens-rules-lambda\x1f"


class LambdaContext:
    """The ``context`` AWS Lambda passes to a Python handler (the commonly used attributes)."""

    def __init__(self, name: str, arn: str, request_id: str, timeout_s: float) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = f"deeplens-sim/{os.getpid()}"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _reply(out, message: dict) -> None:
    sys.stdout.flush()
    out.write("\n" + MARK + json.dumps(message, default=str) + "\n")
    out.flush()


def _error(exc: BaseException) -> dict:
    return {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)}


def main(argv: list) -> int:
    path, handler_name, name, arn, timeout_s = argv[1], argv[2], argv[3], argv[4], float(argv[5])
    out = sys.stdout
    try:
        module_name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        handler = getattr(module, handler_name)
    except BaseException as exc:  # noqa: BLE001 - reported to the engine as an init error
        _reply(out, {"id": 0, "init": True, **_error(exc)})
        return 1
    _reply(out, {"id": 0, "ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        context = LambdaContext(name, arn, request["requestId"], timeout_s)
        try:
            result = handler(request["event"], context)
            answer = {"ok": True, "result": result}
        except BaseException as exc:  # noqa: BLE001 - the handler's failure is the invocation's answer
            answer = _error(exc)
        _reply(out, {"id": request["id"], **answer})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
