"""fissix's grammar tables, loaded without a word in the Lambda's log.

fissix builds its grammar tables on first import (then caches them per user) and says so on the root logger at
INFO - the Lambda's log, where it is not the Lambda's news. This module is imported before anything else of the
package imports fissix; only those messages are held back, and only while it loads.
"""

from __future__ import annotations

import importlib
import logging

_NEWS = ("Generating grammar tables", "Writing grammar tables", "Writing failed")


class _GrammarNews(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_NEWS)


_root = logging.getLogger()
_filter = _GrammarNews()
_root.addFilter(_filter)
try:
    importlib.import_module("fissix.pygram")
finally:
    _root.removeFilter(_filter)
