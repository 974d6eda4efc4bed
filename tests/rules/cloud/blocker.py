"""Marks that it started, then waits until the test creates the file "release" in the event's folder."""

import pathlib
import time


def lambda_handler(event, context):
    folder = pathlib.Path(event["dir"])
    (folder / f"started-{event['n']}").touch()
    deadline = time.monotonic() + 60
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return "released"
