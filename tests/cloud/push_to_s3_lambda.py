# ruff: noqa: UP032 - device-style code, kept as DeepLens projects wrote it
# A device-style Lambda fragment as DeepLens projects wrote it (boto3 with no endpoint, no credentials, no
# region in the code): it pushes an annotated frame to S3 and records the detection in DynamoDB.
import json
import sys
import time

import boto3
import cv2
import numpy as np

BUCKET = 'deeplens-sagemaker-frames'
s3 = boto3.client('s3')
table = boto3.resource('dynamodb').Table('deeplens-detections')


def push_to_s3(img, index):
    timestamp = int(time.time())
    key = 'frames/{}_{}.jpg'.format(timestamp, index)
    encode_param = [int(cv2.IMWRITE_JPEG_QUALITY), 90]
    _, jpg_data = cv2.imencode('.jpg', img, encode_param)
    s3.put_object(ACL='public-read', Body=jpg_data.tobytes(), Bucket=BUCKET, Key=key, ContentType='image/jpeg')
    return key


frame = np.zeros((120, 160, 3), np.uint8)
cv2.rectangle(frame, (40, 30), (120, 90), (0, 255, 0), 3)
key = push_to_s3(frame, int(sys.argv[1]) if len(sys.argv) > 1 else 0)
table.put_item(Item={'id': key, 'label': 'person', 'prob': '0.93'})
print(json.dumps({'key': key}))
