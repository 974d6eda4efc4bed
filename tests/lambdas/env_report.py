# Publishes the environment a Lambda sees (what Greengrass and the simulator gave it), then idles.
import json
import os
import time

import greengrasssdk

NAMES = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_PROFILE",
         "BUCKET_NAME", "QUEUE_NAME", "DEEPLENS_SIM_CLOUD")
client = greengrasssdk.client('iot-data')
topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])
while True:
    client.publish(topic=topic, payload=json.dumps({name: os.environ.get(name) for name in NAMES}))
    time.sleep(0.5)
