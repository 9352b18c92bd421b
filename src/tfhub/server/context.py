"""What every part of the server shares: settings, the database and the store.

Nothing else is kept between requests, so any number of server processes can serve one
database and one store.

Example:
    >>> import tempfile
    >>> from tfhub.server.settings import ServerSettings
    >>> hub = HubContext.open(ServerSettings.from_env({}, data_dir=tempfile.mkdtemp()))
    >>> type(hub.storage).__name__
    'LocalStorage'
    >>> hub.close()
"""

from __future__ import annotations

from dataclasses import dataclass

from tfhub.server.database import Database
from tfhub.server.settings import ServerSettings
from tfhub.server.storage import Storage, open_storage


@dataclass
class HubContext:
    settings: ServerSettings
    db: Database
    storage: Storage

    @classmethod
    def open(cls, settings: ServerSettings) -> HubContext:
        """Connects to the database and the store that ``settings`` name (lazily: the first
        query opens the first connection)."""
        return cls(settings, Database(settings.database_url), open_storage(settings.storage_url))

    def close(self) -> None:
        self.db.close()
