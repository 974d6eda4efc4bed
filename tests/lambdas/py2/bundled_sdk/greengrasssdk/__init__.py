# The greengrasssdk of 2018 as bundled in Lambda zips (a stand-in with what breaks it on Python 3.10+).
from collections import Mapping

from .client import client
