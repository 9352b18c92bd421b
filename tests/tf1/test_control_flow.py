"""``Module`` calls inside ``tf.cond`` / ``tf.while_loop`` bodies in a TF2 ``tf.Graph``
(TF2 control flow: the bodies are function graphs that capture the module's state); TF1
control flow is covered by ``compat_scripts/use_module.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import tfhub.tf1 as hub
from tf1.hub_fixture import WORDS, X, dense_reference, sparse_words, words_reference
from tfhub.errors import GraphModeError

v1 = tf.compat.v1


@pytest.fixture
def graph() -> Iterator[tf.Graph]:
    with tf.Graph().as_default() as g:
        yield g


def _run(fetches: Any) -> Any:
    with v1.Session() as session:
        session.run([v1.global_variables_initializer(), v1.tables_initializer()])
        return session.run(fetches)


def test_calls_inside_cond_and_while_loop(graph: tf.Graph, hub_module: Path) -> None:
    m = hub.Module(hub_module)
    x = tf.constant(X)  # made outside the bodies: captured, like the module's state
    words = sparse_words(WORDS)
    taken = tf.cond(tf.constant(True), lambda: m(x), lambda: tf.zeros([len(X), 2]))
    skipped = tf.cond(tf.constant(False), lambda: m(x), lambda: tf.zeros([len(X), 2]))
    looped = tf.while_loop(
        lambda i, acc: i < 3, lambda i, acc: (i + 1, acc + m(x)), [0, tf.zeros([len(X), 2])]
    )[1]
    embedded = tf.cond(
        tf.constant(True),
        lambda: m(words, signature="words"),
        lambda: tf.zeros([len(WORDS), 2]),
    )
    out = _run({"taken": taken, "skipped": skipped, "looped": looped, "embedded": embedded})
    np.testing.assert_allclose(out["taken"], dense_reference(X), rtol=1e-6)
    np.testing.assert_allclose(out["skipped"], np.zeros([len(X), 2]))
    np.testing.assert_allclose(out["looped"], 3 * dense_reference(X), rtol=1e-6)
    np.testing.assert_allclose(out["embedded"], words_reference(WORDS), rtol=1e-6)


def test_training_inside_cond_updates_shared_state(graph: tf.Graph, hub_module: Path) -> None:
    m = hub.Module(hub_module, trainable=True, tags={"train"})
    x = tf.constant(X)
    loss = tf.cond(
        tf.constant(True),
        lambda: tf.reduce_sum(m(x, as_dict=True)["hidden"]),
        lambda: tf.constant(0.0),
    )
    step = v1.train.GradientDescentOptimizer(0.1).minimize(loss)
    kernel = m.variable_map["dense/kernel"]
    with v1.Session() as session:
        session.run([v1.global_variables_initializer(), v1.tables_initializer()])
        before = session.run(kernel)
        session.run(step)
        after = session.run(kernel)
    assert not np.allclose(before, after), "the gradient did not reach the module's kernel"


def test_module_cannot_be_created_inside_a_body(graph: tf.Graph, hub_module: Path) -> None:
    with pytest.raises(GraphModeError, match="Create it outside and call it inside"):
        tf.cond(
            tf.constant(True),
            lambda: hub.Module(hub_module)(tf.constant(X)),
            lambda: tf.zeros([len(X), 2]),
        )
