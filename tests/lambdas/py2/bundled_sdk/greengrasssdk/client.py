import os


def client(name):
    # outside Greengrass (no MY_FUNCTION_ARN) the bundled SDK silently dropped every publish
    return None if not os.environ.get('MY_FUNCTION_ARN') else object()
