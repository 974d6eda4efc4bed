import json

print "starting"


def handler(event, context:
    return json.dumps(event)
