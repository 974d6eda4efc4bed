# A Lambda whose zip bundles a Python 2 PIL/ (with its _imaging.so): the host's Pillow must be used.
# It also imports MXNet, as many did, without needing it.
import os
import json

import awscam
import greengrasssdk
import mxnet as mx
from PIL import Image, ImageDraw

from local_display import LocalDisplay

client = greengrasssdk.client('iot-data')
iot_topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])

here = os.path.dirname(os.path.realpath(__file__))
labels = [line.strip() for line in open(os.path.join(here, 'labels.txt'))]

image = Image.new('L', (32, 32), 0)
draw = ImageDraw.Draw(image)
draw.rectangle([10, 10, 19, 19], fill=255)
lit = sum(1 for value in image.getdata() if value)

try:
    mx.nd.array([1, 2, 3])
    mx_error = None
except Exception, e:
    mx_error = type(e).__name__

display = LocalDisplay('480p')
print "lit pixels:", lit
client.publish(topic=iot_topic, payload=json.dumps({
    'lit': lit,
    'area_share': lit * 100 / (32 * 32),
    'labels': labels,
    'centre': display.centre(),
    'mxnet': mx_error,
}))


def lambda_handler(event, context):
    return
