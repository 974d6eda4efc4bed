# The Python 2 backport of concurrent.futures (package "futures"), bundled for s3transfer.
import Queue as queue
print "futures backport"
