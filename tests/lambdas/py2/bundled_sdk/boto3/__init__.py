# boto3 1.5 (2018) as bundled in Lambda zips (a stand-in with what breaks it on Python 3.10+).
import botocore
from collections import Mapping

__version__ = '1.5.0'
