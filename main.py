"""DeepLens simulator — entry point.

    python main.py                      # the desktop window (headless if there is no display)
    python main.py --headless           # the demo, on the embedded defaults, viewer on http://127.0.0.1:8080/
    python main.py models list          # bundled models
    python main.py bench                # per-profile latency table
"""

from __future__ import annotations

import sys

from simulator.cli.app import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
