"""Device-style Lambdas for an imported model, from the templates in ``templates/``: the image-classification
and object-detection samples' code (``awscam.Model``, ``parseResult``, ``local_display.py``, a publish to
``$aws/things/<thing>/infer`` per frame) with the model file, input size and labels filled in."""

from __future__ import annotations

import pprint
import re
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).resolve().parent / "templates"
TASKS = ("classification", "ssd")


def output_map(task: str, labels: list[str]) -> dict[int, str]:
    """Machine label → name: class index for classification, class index + 1 for SSD (label 0 is background)."""
    first = 1 if task == "ssd" else 0
    return {first + i: name for i, name in enumerate(labels)}


def _literal(mapping: dict[int, str], indent: int) -> str:
    text = pprint.pformat(mapping, width=110 - indent, sort_dicts=True)
    return text.replace("\n", "\n" + " " * indent)


def _safe(text: str) -> str:
    return re.sub(r"[^\w .,:/+()-]", "_", text)


def render_lambda(task: str, project: str, model_file: str, labels: list[str], input_hw: tuple[int, int],
                  source: str, threshold: float = 0.5) -> str:
    """The Lambda's source code for ``task`` ('classification' or 'ssd')."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    template = Template((TEMPLATES / f"{task}_lambda.py.tmpl").read_text(encoding="utf-8"))
    return template.substitute(
        project=_safe(project), source=_safe(source), model_file=model_file, classes=len(labels),
        output_map=_literal(output_map(task, labels), indent=len("        output_map = ")),
        top_k=min(5, len(labels)), height=input_hw[0], width=input_hw[1], threshold=threshold)
