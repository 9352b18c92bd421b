"""Real models of every format for the ``tfhub inspect`` tests, each built once per session:
TF2 SavedModels (reusable, signatures only, ``__call__`` without ``training``), the TF1 Hub
fixture module and the one the original 0.15.0 wrote, a module with reference variables,
image modules, a plain TF1 SavedModel, and SavedModels written by tf_keras and Keras 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.models import save_counting_model, save_reusable_model

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "src/tfhub/inspection/schema_v1.json"
IMAGE_SIZE = (224, 192)  # the image_module_info of the image module
FIXED_IMAGE_SHAPE = (None, 32, 48, 3)  # the images input of the module without it


@dataclass(frozen=True)
class Models:
    reusable: Path
    signatures_only: Path
    counting: Path
    hub_module: Path
    original_module: Path
    reference_module: Path
    image_module: Path
    fixed_image_module: Path
    tf1_saved_model: Path
    tf_keras_saved: Path
    keras3_export: Path


def _export_module(path: Path, module_fn: Any) -> Path:
    import tfhub
    from tf1.hub_fixture import export_module

    return export_module(tfhub.create_module_spec(module_fn), path)


def _reference_module_fn() -> None:
    """A module whose variable is a TF1 reference variable (``VariableV2``)."""
    import tensorflow as tf

    import tfhub

    x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
    w = tf.compat.v1.get_variable("w", initializer=tf.ones([3, 2]), use_resource=False)
    tfhub.add_signature(inputs=x, outputs=tf.matmul(x, w))


def _image_module_fn(shape: tuple[int | None, ...], size: tuple[int, int] | None) -> Any:
    def module_fn() -> None:
        import tensorflow as tf

        import tfhub

        images = tf.compat.v1.placeholder(tf.float32, list(shape), name="images")
        w = tf.compat.v1.get_variable("w", initializer=tf.ones([3, 4]))
        features = tf.matmul(tf.reduce_mean(images, [1, 2]), w)
        tfhub.add_signature(inputs={"images": images}, outputs={"default": features})
        if size is not None:
            info = tfhub.ImageModuleInfo()
            info.default_image_size.height, info.default_image_size.width = size
            tfhub.attach_image_module_info(info)

    return module_fn


def _tf1_saved_model(path: Path) -> Path:
    """A plain TF1 SavedModel (``SavedModelBuilder``): one resource and one reference
    variable, signature ``serving_default``: ``x`` -> ``y = x @ w + b``."""
    import tensorflow as tf

    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as session:
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        w = v1.get_variable("w", initializer=tf.ones([3, 2]), use_resource=True)
        b = v1.get_variable("b", initializer=tf.zeros([2]), use_resource=False)
        session.run(v1.global_variables_initializer())
        builder = v1.saved_model.Builder(str(path))
        signature = v1.saved_model.predict_signature_def({"x": x}, {"y": tf.matmul(x, w) + b})
        builder.add_meta_graph_and_variables(
            session, ["serve"], signature_def_map={"serving_default": signature}
        )
        builder.save()
    return path


def _tf_keras_saved(path: Path) -> Path:
    import tf_keras

    model = tf_keras.Sequential(
        [
            tf_keras.Input([4]),
            tf_keras.layers.Dense(3, kernel_regularizer=tf_keras.regularizers.L2(0.01)),
            tf_keras.layers.Dropout(0.5),
            tf_keras.layers.Dense(2),
        ]
    )
    model.save(str(path), save_format="tf")
    return path


def _keras3_export(path: Path) -> Path:
    import keras

    inputs = keras.Input([4])
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    model.export(str(path), verbose=False)
    return path


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    from tf1.hub_fixture import export_fixture

    root = tmp_path_factory.mktemp("inspect-models")
    return Models(
        reusable=save_reusable_model(root / "reusable"),
        signatures_only=save_reusable_model(root / "signatures_only", callable_root=False),
        counting=save_counting_model(root / "counting"),
        hub_module=export_fixture(root / "hub_module", root),
        original_module=Path(__file__).resolve().parents[1] / "tf1/data/original_0_15",
        reference_module=_export_module(root / "reference_module", _reference_module_fn),
        image_module=_export_module(
            root / "image_module", _image_module_fn((None, None, None, 3), IMAGE_SIZE)
        ),
        fixed_image_module=_export_module(
            root / "fixed_image_module", _image_module_fn(FIXED_IMAGE_SHAPE, None)
        ),
        tf1_saved_model=_tf1_saved_model(root / "tf1_saved_model"),
        tf_keras_saved=_tf_keras_saved(root / "tf_keras_saved"),
        keras3_export=_keras3_export(root / "keras3_export"),
    )


@dataclass(frozen=True)
class RiskyModels:
    text: Path  # needs tensorflow_text ops
    write_file: Path  # a WriteFile in a tf.cond branch (a nested function)
    embedded: Path  # a ReadFile in a GraphDef serialized into a constant (a nested graph)


@pytest.fixture(scope="session")
def risky(tmp_path_factory: pytest.TempPathFactory) -> RiskyModels:
    """The scan's risky models (``support.risky_models``), built once."""
    from support import risky_models

    root = tmp_path_factory.mktemp("inspect-risky")
    return RiskyModels(
        text=risky_models.save_text_model(root / "text"),
        write_file=risky_models.save_write_file_model(root / "write_file", root / "planted"),
        embedded=risky_models.save_embedded_graph_model(root / "embedded", str(root / "secret")),
    )


