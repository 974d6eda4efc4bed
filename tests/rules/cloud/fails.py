"""Always raises, as a buggy cloud function would."""


def lambda_handler(event, context):
    raise ValueError(f"bad input {event.get('n')}")
