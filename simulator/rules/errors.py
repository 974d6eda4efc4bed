"""The error the rules package raises for anything a user can fix: a bad rules file, SQL, action or handler."""

from __future__ import annotations

from simulator.errors import SimulatorError


class RulesError(SimulatorError):
    """A rules file cannot be used (the message names file, line and key or rule), or the engine cannot start."""
