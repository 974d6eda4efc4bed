"""Checks a Lambda file before it is deployed: it exists and it compiles (errors name file and line)."""

from __future__ import annotations

from pathlib import Path

from simulator.errors import LambdaError


def check_lambda_file(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise LambdaError(f"Lambda file not found: {path}")
    try:
        source = path.read_bytes()
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        from simulator.runtime.py2 import explain_syntax_error

        error = explain_syntax_error(path, exc)  # None: Python 2, modernised when the Lambda loads
        if error is not None:
            raise error from None
    except (OSError, ValueError) as exc:
        raise LambdaError(f"cannot read Lambda file {path}: {exc}") from exc
    return path.resolve()
