# A 2018-style Lambda (Python 2.7) that re-encodes the frame through PIL: StringIO buffers carry JPEG and
# PNG bytes, another carries text.
import os
import json
import StringIO
import cStringIO
from StringIO import StringIO as TextBuffer

import awscam
import cv2
import greengrasssdk
from PIL import Image

client = greengrasssdk.client('iot-data')
iot_topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])


def to_png(image):
    out = cStringIO.StringIO()
    image.save(out, 'PNG')
    return out.getvalue()


def infinite_infer_run():
    ret, frame = awscam.getLastFrame()
    small = cv2.resize(frame, (64, 48))
    ret, jpeg = cv2.imencode('.jpg', small)
    image = Image.open(StringIO.StringIO(jpeg.tostring()))
    png = to_png(image)
    raw = cStringIO.StringIO()
    raw.write(jpeg.tostring())
    log = TextBuffer()
    log.write('size=%dx%d' % image.size)
    csv = StringIO.StringIO()
    csv.write('label,prob\n')
    csv.write('person,0.9\n')
    result = {
        'format': image.format,
        'size': list(image.size),
        'png_magic': png[1:4].decode('ascii'),
        'jpeg_same': raw.getvalue() == jpeg.tostring(),
        'log': log.getvalue(),
        'csv_lines': len(csv.getvalue().splitlines()),
    }
    client.publish(topic=iot_topic, payload=json.dumps(result))


infinite_infer_run()


def lambda_handler(event, context):
    return
