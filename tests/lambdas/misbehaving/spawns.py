# A Lambda that starts processes that would outlive it: two `sleep` children in its own process group, a child
# whose `sleep` grandchild calls setsid (a new session and group), and a daemon that double-forks out of both.
# It writes their pids to $PIDS_DIR/<run>.pids, then crashes on its first run and stays up on later ones.
import os
import subprocess
import sys
import time

SETSID_GRANDCHILD = '''
import subprocess, time
subprocess.Popen(["sleep", "300"], start_new_session=True)
time.sleep(300)
'''
DAEMON = '''
import os, sys, time
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpid()))
time.sleep(300)
'''
folder = os.environ['PIDS_DIR']
run = len([n for n in os.listdir(folder) if n.endswith('.pids')])
daemon_file = os.path.join(folder, 'daemon-%d' % run)
children = [subprocess.Popen(['sleep', '300']) for _ in range(2)]
children.append(subprocess.Popen([sys.executable, '-c', SETSID_GRANDCHILD]))
subprocess.Popen([sys.executable, '-c', DAEMON, daemon_file]).wait()
while not os.path.exists(daemon_file) or not open(daemon_file).read():
    time.sleep(0.02)
time.sleep(0.3)  # the setsid grandchild has started by now
with open(os.path.join(folder, 'tmp'), 'w') as f:
    f.write('\n'.join([str(os.getpid())] + [str(c.pid) for c in children] + [open(daemon_file).read()]))
os.rename(os.path.join(folder, 'tmp'), os.path.join(folder, '%d.pids' % run))
print('run %d started its processes' % run, flush=True)
if run == 0:
    time.sleep(float(os.environ.get('CRASH_AFTER', '1.5')))
    raise RuntimeError('crashing with children left behind')
