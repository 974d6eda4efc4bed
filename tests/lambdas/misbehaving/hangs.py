# A Lambda that draws a few frames of its project stream (HANG_AFTER, default 3), then spins at 100 % CPU.
# HANG_AFTER=0: it never makes progress at all. IDLE=1: it stops working but sleeps instead of spinning.
import os
import time

import cv2
import numpy as np

steps = int(os.environ.get('HANG_AFTER', '3'))
fifo = open('/tmp/results.mjpeg', 'w')
for n in range(steps):
    ok, jpeg = cv2.imencode('.jpg', np.full((48, 64, 3), 40 * n % 256, np.uint8))
    fifo.write(jpeg.tobytes())
    time.sleep(0.1)
print('stopped working after %d frames' % steps, flush=True)
if os.environ.get('IDLE') == '1':
    while True:
        time.sleep(1)
while True:
    pass
