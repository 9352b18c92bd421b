"""Publishing a version: check everything, then make it visible in one step.

1. the uploaded archive is extracted with the client cache's hostile-archive rules and the
   server's size limits (a single folder wrapping the model is accepted too);
2. it must be a model (TF2 SavedModel, TF1 Hub module, TF1 SavedModel), and it is inspected
   (``tfhub inspect``'s report, risky-op scan included): a model that cannot be inspected
   is refused (:mod:`tfhub.server.inspect_step`);
3. it is packed once as ``.tar.gz`` (what every client reads) and ``.tar.zst`` (faster to
   unpack, for tfhub clients), sha256 computed;
4. both archives and the unpacked folder go to storage under a fresh prefix
   ``objects/<time>-<random>/``, which nothing points to yet;
5. one database transaction adds the version (:mod:`tfhub.server.versions`). If the version
   exists (HTTP 409) or anything fails, the staged objects are deleted. If the process dies
   before the commit, they stay unreferenced until :mod:`tfhub.server.gc` removes them.

Example (``hub`` a :class:`~tfhub.server.context.HubContext`)::

    published = publish(hub, viewer, PublishRequest("research", "encoder", None, "m.tar.gz"))
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass

from tfhub.core.archive import Limits, extract_archive
from tfhub.core.formats import HUB_MODULE_PB, SAVED_MODEL_PB
from tfhub.core.pack import pack_archive
from tfhub.errors import DownloadError, NotAnArchiveError, ServerError, UnsafeArchiveError
from tfhub.server.access import Viewer
from tfhub.server.context import HubContext
from tfhub.server.inspect_step import Inspected, inspect_model
from tfhub.server.names import check_name
from tfhub.server.public_errors import without_paths
from tfhub.server.settings import ServerSettings

logger = logging.getLogger("tfhub.server")

OBJECTS = "objects"
"""Top-level storage prefix of every version's objects."""
STAMP = "%Y%m%dT%H%M%SZ"
MAX_TAGS = 32
MAX_DESCRIPTION = 1000


@dataclass(frozen=True)
class PublishRequest:
    """What a publisher sends: where, which version (None: the next one), the archive
    (a local file), and optional README, description and tags."""

    publisher: str
    model: str
    version: int | None
    archive_path: str
    readme: str = ""
    description: str | None = None
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Staged:
    """A checked, packed model in storage that no database row points to yet."""

    prefix: str
    inspected: Inspected
    unpacked_bytes: int
    file_count: int
    model_key: str
    gzip: tuple[str, int, str]  # key, bytes, sha256
    zstd: tuple[str, int, str]


def new_prefix(now: dt.datetime | None = None) -> str:
    """A fresh storage prefix: ``objects/<UTC time>-<random hex>`` (the time lets cleanup
    leave young, possibly in-progress uploads alone)."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{OBJECTS}/{now.strftime(STAMP)}-{uuid.uuid4().hex}"


def check_tags(tags: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Lowercased, de-duplicated, sorted tags; each follows the name rules."""
    if tags is None:
        return None
    cleaned = sorted({check_name(t.strip().lower(), "tag") for t in tags if t.strip()})
    if len(cleaned) > MAX_TAGS:
        raise ServerError(f"Too many tags ({len(cleaned)}); at most {MAX_TAGS}.", code="invalid")
    return tuple(cleaned)


def check_request(request: PublishRequest) -> PublishRequest:
    """Validates names, tags and description (400 on bad input)."""
    check_name(request.publisher, "publisher")
    check_name(request.model, "model")
    check_tags(request.tags)
    if request.description is not None and len(request.description) > MAX_DESCRIPTION:
        raise ServerError(
            f"The description has {len(request.description)} characters; at most "
            f"{MAX_DESCRIPTION}. Put the details in the README.",
            code="invalid",
        )
    return request


