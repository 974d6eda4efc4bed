# A Lambda that reads its configuration from an environment variable that is not set.
import os

BUCKET = os.environ['BUCKET_NAME']
