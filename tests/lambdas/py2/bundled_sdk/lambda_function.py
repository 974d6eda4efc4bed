# A Lambda whose zip bundles greengrasssdk, boto3/botocore of 2018, the futures backport and an awscam stub:
# the simulator's and the host's copies must be the ones imported.
import os
import json
from concurrent import futures

import awscam
import boto3
import botocore
import greengrasssdk
from botocore.session import Session

client = greengrasssdk.client('iot-data')
iot_topic = '$aws/things/%s/infer' % os.environ['AWS_IOT_THING_NAME']

s3 = boto3.client('s3', region_name='us-east-1')
session = Session()
pool = futures.ThreadPoolExecutor(2)
squares = list(pool.map(lambda x: x * x, [1, 2, 3]))
pool.shutdown()
ret, frame = awscam.getLastFrame()
print "boto3", boto3.__version__, "botocore", botocore.__version__

client.publish(topic=iot_topic, payload=json.dumps({
    'client': type(s3).__name__,
    'session': type(session).__name__,
    'has_client': hasattr(boto3, 'client'),
    'squares': squares,
    'frame_rows': frame.shape[0],
}))


def lambda_handler(event, context):
    return
