# A Lambda that takes a while before its first inference (as a big model does on a slow device).
import json
import os
import time

import awscam
import greengrasssdk

time.sleep(float(os.environ.get("TEST_SLOW_START", "4")))
client = greengrasssdk.client('iot-data')
topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])
model = awscam.Model('/opt/awscam/artifacts/tiny_classifier.xml', {'GPU': 0})
with open('/tmp/results.mjpeg', 'w') as fifo:
    while True:
        ret, frame = awscam.getLastFrame()
        top = model.parseResult('classification', model.doInference(frame))['classification'][0]
        client.publish(topic=topic, payload=json.dumps({'label': top['label'], 'prob': top['prob']}))
        fifo.write(bytes(__import__('cv2').imencode('.jpg', frame)[1]))
        time.sleep(0.05)
