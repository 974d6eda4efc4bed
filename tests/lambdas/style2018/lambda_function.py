# A DeepLens Lambda in the 2018 style: lambda_function.py + local_display.py, infinite_infer_run() at import.
import json
import os

import awscam
import cv2
import greengrasssdk
from local_display import LocalDisplay

CRASH_AFTER = int(os.environ.get("TEST_CRASH_AFTER", "0"))


def lambda_handler(event, context):
    return {"echo": event}


def infinite_infer_run():
    client = greengrasssdk.client('iot-data')
    iot_topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])
    local_display = LocalDisplay('480p')
    local_display.start()
    model = awscam.Model('/opt/awscam/artifacts/tiny_classifier.xml', {'GPU': 0})
    labels = ['blue', 'green', 'red']
    frames = 0
    while True:
        ret, frame = awscam.getLastFrame()
        if not ret:
            raise Exception('Failed to get frame from the stream')
        frames += 1
        if CRASH_AFTER and frames > CRASH_AFTER:
            raise RuntimeError('deliberate crash after {} frames'.format(CRASH_AFTER))
        result = model.parseResult('classification', model.doInference(cv2.resize(frame, (64, 64))))
        top = result['classification'][0]
        cv2.rectangle(frame, (0, 0), (frame.shape[1] // 8, frame.shape[0] // 8), (255, 0, 255), -1)
        local_display.set_frame_data(frame)
        client.publish(topic=iot_topic, payload=json.dumps(
            {labels[top['label']]: top['prob'], 'frame_shape': list(frame.shape), 'style': 2018}))


infinite_infer_run()
