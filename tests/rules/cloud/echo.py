"""Prints what it got (and its process id) and returns it."""

import json
import os


def lambda_handler(event, context):
    print(f"echo pid={os.getpid()} fn={context.function_name} event={json.dumps(event, sort_keys=True)}")
    return event
