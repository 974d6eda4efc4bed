"""Hardware profiles: what device the simulator pretends to be (camera format, speed)."""

from simulator.profiles.loader import available_profiles, load_profile
from simulator.profiles.schema import CameraSpec, Profile

__all__ = ["CameraSpec", "Profile", "available_profiles", "load_profile"]
