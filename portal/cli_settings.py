"""`portal settings`: the settings reference and `.env.example`, generated from the model."""

from __future__ import annotations

import click

from portal.settings import reference


@click.group()
def settings() -> None:
    """The portal's settings."""


@settings.command("reference")
@click.option("--write", is_flag=True, help="Write docs/reference/settings.md and .env.example.")
@click.option("--check", is_flag=True, help="Fail when either file is not what it renders now.")
def reference_command(write: bool, check: bool) -> None:
    """Print the settings reference (Markdown), or write or check the generated files."""
    if write:
        for path in reference.write():
            click.echo(f"wrote {path}")
    elif check:
        stale = reference.outdated()
        if stale:
            names = ", ".join(str(path) for path in stale)
            raise click.ClickException(f"{names} out of date: run `{reference.COMMAND}`")
    else:
        click.echo(reference.render_markdown(), nl=False)
