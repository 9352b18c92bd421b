"""Object storage for tests: moto's S3 server on 127.0.0.1, and environment variables that
hold only while a server runs.

Example (``s3fs``, ``boto3`` and the hub's storage read the ``AWS_*`` variables)::

    with moto_s3("models-bucket") as endpoint:
        boto3.client("s3").put_object(Bucket="models-bucket", Key="a", Body=b"x")
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """Sets ``values`` in ``os.environ``; afterwards each variable is as it was (or unset)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def moto_s3(bucket: str) -> Iterator[str]:
    """An S3 server (moto) on 127.0.0.1 holding the empty ``bucket``, with the ``AWS_*``
    variables pointing at it while it runs; yields its endpoint URL."""
    import boto3
    import s3fs
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        with environ(env):
            s3fs.S3FileSystem.clear_instance_cache()  # no instance bound to another endpoint
            try:
                boto3.client("s3").create_bucket(Bucket=bucket)
                yield endpoint
            finally:
                s3fs.S3FileSystem.clear_instance_cache()
    finally:
        server.stop()