# -- a small JSON Schema checker (the subset schema_v1.json uses) -----------------------------

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def schema_errors(
    value: Any, schema: dict[str, Any], root: dict[str, Any], at: str = "$"
) -> list[str]:
    """What in ``value`` breaks ``schema`` (``type``, ``enum``, ``const``, ``properties``,
    ``required``, ``additionalProperties: false``, ``items``, ``anyOf``, local ``$ref``)."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return schema_errors(value, target, root, at)
    if "anyOf" in schema:
        options = [schema_errors(value, s, root, at) for s in schema["anyOf"]]
        return [] if any(not o for o in options) else [e for o in options for e in o]
    errors = []
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_is(value, n) for n in names):
            return [f"{at}: {value!r} is not of type {types}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{at}: {value!r} != {schema['const']!r}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{at}: missing {k}" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"{at}: unexpected {k}" for k in value if k not in properties]
        for key, sub in properties.items():
            if key in value:
                errors += schema_errors(value[key], sub, root, f"{at}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], root, f"{at}[{i}]")
    return errors


@pytest.fixture(scope="session")
def image_specs() -> tuple[tuple[int, int], tuple[int | None, ...]]:
    """The image size attached to ``image_module``; the ``images`` shape of the other."""
    return IMAGE_SIZE, FIXED_IMAGE_SHAPE


@pytest.fixture(scope="session")
def schema_check() -> Callable[[Any], list[str]]:
    """``schema_check(doc)``: what in ``doc`` breaks ``schema_v1.json`` ([] if nothing)."""
    schema = json.loads(SCHEMA_FILE.read_text())
    return lambda doc: schema_errors(doc, schema, schema)


def checkpoint_entries(model_dir: Path) -> list[tuple[str, list[int]]]:
    """What TensorFlow lists in the model's checkpoint (without the object graph entry)."""
    import tensorflow as tf

    entries = tf.train.list_variables(str(model_dir / "variables" / "variables"))
    return [(n, s) for n, s in entries if n != "_CHECKPOINTABLE_OBJECT_GRAPH"]


@pytest.fixture(scope="session")
def tf_checkpoint() -> Callable[[Path], list[tuple[str, list[int]]]]:
    """``tf_checkpoint(model_dir)``: the checkpoint's variables as TensorFlow lists them."""
    return checkpoint_entries


def run_tf_free(code: str) -> tuple[str, set[str]]:
    """Runs ``code`` in a fresh interpreter (without ``TF_USE_LEGACY_KERAS``), checks that it
    imported no TensorFlow, Keras or tf_keras, and returns its stdout and the modules it
    imported."""
    listing = "\nimport sys\nprint(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    proc = subprocess.run(
        [sys.executable, "-c", code + listing],
        capture_output=True, text=True, timeout=120, check=True, env=env,
    )  # fmt: skip
    modules = set(proc.stderr.split())
    assert not {m for m in modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")}
    return proc.stdout, modules


@pytest.fixture(scope="session")
def tf_free() -> Callable[[str], tuple[str, set[str]]]:
    """``tf_free(code)``: :func:`run_tf_free`."""
    return run_tf_free
