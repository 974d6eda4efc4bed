#*****************************************************
#                                                    *
# DeepLens hot dog / not hot dog (device style)      *
#                                                    *
#*****************************************************
""" A sample lambda for hot dog detection"""
import os
import json
import awscam
import cv2
import greengrasssdk
from local_display import LocalDisplay


def lambda_handler(event, context):
    """Empty entry point to the Lambda function invoked from the edge."""
    return


def infinite_infer_run():
    """ Run the DeepLens inference loop frame by frame"""
    # Create an IoT client for sending messages to the cloud.
    client = greengrasssdk.client('iot-data')
    iot_topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])
    try:
        # This model is a SqueezeNet trained on the 1000 ImageNet classes: we only care
        # whether the top classes contain the hot dog class, which is label 934.
        model_type = 'classification'
        hotdog_label = 934
        output_map = {0: 'Not hotdog', 1: 'Hotdog'}
        # Create a local display instance that will dump the image bytes to a FIFO
        # file that the image can be rendered locally.
        local_display = LocalDisplay('480p')
        local_display.start()
        # The sample projects come with optimized artifacts, hence only the artifact
        # path is required.
        model_path = '/opt/awscam/artifacts/mxnet_squeezenet.xml'
        # Load the model onto the GPU.
        client.publish(topic=iot_topic, payload='Loading hot dog model')
        model = awscam.Model(model_path, {'GPU': 1})
        client.publish(topic=iot_topic, payload='Hot dog model loaded')
        # Number of top classes to look at, and the probability above which it is a hot dog.
        num_top_k = 5
        threshold = 0.5
        # The height and width of the training set images
        input_height = 224
        input_width = 224
        # Do inference until the lambda is killed.
        while True:
            # Get a frame from the video stream
            ret, frame = awscam.getLastFrame()
            if not ret:
                raise Exception('Failed to get frame from the stream')
            # Resize frame to the same size as the training set.
            frame_resize = cv2.resize(frame, (input_height, input_width))
            # Run the images through the inference engine and parse the results using
            # the parser API, note it is possible to get the output of doInference
            # and do the parsing manually, but since it is a classification model,
            # a simple API is provided.
            parsed_inference_results = model.parseResult(model_type,
                                                         model.doInference(frame_resize))
            # Get top k results with highest probabilities
            top_k = parsed_inference_results[model_type][0:num_top_k]
            # The probability of a hot dog (0 if it is not among the top k classes)
            hotdog_prob = 0.0
            for obj in top_k:
                if obj['label'] == hotdog_label:
                    hotdog_prob = obj['prob']
            is_hotdog = 1 if hotdog_prob > threshold else 0
            prob = hotdog_prob if is_hotdog else 1.0 - hotdog_prob
            # Add the label of the result to the frame used by local display.
            # See https://docs.opencv.org/3.4.1/d0/de1/group__core.html
            # for more information about the cv2.putText method.
            # Method signature: image, text, origin, font face, font scale, color, and tickness
            color = (0, 255, 0) if is_hotdog else (0, 0, 255)
            cv2.putText(frame, '{}: {:.2f}%'.format(output_map[is_hotdog], prob * 100), (10, 70),
                        cv2.FONT_HERSHEY_SIMPLEX, 3, color, 6)
            # Set the next frame in the local display stream.
            local_display.set_frame_data(frame)
            # Send the result to the cloud
            cloud_output = {output_map[is_hotdog]: prob}
            client.publish(topic=iot_topic, payload=json.dumps(cloud_output))
    except Exception as ex:
        client.publish(topic=iot_topic, payload='Error in hot dog lambda: {}'.format(ex))


infinite_infer_run()
