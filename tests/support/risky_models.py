"""Real SavedModels for the risky-op scan (imports TensorFlow: use only from TF tests).

Each ``save_*`` function writes one model with ``tf.saved_model.save`` (or the TF1 builder)
and returns its directory. The risky ones plant a file-system or Python op somewhere a quick
look at the main graph would not find it: in a ``tf.cond`` branch, a dataset ``map`` function,
a GraphDef serialized into a constant.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

VOCAB = ["a", "b", "c"]


def save_write_file_model(path: Path, target: Path) -> Path:
    """``__call__(x)`` returns ``x + 1`` when ``x > 0`` and then writes ``x`` into
    ``target`` (``tf.io.write_file`` in the ``then`` branch of a ``tf.cond``), else
    ``x - 1``."""

    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            def write() -> tf.Tensor:
                tf.io.write_file(str(target), tf.strings.as_string(x))
                return x + 1

            return tf.cond(x > 0, write, lambda: x - 1)

    tf.saved_model.save(Writer(), str(path))
    return path


def save_read_file_model(path: Path) -> Path:
    """``__call__(paths)`` reads the files named by ``paths`` in a dataset ``map`` function
    (``tf.io.read_file``) and returns their total length."""

    class Reader(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, paths: tf.Tensor) -> tf.Tensor:
            contents = tf.data.Dataset.from_tensor_slices(paths).map(tf.io.read_file)
            return contents.reduce(tf.constant(0), lambda n, c: n + tf.strings.length(c))

    tf.saved_model.save(Reader(), str(path))
    return path


def save_embedded_graph_model(path: Path, secret: str) -> Path:
    """``__call__()`` rebuilds a dataset from a serialized GraphDef held in a constant
    (``DatasetFromGraph``); that graph's ``map`` function reads ``secret``."""
    dataset = tf.data.Dataset.from_tensor_slices([secret]).map(tf.io.read_file)
    graph_def = tf.raw_ops.DatasetToGraphV2(input_dataset=dataset._variant_tensor).numpy()

    class Hidden(tf.Module):
        @tf.function(input_signature=[])
        def __call__(self) -> tf.Tensor:
            variant = tf.raw_ops.DatasetFromGraph(graph_def=tf.constant(graph_def))
            rebuilt = tf.data.experimental.from_variant(variant, tf.TensorSpec([], tf.string))
            return rebuilt.reduce(tf.constant(0), lambda n, c: n + tf.strings.length(c))

    tf.saved_model.save(Hidden(), str(path))
    return path


def save_py_function_model(path: Path) -> Path:
    """``__call__(x)`` doubles ``x`` in Python (``tf.py_function``: saves, cannot reload)."""

    class Python(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            return tf.py_function(lambda a: a * 2, [x], tf.float32)

    tf.saved_model.save(Python(), str(path))
    return path


def save_raw_save_model(path: Path, stolen: Path, secret: str) -> Path:
    """``__call__()`` writes its variable to the checkpoint ``stolen`` with a raw ``SaveV2``
    (outside the checkpoint machinery) and returns the content of the file ``secret``."""

    class Saver(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.v = tf.Variable([1.0, 2.0])

        @tf.function(input_signature=[])
        def __call__(self) -> tf.Tensor:
            tf.raw_ops.SaveV2(
                prefix=str(stolen), tensor_names=["v"], shape_and_slices=[""],
                tensors=[self.v.read_value()],
            )  # fmt: skip
            return tf.io.read_file(secret)

    tf.saved_model.save(Saver(), str(path))
    return path


def save_text_model(path: Path) -> Path:
    """``__call__(texts)`` splits ``texts`` on whitespace with ``tensorflow_text``'s
    ``WhitespaceTokenizer`` and returns the flat tokens."""
    import tensorflow_text as text

    class Tokenizer(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tokenizer = text.WhitespaceTokenizer()

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, texts: tf.Tensor) -> tf.Tensor:
            return self.tokenizer.tokenize(texts).flat_values

    tf.saved_model.save(Tokenizer(), str(path))
    return path


def save_vocab_table_model(path: Path, workdir: Path) -> Path:
    """``__call__(words)`` looks ``words`` up in a vocabulary file saved as an asset
    (``InitializeTableFromTextFileV2`` on the asset; unknown words give -1)."""
    vocab = workdir / "vocab.txt"
    vocab.write_text("".join(w + "\n" for w in VOCAB))

    class Lookup(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            init = tf.lookup.TextFileInitializer(
                str(vocab), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
            )  # fmt: skip
            self.table = tf.lookup.StaticHashTable(init, -1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, words: tf.Tensor) -> tf.Tensor:
            return self.table.lookup(words)

    tf.saved_model.save(Lookup(), str(path))
    return path


def save_tf1_saved_model(path: Path, workdir: Path) -> Path:
    """A TF1 SavedModel (``SavedModelBuilder``) with a ``Saver`` (``save/SaveV2``,
    ``save/RestoreV2``), a variable and a vocabulary asset read into a lookup table."""
    v1 = tf.compat.v1
    vocab = workdir / "tf1_vocab.txt"
    vocab.write_text("".join(w + "\n" for w in VOCAB))
    with tf.Graph().as_default(), v1.Session() as session:
        words = v1.placeholder(tf.string, [None], name="words")
        scale = v1.get_variable("scale", initializer=tf.constant(2, tf.int64))
        asset = tf.constant(str(vocab), name="vocab_path")
        v1.add_to_collection(v1.GraphKeys.ASSET_FILEPATHS, asset)
        init = tf.lookup.TextFileInitializer(
            asset, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
            tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
        )  # fmt: skip
        ids = tf.lookup.StaticVocabularyTable(init, 1).lookup(words) * scale
        session.run([v1.global_variables_initializer(), v1.tables_initializer()])
        builder = v1.saved_model.Builder(str(path))
        builder.add_meta_graph_and_variables(
            session, ["serve"],
            signature_def_map={
                "serving_default": v1.saved_model.predict_signature_def({"w": words}, {"i": ids})
            },
            assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS),
            main_op=v1.tables_initializer(),
        )  # fmt: skip
        builder.save()
    return path
