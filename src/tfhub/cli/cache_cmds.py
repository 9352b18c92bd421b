"""``tfhub cache ls | verify | rm | prune``."""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any

import click

from tfhub.config import Settings
from tfhub.core.cache import Cache, CacheEntry, default_cache_root
from tfhub.core.handle import redact_url
from tfhub.core.maintenance import prune as prune_cache
from tfhub.core.maintenance import verify as verify_cache
from tfhub.core.progress import format_size
from tfhub.hub import parse_handle


def _cache() -> Cache:
    return Cache(default_cache_root(Settings.from_env()))


def _status(cache: Cache, entry: CacheEntry) -> str:
    if not entry.complete:
        return "incomplete"
    path, problems = cache.check(entry.key)
    return "ok" if path else "damaged: " + "; ".join(problems[:2])


@click.group("cache")
def cache_group() -> None:
    """Inspect and maintain the model cache."""


@cache_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def ls(as_json: bool) -> None:
    """List cached models: handle, size, files, install time, status."""
    cache = _cache()
    rows: list[dict[str, Any]] = []
    for e in cache.entries():
        m = e.manifest
        rows.append(
            {
                "handle": redact_url(m.handle) if m else "?",
                "key": e.key,
                "path": e.model_dir,
                "bytes": e.size,
                "files": len(m.entries) if m else 0,
                "installed": datetime.datetime.fromtimestamp(m.installed_at).isoformat(
                    timespec="seconds"
                )
                if m and m.installed_at
                else "",
                "status": _status(cache, e),
            }
        )
    if as_json:
        click.echo(json.dumps({"cache": cache.root, "models": rows}, indent=1))
        return
    click.echo(f"cache: {cache.root}")
    if not rows:
        click.echo("(empty)")
    for r in rows:
        click.echo(
            f"{r['handle']}\n    {format_size(r['bytes'])}, {r['files']} files, "
            f"installed {r['installed'] or '?'}, {r['status']}\n    {r['path']}"
        )


@cache_group.command()
@click.argument("handle", required=False)
def verify(handle: str | None) -> None:
    """Check the sha256 of every cached file (of HANDLE, or of all models).

    Damaged models are marked so that the next use downloads them again. Exits 1 if any
    model was damaged."""
    cache = _cache()
    entries = cache.entries()
    if handle is not None:
        key = parse_handle(handle).cache_key
        entries = [e for e in entries if e.key == key]
        if not entries:
            raise click.ClickException(f"{handle} is not in the cache ({cache.root}).")
    bad = 0
    for result in verify_cache(cache, entries):
        name = (
            redact_url(result.entry.manifest.handle) if result.entry.manifest else result.entry.key
        )
        if result.ok:
            click.echo(f"ok       {name}")
        else:
            bad += 1
            click.echo(
                f"damaged  {name}: {'; '.join(result.problems)} "
                "(will be downloaded again on next use)"
            )
    click.echo(f"{len(entries) - bad} ok, {bad} damaged")
    if bad:
        sys.exit(1)


@cache_group.command()
@click.argument("handle")
def rm(handle: str) -> None:
    """Remove HANDLE's model (and any partial download) from the cache."""
    cache = _cache()
    if not cache.remove(parse_handle(handle)):
        raise click.ClickException(f"{handle} is not in the cache ({cache.root}).")
    click.echo(f"removed {handle}")


@cache_group.command()
@click.option(
    "--older-than",
    "days",
    type=float,
    default=None,
    metavar="DAYS",
    help="Also remove models installed more than DAYS days ago.",
)
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
def prune(days: float | None, dry_run: bool) -> None:
    """Remove damaged or incomplete models, leftovers of killed downloads, and partial
    downloads (models being installed right now are left alone)."""
    report = prune_cache(_cache(), older_than_days=days, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for path in report.removed:
        click.echo(f"{verb} {path}")
    for path in report.skipped_busy:
        click.echo(f"busy, kept {path}")
    click.echo(f"{verb} {len(report.removed)} items, {format_size(report.freed_bytes)}")
