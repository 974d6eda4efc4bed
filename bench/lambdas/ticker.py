# A Lambda that reads the newest frame and publishes a numbered result 20 times a second on its infer topic:
# {"n": <sequence number>, "frame": <mean of the frame>}. Gaps in "n" seen by a subscriber are lost messages.
import json
import os
import time

import awscam
import greengrasssdk

client = greengrasssdk.client('iot-data')
topic = f"$aws/things/{os.environ['AWS_IOT_THING_NAME']}/infer"
n = 0
while True:
    ret, frame = awscam.getLastFrame()
    client.publish(topic=topic, payload=json.dumps({'n': n, 'frame': float(frame.mean()) if ret else None}))
    n += 1
    time.sleep(0.05)
