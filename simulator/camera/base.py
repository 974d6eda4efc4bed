"""What every camera source is: something that opens, hands out BGR frames, and can be closed and reopened."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

PASSED = np.empty((0, 0, 3), np.uint8)  # read() of a live source: a frame came and was not decoded (see Source.offer)


class Source(ABC):
    """A source of BGR uint8 frames. ``fps`` is the rate it should be played at (None: as fast as it comes).

    ``open()`` may be called again after ``close()`` (the camera reopens a source that stopped delivering).
    ``read()`` returns None when no frame could be had, and says why in ``error``.
    """

    description: str = ""
    fps: float | None = None
    live = False  # a live source paces itself (its read waits for the next frame)
    error: str | None = None  # why the last read gave no frame
    skipped = 0  # entries passed over because they cannot be read (image folders)

    def request_format(self, width: int | None, height: int | None, fps: float | None) -> None:  # noqa: B027 - hook
        """The format the device's camera delivers; a source that can produce it natively does (default: ignored)."""

    @abstractmethod
    def open(self) -> None:
        """Raise SourceError with a clear message if the source cannot be used."""

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next frame; None if it could not be read (set ``error``; a live source may come back)."""

    def read_into(self, out: np.ndarray) -> np.ndarray | None:
        """The next frame, decoded into ``out`` when the source can do that and the frame has ``out``'s shape
        (then ``out`` itself is returned), else as ``read()`` gives it."""
        return self.read()

    def skip(self) -> None:
        """Drop the next frame cheaply (used when playback falls behind)."""
        self.read()

    def decode_faster(self) -> bool:
        """Spend more of the machine on decoding from the next frame on (the camera falls behind); False when the
        source cannot (the default)."""
        return False

    def offer(self, want: Callable[[], bool] | None) -> None:  # noqa: B027 - an optional hook
        """A live source that can take a frame without decoding it asks ``want()`` as each frame comes, and
        decodes only those it says yes to; ``read()`` returns ``PASSED`` for the others (default: ignored, every
        frame is decoded)."""

    def interrupt(self) -> None:  # noqa: B027 - an optional hook
        """Make a waiting ``open()``/``read()`` return now (called from another thread when the camera stops)."""

    def close(self) -> None:  # noqa: B027 - an optional hook
        """Let go of whatever ``open()`` took (the source may be opened again)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"
