# A Lambda (Python 2.7) that formats its results with the string module, sorts with cmp functions, rounds
# the way Python 2 did and shells out with the commands module.
import os
import json
import string
import commands

import greengrasssdk
from helpers import fmt

client = greengrasssdk.client('iot-data')
iot_topic = '$aws/things/{}/infer'.format(os.environ['AWS_IOT_THING_NAME'])

names = ['delta', 'Alpha', 'charlie', 'Bravo']
by_length = sorted(names, cmp=lambda a, b: cmp(len(a), len(b)) or cmp(a, b))


def by_lower(a, b):
    return cmp(a.lower(), b.lower())


names.sort(by_lower)
scores = {'delta': 3, 'alpha': 9, 'charlie': 1}
ranked = sorted(scores.iterkeys(), lambda a, b: cmp(scores[b], scores[a]))
pairs = [(1, 'b'), (0, 'a'), (1, 'a')]
pairs.sort(cmp=lambda x, y: cmp(x[1], y[1]), reverse=True)

result = {
    'by_length': by_length,
    'sorted': names,
    'ranked': ranked,
    'pairs': pairs,
    'letters': string.letters[:5] + string.uppercase[:2],
    'joined': string.join(names, '+'),
    'spaced': string.join(['a', 'b']),
    'upper': string.upper('deep' + 'lens'),
    'parts': string.split('a b  c'),
    'replaced': string.replace('1.2.3', '.', '-'),
    'number': string.atoi('42') + 1,
    'round_half': round(2.5),
    'round_tie': round(0.125, 2),
    'round_int': round(7),
    'total': sum(scores.itervalues()),
    'echo': commands.getoutput('echo hi'),
    'described': fmt.describe(3),
}
client.publish(topic=iot_topic, payload=json.dumps(result))


def lambda_handler(event, context):
    return
