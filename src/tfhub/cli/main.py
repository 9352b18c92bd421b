"""Entry point and the ``download`` command."""

from __future__ import annotations

import logging
import os
import sys

import click

from tfhub._version import __version__
from tfhub.cli.cache_cmds import cache_group
from tfhub.cli.convert_cmd import convert_command
from tfhub.cli.inspect_cmd import inspect_cmd
from tfhub.cli.server_cmds import publish, publisher_group, serve, server_group, token_group
from tfhub.errors import HubError


class _HubErrors(click.Group):
    """Prints tfhub errors as one clear line (exit 1) instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except HubError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)


@click.group(cls=_HubErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tfhub")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Cache directory (default: $TFHUB_CACHE_DIR or the user cache directory).",
)
@click.option("-q", "--quiet", is_flag=True, help="Only print results and errors.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also print other libraries' messages (HTTP requests, ...).",
)
def cli(cache_dir: str | None, quiet: bool, verbose: bool) -> None:
    """Publish, find, load, fine-tune and convert reusable TensorFlow model pieces."""
    if quiet and verbose:
        raise click.UsageError("Use either -q/--quiet or -v/--verbose, not both.")
    if cache_dir is not None:
        os.environ["TFHUB_CACHE_DIR"] = os.path.abspath(cache_dir)
    _configure_logging(quiet=quiet, verbose=verbose)


def _own_or_important(record: logging.LogRecord) -> bool:
    """tfhub's messages, and other libraries' warnings and errors (not their INFO lines,
    such as httpx's "HTTP Request: POST ..." for every request)."""
    name = record.name
    return record.levelno >= logging.WARNING or name == "tfhub" or name.startswith("tfhub.")


def _configure_logging(*, quiet: bool, verbose: bool) -> None:
    """Messages go to stderr as plain lines: warnings and errors always; tfhub's progress
    (INFO) unless ``quiet``; other libraries' INFO lines only if ``verbose``. A program that
    configured logging itself (the root logger has handlers) is left alone."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    if not verbose:
        handler.addFilter(_own_or_important)
    root.addHandler(handler)
    root.setLevel(logging.WARNING if quiet else logging.INFO)


@cli.command()
@click.argument("handle")
def download(handle: str) -> None:
    """Download HANDLE into the cache (if needed) and print its local path."""
    from tfhub.hub import resolve

    click.echo(resolve(handle))


cli.add_command(cache_group)
cli.add_command(serve)
cli.add_command(publish)
cli.add_command(token_group)
cli.add_command(publisher_group)
cli.add_command(server_group)
cli.add_command(convert_command)
cli.add_command(inspect_cmd)


def main(argv: list[str] | None = None) -> None:
    """Runs the command line (``python -m tfhub`` or ``tfhub``)."""
    cli.main(args=argv, prog_name="tfhub")
