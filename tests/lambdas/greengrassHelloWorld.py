# A DeepLens Lambda in the 2017 style: work starts at import, a FIFO_Thread streams a global JPEG,
# errors are published and the loop is rescheduled with threading.Timer.
import os
import sys
import json
import time
from threading import Thread, Timer

import awscam
import cv2
import greengrasssdk
import numpy as np

client = greengrasssdk.client('iot-data')
iotTopic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])

ret, frame = awscam.getLastFrame()
ret, jpeg = cv2.imencode('.jpg', frame)
Write_To_FIFO = True


class FIFO_Thread(Thread):
    def __init__(self):
        Thread.__init__(self)

    def run(self):
        fifo_path = "/tmp/results.mjpeg"
        if not os.path.exists(fifo_path):
            os.mkfifo(fifo_path)
        f = open(fifo_path, 'w')
        client.publish(topic=iotTopic, payload="Opened Pipe")
        while Write_To_FIFO:
            try:
                f.write(jpeg.tobytes())
            except IOError:
                continue


def greengrass_infinite_infer_run():
    try:
        global jpeg
        labels = ['blue', 'green', 'red']
        model = awscam.Model('/opt/awscam/artifacts/tiny_classifier.xml', {'GPU': 1})
        results_thread = FIFO_Thread()
        results_thread.start()
        client.publish(topic=iotTopic, payload="Model loaded")
        while True:
            ret, frame = awscam.getLastFrame()
            if ret == False:
                raise Exception("Failed to get frame from the stream")
            small = cv2.resize(frame, (64, 64))
            result = model.parseResult('classification', model.doInference(small))['classification']
            top = result[0]
            cv2.rectangle(frame, (0, 0), (80, 80), (255, 0, 255), -1)
            cv2.putText(frame, labels[top['label']], (10, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 165, 20), 4)
            ret, jpeg = cv2.imencode('.jpg', frame)
            client.publish(topic=iotTopic, payload=json.dumps({labels[top['label']]: top['prob'], 'style': 2017}))
            time.sleep(0.05)
    except Exception as e:
        msg = "Test failed: " + str(e)
        client.publish(topic=iotTopic, payload=msg)
    Timer(15, greengrass_infinite_infer_run).start()


greengrass_infinite_infer_run()


def function_handler(event, context):
    return
