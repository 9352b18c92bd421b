"""A hub serving requests without TensorFlow: ``python tf_free_server.py DATA_DIR ARCHIVE``
publishes ARCHIVE and answers every kind of request, then prints ``RESULT {json}`` with
the TensorFlow/Keras modules this process imported (there must be none)."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

import httpx
import uvicorn

from tfhub.server.admin import create_token
from tfhub.server.app import create_app
from tfhub.server.context import HubContext
from tfhub.server.settings import ServerSettings


def main(data_dir: str, archive: str) -> None:
    hub = HubContext.open(ServerSettings.from_env({}, data_dir=data_dir))
    hub.db.migrate()
    token = create_token(hub.db, "lab")[0]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(hub=hub), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    statuses = []
    with httpx.Client(base_url=base, timeout=60) as client, open(archive, "rb") as f:
        statuses.append(
            client.post(
                "/api/v1/models/lab/m/versions",
                files={"archive": ("m.tar.gz", f.read())},
                data={"readme": "# M\n\nA model."},
                headers={"Authorization": f"Bearer {token}"},
            ).status_code
        )
        for path in ("/lab/m?tf-hub-format=compressed", "/lab/m/1?tf-hub-format=uncompressed",
                     "/lab/m", "/api/v1/models?q=model", "/api/v1/models/lab/m/versions/1",
                     "/api/v1/openapi.json"):  # fmt: skip
            statuses.append(client.get(path, follow_redirects=False).status_code)
    server.should_exit = True
    thread.join(10)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
    print("RESULT " + json.dumps({"statuses": statuses, "heavy": heavy}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
