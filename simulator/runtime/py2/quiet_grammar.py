"""fissix's grammar tables, loaded without a word in the Lambda's log.

fissix builds its grammar tables on first import (then caches them per user) and says so on the root logger at
INFO - the Lambda's log, where it is not the Lambda's news. This module is imported before anything else of the
package imports fissix.
"""

from __future__ import annotations

import importlib
import logging

_disabled = logging.root.manager.disable
logging.disable(logging.INFO)
try:
    importlib.import_module("fissix.pygram")
finally:
    logging.disable(_disabled)
