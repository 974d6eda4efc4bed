"""The documentation keeps up with the code: every long option of every command (as ``main.py`` builds its
parsers) and every AWS IoT SQL function the rules engine accepts is named in README.md or docs/*.md."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from simulator.cli import app
from simulator.rules.sql.functions import FUNCTIONS
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def docs_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in DOCS)


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> Iterator[tuple[str, argparse.Action]]:
    """(command, option) for every option of ``parser`` and of its sub-commands, however deep."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))
        elif action.option_strings:
            yield " ".join(path), action


def long_options() -> list[tuple[str, tuple[str, ...]]]:
    """(command, its long spellings) per option, e.g. ``("bench", ("--model", "--models"))``; ``--help`` left out."""
    found = set()
    for parser in (app._run_parser(), app._sub_parser()):
        for command, action in commands(parser, ()):
            flags = tuple(f for f in action.option_strings if f.startswith("--") and f != "--help")
            if flags:
                found.add((command or "main.py", flags))
    return sorted(found)


def long_flags() -> list[tuple[str, str]]:
    return sorted({(command, flag) for command, flags in long_options() for flag in flags})


def mentioned(flag: str, text: str) -> bool:
    """``flag`` as a whole word: ``--broker`` is not mentioned by ``--broker-ca``."""
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def test_the_parsers_are_found():
    flags = long_flags()
    assert ("main.py", "--project") in flags and ("main.py", "--version") in flags
    assert ("fleet", "--baseline-seconds") in flags and ("models fetch", "--quiet") in flags
    assert ("users add", "--password-stdin") in flags and ("projects import", "--input-size") in flags
    assert {command for command, _ in flags} >= {"main.py", "models list", "models fetch", "bench", "fleet",
                                                  "projects import", "users add", "service install"}


def test_whole_word_matching():
    assert mentioned("--broker", "use `--broker HOST:PORT`")
    assert not mentioned("--broker", "`--broker-ca F` and --broker-cert")
    assert not mentioned("--duration", "--durations")


def test_every_long_option_is_documented():
    """An option counts as documented when one of its spellings is named (``--model`` for ``--model/--models``)."""
    text = docs_text()
    missing = [f"{command} {'/'.join(flags)}" for command, flags in long_options()
               if not any(mentioned(flag, text) for flag in flags)]
    assert not missing, f"options in --help that README.md and docs/*.md never name: {', '.join(missing)}"


def readme_sql_item() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^- \*\*SQL\*\*.*?(?=^- \*\*)", readme, re.S | re.M)
    assert found, "README.md has no '- **SQL**' item under Rules"
    return found.group(0)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_sql_function_is_listed_in_the_readme(name):
    """The README's SQL item names each function in backticks (``name`` or ``name(...)``, AWS's capitals allowed)."""
    listed = {m.lower() for m in re.findall(r"`([A-Za-z0-9_]+)\(?", readme_sql_item())}
    assert name in listed, f"the SQL function {name}() is accepted by the rules engine but not listed in README.md"
