#
# A DeepLens Lambda in the 2017 style, Python 2.7: work starts at import, scales boxes from the model's
# 300x300 input to the frame with integer division, counts labels with the dict methods of the time.
#
import os
import json
from threading import Timer

import awscam
import greengrasssdk

client = greengrasssdk.client('iot-data')
iotTopic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])

input_width = 300
input_height = 300
output_map = {15: 'person', 12: 'dog'}
detections = [{'label': 15, 'prob': 0.82, 'xmin': 30, 'ymin': 60, 'xmax': 150, 'ymax': 240},
              {'label': 12, 'prob': 0.4, 'xmin': 100, 'ymin': 10, 'xmax': 299, 'ymax': 199}]


def scale_box(obj, xscale, yscale):
    xmin = int(xscale * obj['xmin']) + int((obj['xmin'] - input_width / 2) + input_width / 2)
    ymin = int(yscale * obj['ymin'])
    return [xmin, ymin]


def half(value):
    return value / 2


def ask():
    return raw_input('threshold? ')


def greengrass_infinite_infer_run():
    try:
        ret, frame = awscam.getLastFrame()
        if ret == False:
            raise Exception("Failed to get frame from the stream")
        yscale = float(frame.shape[0] / input_height)
        xscale = float(frame.shape[1] / input_width)
        print "frame", frame.shape, "scales", xscale, yscale
        boxes = {}
        counts = {}
        for obj in detections:
            label = output_map[obj['label']]
            boxes[label] = scale_box(obj, xscale, yscale)
            if counts.has_key(label):
                counts[label] += 1
            else:
                counts[label] = 1
        total = 0
        for label, n in counts.iteritems():
            total += n
        n = 0
        for i in xrange(10):
            n += i
        n /= 4
        labels = [obj['label'] for obj in detections]
        probs = map(lambda d: d['prob'], detections)
        best = {output_map[detections[0]['label']]: probs[0]}
        try:
            int('x')
        except ValueError, e:
            error = str(e)
        label_u = unicode('person')
        result = {
            'boxes': boxes,
            'total': total,
            'cells': frame.shape[1] * frame.shape[0] / 1000,
            'band': frame.shape[0] / 7,
            'rest': frame.shape[0] % 7,
            'quarter_band': frame.shape[0] // 7 / 2,
            'loop': n,
            'mean_label': sum(labels) / len(labels),
            'halves': [half(7), half(7.0), half(-7)],
            'ratio': 3 / 4.0,
            'percent': 100 * 3 / 8,
            'negative': -7 / 2,
            'best': best.keys()[0],
            'confident': filter(lambda d: d['prob'] > 0.5, detections)[0]['label'],
            'pair': zip(labels, probs)[1],
            'repr': `n`,
            'perm': 0755,
            'big': long(2) ** 40,
            'is_text': isinstance(label_u, basestring),
            'error': error,
        }
        client.publish(topic=iotTopic, payload=json.dumps(result))
    except Exception, e:
        client.publish(topic=iotTopic, payload="Lambda failed: " + str(e))
    Timer(15, greengrass_infinite_infer_run).start()


greengrass_infinite_infer_run()


def function_handler(event, context):
    return
