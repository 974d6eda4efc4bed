#
# A device-style Lambda that streams the camera to Kinesis Video, as the AWS DeepLens developer guide's
# DeepLens_Kinesis_Video example does: credentials from botocore's session, createProducer, createStream,
# start, sleep, stop. How long it streams, the stream's name and its retention come from its environment.
#
import json
import os
import time

import DeepLens_Kinesis_Video as dkv
from botocore.session import Session
import greengrasssdk


def greengrass_hello_world_run():
    # Create the green grass client so that we can send messages to IoT console
    client = greengrasssdk.client('iot-data')
    iot_topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])

    # Stream configuration, name and retention
    stream_name = os.environ.get('STREAM_NAME', 'myStream')
    retention = int(os.environ.get('RETENTION_HOURS', '2'))  # hours

    # Amount of time to stream (seconds); 0 streams until the Lambda is stopped
    wait_time = float(os.environ.get('STREAM_SECONDS', '3'))

    # Use the boto session API to grab credentials
    session = Session()
    creds = session.get_credentials()

    # Create producer and stream.
    producer = dkv.createProducer(creds.access_key, creds.secret_key, creds.token, "us-east-1")
    client.publish(topic=iot_topic, payload="Producer created")
    kvs_stream = producer.createStream(stream_name, retention)
    client.publish(topic=iot_topic, payload="Stream {} created".format(stream_name))

    # The device Lambdas call stop() in their loop whether or not the stream is started
    kvs_stream.stop()

    # Start putting data into the KVS stream
    kvs_stream.start()
    kvs_stream.start()
    client.publish(topic=iot_topic, payload=json.dumps({"event": "started", "isActive": kvs_stream.isActive}))
    if wait_time <= 0:
        return
    time.sleep(wait_time)
    # Stop putting data into the KVS stream
    kvs_stream.stop()
    client.publish(topic=iot_topic, payload=json.dumps({"event": "stopped", "isActive": kvs_stream.isActive}))


# Execute the function above
greengrass_hello_world_run()


# This is a dummy handler and will not be invoked
def function_handler(event, context):
    return
