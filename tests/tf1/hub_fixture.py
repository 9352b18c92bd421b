"""The TF1 Hub module the tests of ``tests/tf1`` use (imports TensorFlow).

Two graph variants of one ``module_fn``: inference (no tags) and ``{"train"}``, which adds
batch-norm style statistics (a moving mean updated through UPDATE_OPS) and dropout.

* signature ``default``: ``x`` (float32 ``[None, 3]``) -> ``default`` = ``relu(x @ kernel +
  bias)`` minus the moving mean (inference) or minus the batch mean, then dropout (train);
  ``hidden`` = the ``relu`` part;
* signature ``words``: ``words`` (a sparse string tensor ``[None, None]``) -> ``default`` =
  the sum of the words' embedding rows (words looked up in the vocabulary asset
  ``vocab.txt``; unknown words share the last row); ``ids`` = the sparse word ids;
* L2 regularizers on ``dense/kernel`` and ``embeddings``; an attached ``HistogramProto``
  under ``fixture_info``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

import tfhub.tf1 as hub

IN, OUT = 3, 2
L2 = 0.01
MOMENTUM = 0.5
DROPOUT = 0.5
KERNEL = np.array([[0.5, -1.0], [0.25, 2.0], [1.0, 0.5]], np.float32)
BIAS = np.array([0.1, -0.2], np.float32)
VOCAB = ["a", "b", "c"]
EMBEDDINGS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, -1.0]], np.float32)
MESSAGE_KEY = "fixture_info"
X = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [-1.0, 0.5, 2.0], [2.0, -1.0, 0.5]], np.float32)
WORDS = [["a", "c"], ["zzz"], ["b", "b", "a"]]
Y = (X @ np.array([[1.0], [-1.0], [0.5]], np.float32)).astype(np.float32)  # targets to fit
VARIABLES = ["bn/moving_mean:0", "dense/bias:0", "dense/kernel:0", "embeddings:0"]  # sorted
TRAINABLE_VARIABLES = ["dense/bias:0", "dense/kernel:0", "embeddings:0"]
REGULARIZATION = sorted([L2 * float(np.sum(KERNEL**2)), L2 * float(np.sum(EMBEDDINGS**2))])
"""The regularization losses with the initial weights, sorted."""


def message() -> Any:
    return tf.compat.v1.HistogramProto(min=-1.0, max=2.5, num=7.0)


def _l2(weights: Any) -> Any:
    return L2 * tf.reduce_sum(tf.square(weights))


def _dense(x: Any, training: bool) -> dict[str, Any]:
    v1 = tf.compat.v1
    kernel = v1.get_variable("dense/kernel", initializer=KERNEL, regularizer=_l2)
    bias = v1.get_variable("dense/bias", initializer=BIAS)
    moving_mean = v1.get_variable(
        "bn/moving_mean", initializer=np.zeros(OUT, np.float32), trainable=False
    )
    hidden = tf.nn.relu(tf.matmul(x, kernel) + bias)
    if not training:
        return {"default": hidden - moving_mean, "hidden": hidden}
    mean = tf.reduce_mean(hidden, axis=0)
    update = moving_mean.assign(MOMENTUM * moving_mean + (1 - MOMENTUM) * mean)
    v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update.op)
    return {"default": v1.nn.dropout(hidden - mean, rate=DROPOUT), "hidden": hidden}


def _words(words: Any, vocab: str) -> dict[str, Any]:
    init = tf.lookup.TextFileInitializer(
        vocab, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
        tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
    )  # fmt: skip
    table = tf.lookup.StaticVocabularyTable(init, num_oov_buckets=1)
    embeddings = tf.compat.v1.get_variable("embeddings", initializer=EMBEDDINGS, regularizer=_l2)
    ids = table.lookup(words)
    vectors = tf.nn.embedding_lookup_sparse(embeddings, ids, None, combiner="sum")
    return {"default": vectors, "ids": ids}


def module_fn(training: bool, vocab: str) -> None:
    v1 = tf.compat.v1
    x = v1.placeholder(tf.float32, [None, IN], name="x")
    hub.add_signature(inputs={"x": x}, outputs=_dense(x, training))
    words = v1.sparse_placeholder(tf.string, [None, None], name="words")
    hub.add_signature("words", inputs={"words": words}, outputs=_words(words, vocab))
    hub.attach_message(MESSAGE_KEY, message())


def write_vocab(path: Path) -> Path:
    path.write_text("".join(w + "\n" for w in VOCAB))
    return path


def create_spec(workdir: Path) -> Any:
    """The fixture's ModuleSpec, its vocabulary written in ``workdir``."""
    vocab = str(write_vocab(workdir / "vocab.txt"))
    return hub.create_module_spec(
        module_fn,
        tags_and_args=[
            ({"train"}, {"training": True, "vocab": vocab}),
            (set(), {"training": False, "vocab": vocab}),
        ],
    )


def export_module(spec: Any, path: Path) -> Path:
    """Exports the module of ``spec`` with its initial weights to ``path``."""
    with tf.Graph().as_default():
        module = hub.Module(spec)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            module.export(str(path), session)
    return path


def export_fixture(path: Path, workdir: Path) -> Path:
    """Creates the fixture module and exports it, with its initial weights, to ``path``."""
    return export_module(create_spec(workdir), path)


def dense_reference(x: np.ndarray, moving_mean: np.ndarray | None = None) -> np.ndarray:
    """The inference output of the ``default`` signature with the initial weights."""
    mean = np.zeros(OUT, np.float32) if moving_mean is None else moving_mean
    return np.maximum(x @ KERNEL + BIAS, 0) - mean


def batch_mean() -> np.ndarray:
    """The batch mean of ``hidden`` over ``X`` with the initial weights (what the train
    variant subtracts and moves the moving mean towards)."""
    return np.asarray(np.maximum(X @ KERNEL + BIAS, 0).mean(axis=0))


def words_reference(batch: list[list[str]]) -> np.ndarray:
    ids = [[VOCAB.index(w) if w in VOCAB else len(VOCAB) for w in row] for row in batch]
    return np.array([EMBEDDINGS[row].sum(axis=0) for row in ids], np.float32)


def sparse_words(batch: list[list[str]]) -> Any:
    """``batch`` as a ``tf.compat.v1.SparseTensorValue`` (to feed or pass)."""
    indices = [[i, j] for i, row in enumerate(batch) for j in range(len(row))]
    values = [w for row in batch for w in row]
    shape = [len(batch), max(len(row) for row in batch)]
    return tf.compat.v1.SparseTensorValue(indices, values, shape)


def sparse_tensor(batch: list[list[str]]) -> tf.SparseTensor:
    """``batch`` as a ``tf.SparseTensor`` (the input of the ``words`` signature)."""
    return tf.SparseTensor.from_value(sparse_words(batch))


def words_inputs(batch: list[list[str]]) -> dict[str, tf.Tensor]:
    """``batch`` as the flat inputs of a ``words`` serving signature of a TF2 SavedModel
    (``words_indices``, ``words_values``, ``words_dense_shape``)."""
    words = sparse_tensor(batch)
    return {
        "words_indices": words.indices,
        "words_values": words.values,
        "words_dense_shape": words.dense_shape,
    }
