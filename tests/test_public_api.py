"""The public surface and the architecture rules: exported names, a TF-free core, layers
that only point down, and no dependency on the original tensorflow_hub."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tfhub

SRC = Path(tfhub.__file__).parent

EXPORTED = {
    "Cache", "CacheError", "CacheLockTimeoutError", "ConfigError", "ConvertError",
    "CorruptCacheError",
    "DownloadError", "ExportError", "GraphModeError", "Handle", "HandleError", "Hub",
    "HubError", "ImageModuleInfo", "IntegrityError", "KerasLayer", "LayerConfigError",
    "MissingDependencyError",
    "MissingOpError", "ModelFormatError", "ModelNotFoundError", "Module", "ModuleCallError",
    "ModuleDefinitionError", "ModuleLookupError", "ModuleSpec", "NotAnArchiveError",
    "OfflineError", "ServerError", "UnsafeArchiveError", "UnsafeModelError", "__version__",
    "add_signature",
    "attach_image_module_info", "attach_message", "check_reusable_saved_model", "convert",
    "create_module_spec", "eval_function_for_module", "get_expected_image_size",
    "get_num_image_channels", "inspect", "keras3", "load", "load_module_spec", "resolve",
    "tf_keras",
}  # fmt: skip


def test_exported_names_are_pinned() -> None:
    assert set(tfhub.__all__) == EXPORTED
    for name in tfhub.__all__:
        assert hasattr(tfhub, name), name


def test_errors_form_one_tree_with_builtin_bases() -> None:
    for name in tfhub.__all__:
        obj = getattr(tfhub, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, tfhub.HubError), name
    assert issubclass(tfhub.ModelNotFoundError, FileNotFoundError)
    assert issubclass(tfhub.OfflineError, ConnectionError)
    assert issubclass(tfhub.MissingDependencyError, ImportError)
    assert issubclass(tfhub.CacheLockTimeoutError, TimeoutError)
    assert issubclass(tfhub.LayerConfigError, ValueError)


def _imports_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return set(out.split())


def test_import_tfhub_and_resolving_never_import_tensorflow(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    code = (
        "import tfhub, tfhub.cli, tfhub.core.maintenance, tfhub.core.pack\n"
        "from tfhub.resolvers import local, http, object_store\n"
        f"tfhub.resolve({str(tmp_path / 'm')!r})"
    )
    modules = _imports_after(code)
    assert "tfhub.core.cache" in modules  # the probe really ran
    assert not {m for m in modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")}


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_nothing_above_it() -> None:
    upward = ("tfhub.hub", "tfhub.resolvers", "tfhub.cli", "tfhub.demo", "tensorflow", "keras")
    for path in (SRC / "core").glob("*.py"):
        bad = {m for m in _imported_modules(path) if m.startswith(upward)}
        assert not bad, f"{path.name} imports {bad}"


def test_src_never_depends_on_the_original_library() -> None:
    for path in SRC.rglob("*.py"):
        assert not any(m.startswith("tensorflow_hub") for m in _imported_modules(path)), path
