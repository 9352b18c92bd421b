"""``tfhub inspect HANDLE [--json]``: what a model is and how to use it (TensorFlow is not
imported)."""

from __future__ import annotations

import click


@click.command("inspect")
@click.argument("handle")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report as JSON (schema tfhub.inspect/1)."
)
def inspect_cmd(handle: str, as_json: bool) -> None:
    """Report HANDLE's format, signatures, variables, required op libraries, risky ops and
    its compatibility table (downloading it into the cache if needed)."""
    from tfhub.inspection import inspect

    report = inspect(handle)
    if as_json:
        click.echo(report.to_json())
        return
    from tfhub.inspection.render import render

    click.echo(render(report))