def publish(hub: HubContext, viewer: Viewer, request: PublishRequest) -> int:
    """Runs every step; returns the version number that is now visible.

    Raises:
        ServerError: 400/401/403/409/413/422 with a message saying what to do.
    """
    from tfhub.server.versions import commit_version, precheck

    check_request(request)
    precheck(hub, viewer, request)
    work = tempfile.mkdtemp(prefix="tfhub-publish-", dir=hub.settings.work_dir)
    prefix = new_prefix()
    try:
        staged = stage(hub, request, work, prefix)
        number = commit_version(hub, viewer, request, staged)
    except BaseException:
        with contextlib.suppress(Exception):
            hub.storage.delete_prefix(prefix)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info(
        "published %s/%s/%d (%s, %d bytes)",
        request.publisher,
        request.model,
        number,
        staged.inspected.format,
        staged.unpacked_bytes,
    )
    return number


def stage(hub: HubContext, request: PublishRequest, work: str, prefix: str) -> Staged:
    """Steps 1-4: unpack, inspect, pack, upload under ``prefix``."""
    unpacked = os.path.join(work, "unpacked")
    os.mkdir(unpacked)
    label = f"{request.publisher}/{request.model}"
    name = f"the upload to {label}"
    model_dir = unpacked
    try:
        sizes = unpack(request.archive_path, unpacked, hub.settings, label=label)
        model_dir = model_root(unpacked)
        inspected = inspect_model(model_dir, name)
    except ServerError as e:  # messages name the upload, not the server's folders
        roots = [model_dir, unpacked, work, os.path.dirname(request.archive_path)]
        raise without_paths(e, roots, name) from e
    gzip = pack(model_dir, os.path.join(work, "model.tar.gz"), "gzip")
    zstd = pack(model_dir, os.path.join(work, "model.tar.zst"), "zstd")
    storage = hub.storage
    storage.put_file(f"{prefix}/model.tar.gz", gzip[0], move=True)
    storage.put_file(f"{prefix}/model.tar.zst", zstd[0], move=True)
    storage.put_tree(f"{prefix}/model", model_dir, move=True)
    return Staged(
        prefix=prefix,
        inspected=inspected,
        unpacked_bytes=sizes[0],
        file_count=sizes[1],
        model_key=f"{prefix}/model",
        gzip=(f"{prefix}/model.tar.gz", gzip[1], gzip[2]),
        zstd=(f"{prefix}/model.tar.zst", zstd[1], zstd[2]),
    )


def unpack(archive: str, dest: str, settings: ServerSettings, *, label: str) -> tuple[int, int]:
    """Safely extracts ``archive`` into ``dest``; returns (unpacked bytes, files)."""
    limits = Limits(max_bytes=settings.max_model_bytes, max_members=settings.max_model_files)
    try:
        with open(archive, "rb") as stream:
            entries = extract_archive(stream, dest, label=label, limits=limits)
    except NotAnArchiveError as e:
        raise ServerError(
            "The upload is not a model archive: send a .tar.gz, .tar.zst or .tar of the model "
            "folder (tfhub publish DIR packs one).",
            code="not_an_archive",
        ) from e
    except UnsafeArchiveError as e:
        if "limit" in str(e):
            raise ServerError(
                f"The model is larger than this hub accepts ({settings.max_model_bytes} bytes "
                f"unpacked, {settings.max_model_files} files; the operator sets "
                f"TFHUB_SERVER_MAX_MODEL_BYTES / _FILES): {e}",
                status=413,
                code="too_large",
            ) from e
        raise ServerError(f"The archive was refused: {e}", status=422, code="unsafe_archive") from e
    except DownloadError as e:  # the archive ends early or is damaged
        raise ServerError(f"The archive is damaged: {e}", code="damaged_archive") from e
    return sum(e.size for e in entries), len(entries)


def model_root(unpacked: str) -> str:
    """``unpacked``, or its only sub-folder if that holds the model (``tar czf m.tgz m/``)."""
    names = os.listdir(unpacked)
    if any(n in (SAVED_MODEL_PB, HUB_MODULE_PB) for n in names) or len(names) != 1:
        return unpacked
    inner = os.path.join(unpacked, names[0])
    if os.path.isdir(inner) and not os.path.islink(inner):
        return inner
    return unpacked


def pack(model_dir: str, out: str, compression: str) -> tuple[str, int, str]:
    """Packs ``model_dir``; returns (path, bytes, sha256)."""
    digest = hashlib.sha256()
    pack_archive(model_dir, out, compression=compression, level=6, digest=digest)
    return out, os.path.getsize(out), digest.hexdigest()
