#*****************************************************
#                                                    *
# Count the people in the living room (device style) *
#                                                    *
#*****************************************************
""" A lambda that counts the people the object detection model sees, and keeps a frame in S3
now and then when someone is there (as the device's "upload to S3" recipes did)"""
import os
import json
import time
import awscam
import boto3
import cv2
import greengrasssdk
from local_display import LocalDisplay

# Set in the Lambda's environment (the project's settings, or --env BUCKET_NAME=...).
BUCKET_NAME = os.environ['BUCKET_NAME']
UPLOAD_EVERY = float(os.environ.get('UPLOAD_EVERY_SECONDS', '10'))


def lambda_handler(event, context):
    """Empty entry point to the Lambda function invoked from the edge."""
    return


def infinite_infer_run():
    """ Run the DeepLens inference loop frame by frame"""
    # Create an IoT client for sending messages to the cloud.
    client = greengrasssdk.client('iot-data')
    iot_topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])
    try:
        # The object detection model is a single shot detector (ssd) trained on the
        # 20 VOC classes; the person class is label 15.
        model_type = 'ssd'
        person_label = 15
        # Create a local display instance that will dump the image bytes to a FIFO
        # file that the image can be rendered locally.
        local_display = LocalDisplay('480p')
        local_display.start()
        # The same optimized artifact as the object detection sample.
        model_path = '/opt/awscam/artifacts/mxnet_deploy_ssd_resnet50_300_FP16_FUSED.xml'
        # Load the model onto the GPU.
        client.publish(topic=iot_topic, payload='Loading people counter model')
        model = awscam.Model(model_path, {'GPU': 1})
        client.publish(topic=iot_topic, payload='People counter model loaded')
        # A person counts when the model is at least this sure.
        detection_threshold = 0.5
        # The height and width of the training set images
        input_height = 300
        input_width = 300
        s3 = boto3.client('s3')
        last_upload = 0.0
        # Do inference until the lambda is killed.
        while True:
            # Get a frame from the video stream
            ret, frame = awscam.getLastFrame()
            if not ret:
                raise Exception('Failed to get frame from the stream')
            # Resize frame to the same size as the training set.
            frame_resize = cv2.resize(frame, (input_height, input_width))
            parsed_inference_results = model.parseResult(model_type,
                                                         model.doInference(frame_resize))
            # Compute the scale in order to draw bounding boxes on the full resolution
            # image.
            yscale = float(frame.shape[0]) / float(input_height)
            xscale = float(frame.shape[1]) / float(input_width)
            people = 0
            for obj in parsed_inference_results[model_type]:
                # The results come sorted by probability: stop at the first unsure one.
                if obj['prob'] < detection_threshold:
                    break
                if obj['label'] != person_label:
                    continue
                people += 1
                xmin = int(xscale * obj['xmin'])
                ymin = int(yscale * obj['ymin'])
                xmax = int(xscale * obj['xmax'])
                ymax = int(yscale * obj['ymax'])
                cv2.rectangle(frame, (xmin, ymin), (xmax, ymax), (0, 200, 0), 8)
            # Write the count in the top left corner of the project stream.
            cv2.putText(frame, 'people: {}'.format(people), (10, 70),
                        cv2.FONT_HERSHEY_SIMPLEX, 2.5, (0, 200, 0), 6)
            # Set the next frame in the local display stream.
            local_display.set_frame_data(frame)
            # Send the count to the cloud
            client.publish(topic=iot_topic, payload=json.dumps({'people': people}))
            # Keep a frame in S3 when someone is there, at most every UPLOAD_EVERY seconds.
            if people and time.time() - last_upload >= UPLOAD_EVERY:
                last_upload = time.time()
                key = '{}/{}.jpg'.format(os.environ['AWS_IOT_THING_NAME'], time.strftime('%Y%m%d-%H%M%S'))
                jpeg = cv2.imencode('.jpg', cv2.resize(frame, (858, 480)))[1].tobytes()
                s3.put_object(Bucket=BUCKET_NAME, Key=key, Body=jpeg, ContentType='image/jpeg')
                client.publish(topic=iot_topic, payload=json.dumps({'uploaded': 's3://{}/{}'.format(BUCKET_NAME, key)}))
    except Exception as ex:
        client.publish(topic=iot_topic, payload='Error in people counter lambda: {}'.format(ex))


infinite_infer_run()
