# A Lambda edited over the years with two editors: its indentation mixes tabs and spaces, which Python 2
# read as "a tab advances to the next multiple of 8 columns" (Python 3 refuses it: TabError).
import os
import json
import awscam
import greengrasssdk

HELP = """usage:
	run it on the device
"""


def summarise(values):
	total = 0
        for v in values:
	        total += v
	if total > 100:
	    	print "large", total
	return total / len(values)


client = greengrasssdk.client('iot-data')
topic = '$aws/things/%s/infer' % os.environ['AWS_IOT_THING_NAME']
ret, frame = awscam.getLastFrame()
if ret:
	width = frame.shape[1] / 3
        height = frame.shape[0] / 3
else:
  	width = height = 0
print "thirds", width, height
client.publish(topic=topic, payload=json.dumps({
    'mean': summarise([3, 4, 8]),
    'mean_pair': summarise([3, 4]),
    'large': summarise([100, 50]),
    'help_line': HELP.split('\n')[1],
    'width': width,
    'height': height,
}))


def lambda_handler(event, context):
	return
