"""User-facing errors: each carries one clear message and the hint that fixes it."""

from __future__ import annotations


class SimulatorError(Exception):
    """An error the user can act on; main.py prints it (without a traceback) and exits non-zero."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(SimulatorError):
    """A profile or project file is invalid (the message names file, line and field)."""


class SourceError(SimulatorError):
    """A camera source cannot be opened or read."""


DEMO_HINT = "use the bundled demo clip (--source demo; 'Demo clip' in the window)"


class ModelNotFoundError(SimulatorError):
    """A model file is missing; the hint says how to get it."""


class PortInUseError(SimulatorError):
    """A TCP port the simulator needs is taken."""


class LambdaError(SimulatorError):
    """A Lambda file does not exist or cannot be compiled."""
