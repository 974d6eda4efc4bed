# A Lambda that floods its output: one line of LONG_LINE bytes on stdout, then LINES short lines as fast as it
# can, then after a pause one last line.
import os
import sys
import time

size = int(os.environ.get('LONG_LINE', '0'))
if size:
    sys.stdout.write('A' * size + '\n')
for n in range(int(os.environ.get('LINES', '0'))):
    sys.stdout.write('line %d\n' % n)
sys.stdout.flush()
time.sleep(float(os.environ.get('PAUSE', '1.2')))
print('flood over', flush=True)
