# A Lambda whose only working thread dies with an exception after a few frames (a 2017-style Timer loop).
import os
import threading

import awscam
import greengrasssdk

client = greengrasssdk.client('iot-data')
topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])


def loop():
    for n in range(5):
        ret, frame = awscam.getLastFrame()
        client.publish(topic=topic, payload='{"n": %d}' % n)
    raise RuntimeError('worker thread failed')


threading.Timer(0.2, loop).start()
