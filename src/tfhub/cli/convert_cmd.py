"""``tfhub convert SRC DST``: a TF1 Hub module to a TF2 Reusable SavedModel (TensorFlow is
imported only when the command runs)."""

from __future__ import annotations

import logging
import signal
import sys

import click


def _split_tags(values: tuple[str, ...]) -> list[str] | None:
    """``--tags a,b --tags c`` -> ``["a", "b", "c"]``; no option -> None (the empty set)."""
    if not values:
        return None
    return [tag.strip() for value in values for tag in value.split(",") if tag.strip()]


@click.command("convert")
@click.argument("src")
@click.argument("dst", type=click.Path(file_okay=False))
@click.option(
    "--tags",
    multiple=True,
    metavar="T1,T2",
    help="Graph variant used for inference, as in hub.Module(tags=...) (comma-separated or "
    "repeated; default: the empty tag set). training=True runs the `train` variant.",
)
@click.option("--no-verify", is_flag=True, help="Do not compare the result with the module.")
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Largest difference accepted when verifying (absolute up to 1, relative above; "
    "default 1e-5).",
)
@click.option("--overwrite", is_flag=True, help="Replace DST if it exists and is not empty.")
def convert_command(
    src: str, dst: str, tags: tuple[str, ...], no_verify: bool, tolerance: float | None,
    overwrite: bool,
) -> None:  # fmt: skip
    """Convert the TF1 Hub module SRC (any handle) into a TF2 Reusable SavedModel in DST.

    The result is verified: the module and the converted model run on sample inputs for
    every signature, and the command fails (exit 1, nothing written) if they differ beyond
    the tolerance. Progress goes to stderr, the summary to stdout.
    """
    from tfhub.tf1.convert import DEFAULT_TOLERANCE, convert

    for name in ("tensorflow", "absl"):  # TensorFlow's deprecation and saving notes
        logging.getLogger(name).setLevel(logging.ERROR)
    # SIGTERM (kill, a CI timeout) unwinds like Ctrl-C, so the staging directory is removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    report = convert(
        src,
        dst,
        _split_tags(tags),
        verify=not no_verify,
        tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
        overwrite=overwrite,
    )
    click.echo(report.summary())
