"""The error an MXNet (or Caffe) model file raises when it cannot be read or converted."""

from __future__ import annotations

from simulator.errors import ConfigError


class ModelFormatError(ConfigError):
    """A model file is malformed, truncated, inconsistent with its graph, or uses an operator OpenVINO cannot run.

    The message names the file and, where there is one, the byte offset, the node, the operator or the parameter.
    """
