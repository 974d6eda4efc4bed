# A Lambda that leaks memory fast: LEAK_MB every 0.1 s, in its own process or (LEAK_IN_CHILD=1) in a child
# process it starts, so only the memory of the whole process group shows the leak.
import os
import subprocess
import sys
import time

LEAK = '''
import sys, time
hoard = []
while True:
    hoard.append(bytearray(b"\\x01") * (int(sys.argv[1]) * 1024 * 1024))  # written, so resident
    time.sleep(0.1)
'''
mb = os.environ.get('LEAK_MB', '20')
if os.environ.get('LEAK_IN_CHILD') == '1':
    child = subprocess.Popen([sys.executable, '-c', LEAK, mb])
    print('leaking in child %d' % child.pid, flush=True)
    while True:
        time.sleep(1)
exec(LEAK.replace('int(sys.argv[1])', mb))
