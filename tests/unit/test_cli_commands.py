"""The lazy `finops` root: its table matches the modules; help imports nothing."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import typer

import finops_tools.cli as cli_package
from finops_tools.cli import COMMANDS
from finops_tools.cli.lazy import _load

# Modules of the package that are the root's machinery, not command groups.
_MACHINERY = {
    "__main__",
    "allocate_plain",
    "commands",
    "lazy",
    "quickexit",
    "root",
    "stack_address",
}


def _command_modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(cli_package.__path__)
        if info.name not in _MACHINERY
    )


def _registered_names(module: str) -> set[str]:
    holder = typer.Typer()

    @holder.callback()
    def _holder() -> None:
        """A group."""

    importlib.import_module(f"finops_tools.cli.{module}").register(holder)
    group = typer.main.get_command(holder)
    assert isinstance(group, typer.core.TyperGroup)
    return set(group.commands)


def test_every_module_command_is_in_the_table_with_its_module() -> None:
    for module in _command_modules():
        for name in _registered_names(module):
            assert name in COMMANDS, f"{module} registers {name!r}, not in COMMANDS"
            assert COMMANDS[name].module == module


def test_every_table_entry_loads_with_the_same_one_line_help() -> None:
    for name, entry in COMMANDS.items():
        command = _load(entry.module, name)
        assert command.name == name
        shown = (command.short_help or command.help or "").strip()
        assert shown.splitlines()[0] == entry.help, name


def _modules_loaded_by(args: list[str]) -> set[str]:
    probe = (
        "import sys\n"
        f"sys.argv = ['finops', *{args!r}]\n"
        "from finops_tools.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return set(done.stderr.split())


def test_help_imports_no_command_module_nor_heavy_library() -> None:
    loaded = _modules_loaded_by(["--help"])
    assert {f"finops_tools.cli.{m}" for m in _command_modules()}.isdisjoint(loaded)
    assert {"numpy", "pyarrow", "asyncpg", "aiokafka", "pydantic"}.isdisjoint(loaded)


def test_a_command_imports_only_its_own_module() -> None:
    loaded = _modules_loaded_by(["synth", "--help"])
    assert "finops_tools.cli.allocation" in loaded
    others = {f"finops_tools.cli.{m}" for m in _command_modules()} - {
        "finops_tools.cli.allocation"
    }
    assert others.isdisjoint(loaded)
