"""Kinesis Video recording: the simulated camera as H.264 MP4 segments, for the device's ``DeepLens_Kinesis_Video``.

* :mod:`.recorder` — records the camera's frame slot on background threads of the Lambda's process;
* :mod:`.encoder` — one fragmented-MP4 H.264 segment, with PyAV (imported on first use);
* :mod:`.cloud` — creates the stream in the local cloud and uploads finished segments to its S3;
* :mod:`.layout` — the folder ``<artifacts>/kinesis-video/<stream>/``, segment names, status files, retention;
* :mod:`.catalog` — what viewers list and play.

It stands only on :mod:`simulator.ipc` (the frame slot), so a Lambda process may import it.
"""
