#*****************************************************
#                                                    *
# Human pose with MoveNet (device style)             *
#                                                    *
#*****************************************************
""" A lambda that finds the 17 body keypoints of one person and draws the skeleton"""
import os
import json
import awscam
import cv2
import greengrasssdk
from local_display import LocalDisplay

# The 17 keypoints MoveNet returns, in its output order.
KEYPOINTS = ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
             'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
             'left_wrist', 'right_wrist', 'left_hip', 'right_hip',
             'left_knee', 'right_knee', 'left_ankle', 'right_ankle']
# The bones of the skeleton, as pairs of keypoint indices.
SKELETON = [(0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
            (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16)]


def lambda_handler(event, context):
    """Empty entry point to the Lambda function invoked from the edge."""
    return


def infinite_infer_run():
    """ Run the DeepLens inference loop frame by frame"""
    # Create an IoT client for sending messages to the cloud.
    client = greengrasssdk.client('iot-data')
    iot_topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])
    try:
        # Create a local display instance that will dump the image bytes to a FIFO
        # file that the image can be rendered locally.
        local_display = LocalDisplay('480p')
        local_display.start()
        # MoveNet Lightning, the bundled model the simulator serves by name.
        model_path = '/opt/awscam/artifacts/movenet-lightning.xml'
        client.publish(topic=iot_topic, payload='Loading pose model')
        model = awscam.Model(model_path, {'GPU': 1})
        client.publish(topic=iot_topic, payload='Pose model loaded')
        # Keypoints below this score are not drawn.
        keypoint_threshold = 0.3
        # MoveNet takes a square RGB image of 192x192 pixels (uint8, 0-255).
        input_size = 192
        # Do inference until the lambda is killed.
        while True:
            # Get a frame from the video stream
            ret, frame = awscam.getLastFrame()
            if not ret:
                raise Exception('Failed to get frame from the stream')
            # Pad the frame to a square (black at the right and bottom) so the person is
            # not squashed, then resize it to the model's input and make it RGB.
            height, width = frame.shape[:2]
            side = max(height, width)
            square = cv2.copyMakeBorder(frame, 0, side - height, 0, side - width,
                                        cv2.BORDER_CONSTANT, value=(0, 0, 0))
            frame_resize = cv2.cvtColor(cv2.resize(square, (input_size, input_size)),
                                        cv2.COLOR_BGR2RGB)
            # The raw output is [1, 1, 17, 3]: (y, x, score) per keypoint, y and x in
            # [0, 1] of the square input.
            inference_results = model.doInference(frame_resize)
            output = list(inference_results.values())[0].reshape(17, 3)
            points = []
            cloud_output = {'keypoints': {}}
            for index, (y, x, score) in enumerate(output):
                px = int(x * side)
                py = int(y * side)
                points.append((px, py, float(score)))
                cloud_output['keypoints'][KEYPOINTS[index]] = {
                    'x': round(float(x * side / width), 4),
                    'y': round(float(y * side / height), 4),
                    'score': round(float(score), 4)}
            cloud_output['score'] = round(float(output[:, 2].mean()), 4)
            # Draw the skeleton on the full resolution frame.
            for first, second in SKELETON:
                if points[first][2] > keypoint_threshold and points[second][2] > keypoint_threshold:
                    cv2.line(frame, points[first][:2], points[second][:2], (255, 165, 20), 6)
            for px, py, score in points:
                if score > keypoint_threshold:
                    cv2.circle(frame, (px, py), 10, (0, 255, 255), -1)
            # Set the next frame in the local display stream.
            local_display.set_frame_data(frame)
            # Send the keypoints to the cloud
            client.publish(topic=iot_topic, payload=json.dumps(cloud_output))
    except Exception as ex:
        client.publish(topic=iot_topic, payload='Error in pose lambda: {}'.format(ex))


infinite_infer_run()
