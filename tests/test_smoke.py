import os

import tfhub
from support.archives import model_archive
from support.server import Route


def test_http_hub_url_resolves_into_the_cache(server, cache_dir):
    server.add("/m/1", Route(model_archive("gz")))
    path = tfhub.resolve(server.url("/m/1"))
    assert path.startswith(str(cache_dir))
    assert sorted(os.listdir(path)) == ["assets", "saved_model.pb", "variables"]
    assert server.requests[0][0] == "/m/1?tf-hub-format=compressed"
