"""Write refitted coefficients into the hardware profiles' YAML files, leaving every other line as it is.

The fitted fields of a ``cpu:`` or ``gpu:`` block are ``efficiency`` (a flow mapping, which may wrap onto a second
line), ``stream_gbps``, ``weight_gbps``, ``op_overhead_us`` and ``inference_overhead_ms``. Each is replaced in
place, so the comments around them (the runtime a profile stands for, its published figures) stay. A field that is
not in the block exactly once is an error naming the file and the field: nothing is written then. Each file is
loaded again after writing and must give back the values written.

    python -m simulator.profiles.calibration --write
"""

from __future__ import annotations

import re
from pathlib import Path

from simulator.errors import ConfigError
from simulator.paths import PROFILES_DIR
from simulator.profiles.loader import load_profile
from simulator.profiles.schema import Efficiency

SCALARS = ("stream_gbps", "weight_gbps", "op_overhead_us", "inference_overhead_ms")
KINDS = ("conv3x3", "conv", "pointwise", "depthwise", "gemm", "elementwise", "pool", "data", "other")
_EFFICIENCY = re.compile(r"^(?P<indent>[ \t]+)efficiency:[ \t]*\{[^}]*\}", re.M)


def _block(text: str, device: str, path: Path) -> tuple[int, int]:
    """Start and end offsets of the top-level ``cpu:``/``gpu:`` block."""
    key = device.lower()
    head = re.search(rf"^{key}:[ \t]*(#.*)?$", text, re.M)
    if head is None:
        raise ConfigError(f"{path}: no top-level '{key}:' block to write the fitted {device} coefficients into")
    after = re.search(r"^\S", text[head.end():], re.M)
    return head.start(), head.end() + after.start() if after else len(text)


def _one(pattern: re.Pattern[str], block: str, path: Path, device: str, field: str) -> re.Match[str]:
    found = list(pattern.finditer(block))
    if len(found) != 1:
        raise ConfigError(f"{path}: field '{device.lower()}.{field}' appears {len(found)} times in the block "
                          "(expected once): the fitted value cannot be written")
    return found[0]


def efficiency_text(efficiency: Efficiency, indent: str) -> str:
    """``efficiency: {...}`` with the kinds in their usual order, wrapped after the fifth."""
    values = efficiency.model_dump(exclude_none=True)
    items = [f"{k}: {values[k]}" for k in KINDS if k in values]
    first = f"{indent}efficiency: {{" + ", ".join(items[:5])
    if len(items) <= 5:
        return first + "}"
    return first + ",\n" + " " * (len(indent) + len("efficiency: {")) + ", ".join(items[5:]) + "}"


def rewrite(text: str, device: str, fields: dict, path: Path) -> str:
    """``text`` with the fitted ``fields`` of ``device`` (as ``calibration.fit_all`` gives them) put in."""
    start, end = _block(text, device, path)
    block = text[start:end]
    m = _one(_EFFICIENCY, block, path, device, "efficiency")
    block = block[:m.start()] + efficiency_text(fields["efficiency"], m.group("indent")) + block[m.end():]
    for key in SCALARS:
        m = _one(re.compile(rf"^(?P<lead>[ \t]+{key}:[ \t]*)[-+0-9.eE]+", re.M), block, path, device, key)
        block = block[:m.start()] + f"{m.group('lead')}{fields[key]}" + block[m.end():]
    return text[:start] + block + text[end:]


def write_fitted(fitted: dict[tuple[str, str], dict], root: Path = PROFILES_DIR) -> list[Path]:
    """Write ``fitted`` (``{(profile, device): fields}``) into ``root/<profile>.yaml``; returns the files changed.
    Every file is rewritten in memory first: a field missing from any of them stops the write before anything is
    written. A file that does not read back as written is restored and the error raised."""
    texts: dict[Path, str] = {}
    for (profile, device), fields in sorted(fitted.items()):
        path = Path(root) / f"{profile}.yaml"
        if path not in texts:
            if not path.is_file():
                raise ConfigError(f"{path}: no such profile file to write the fitted coefficients into")
            texts[path] = path.read_text()
        texts[path] = rewrite(texts[path], device, fields, path)
    changed = [path for path, text in texts.items() if text != path.read_text()]
    for path in changed:
        original = path.read_text()
        path.write_text(texts[path])
        try:
            _check(path, {d: f for (p, d), f in fitted.items() if p == path.stem})
        except Exception:
            path.write_text(original)
            raise
    return changed


def _check(path: Path, fields_by_device: dict[str, dict]) -> None:
    profile = load_profile(path)
    for device, fields in fields_by_device.items():
        spec = profile.described_device(device)
        for key in SCALARS:
            if getattr(spec, key) != fields[key]:
                raise ConfigError(f"{path}: '{device.lower()}.{key}' reads back as {getattr(spec, key)}, "
                                  f"expected {fields[key]}")
        if spec.efficiency != fields["efficiency"]:
            raise ConfigError(f"{path}: '{device.lower()}.efficiency' reads back as {spec.efficiency}, "
                              f"expected {fields['efficiency']}")
