"""A Typer group that imports a command's module only when that command runs."""

from __future__ import annotations

import importlib
from typing import Any

import typer

# Typer vendors its own click (typer>=0.23; pinned in constraints.txt): its types,
# not the click package's, are the ones a Typer group holds.
from typer import _click as click
from typer.core import TyperCommand, TyperGroup

from finops_tools.cli.commands import COMMANDS

__all__ = ["LazyGroup"]


class LazyGroup(TyperGroup):
    """Root group: eager commands as usual, the others from `COMMANDS` on demand.

    While help is being formatted, a lazy command is a placeholder carrying its
    one-line help, so listing the commands imports none of their modules.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = [name for name in super().list_commands(ctx) if name not in COMMANDS]
        return eager + list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        entry = COMMANDS[cmd_name]
        if self._listing:
            return TyperCommand(cmd_name, help=entry.help, short_help=entry.help)
        command = _load(entry.module, cmd_name)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _load(module: str, name: str) -> click.Command:
    """Import `finops_tools.cli.<module>`, let it register, and take command `name`."""
    holder = typer.Typer()

    @holder.callback()
    def _holder() -> None:
        """Forces a group, whatever the module registers."""

    importlib.import_module(f"finops_tools.cli.{module}").register(holder)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)  # the callback makes it one
    command = group.commands.get(name)
    if command is None:
        raise LookupError(f"finops_tools.cli.{module} registers no command {name!r}")
    return command
