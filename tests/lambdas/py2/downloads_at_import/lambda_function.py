# A workshop Lambda (Python 2.7) that fetches what it needs when it starts: a newer boto3 as a zip from S3,
# its labels over HTTP, model details with requests, a synset file with boto3.
import os
import sys
import json
import urllib
import urllib2
import zipfile

import requests
import greengrasssdk

TMP = os.environ.get('LAMBDA_TMP', '/tmp')
BOTO3_URL = 'https://s3.amazonaws.com/deeplens-workshop-assets/boto3-1.9.62.zip'

urllib.urlretrieve(BOTO3_URL, os.path.join(TMP, 'boto3.zip'))
with zipfile.ZipFile(os.path.join(TMP, 'boto3.zip'), 'r') as archive:
    unpacked = archive.namelist()
    archive.extractall(os.path.join(TMP, 'boto3_new'))
sys.path.insert(0, os.path.join(TMP, 'boto3_new'))
import boto3

labels = json.loads(urllib2.urlopen(os.environ['LABELS_URL']).read())
details = requests.get('https://deeplens-models.s3.amazonaws.com/info/model_info.json').json()
s3 = boto3.client('s3', region_name='us-east-1')
s3.download_file('deeplens-sagemaker-models', 'synsets/synset.txt', os.path.join(TMP, 'synset.txt'))
synset = [line.strip() for line in open(os.path.join(TMP, 'synset.txt'))]
try:
    urllib2.urlopen(os.environ['UNREACHABLE_URL'])
    failed = False
except urllib2.URLError, e:
    failed = True

client = greengrasssdk.client('iot-data')
iot_topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])
client.publish(topic=iot_topic, payload=json.dumps({
    'unpacked': unpacked,
    'has_client': hasattr(boto3, 'client'),
    'labels': labels,
    'input': details['input'],
    'synset': synset,
    'failed': failed,
}))


def lambda_handler(event, context):
    return
