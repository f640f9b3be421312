"""Fetched metadata kept in the report database, so that every worker and instance reuses one fetch and a
metadata host that is down can be bridged with the last good copy (fetch.MetadataCache)."""

from __future__ import annotations

from collections.abc import Callable

from ..fetch import Fetched
from . import Store


class SharedMetadataCache:
    """Falls back to nothing (a fresh fetch) when the database is unavailable: sharing metadata is a convenience,
    not a dependency."""

    def __init__(self, get_store: Callable[[], Store]) -> None:
        self._store = get_store

    def get(self, key: str) -> Fetched | None:
        try:
            found = self._store().cache_get(key)
        except Exception:  # noqa: BLE001 - a cache miss is always a safe answer
            return None
        if found is None:
            return None
        final_url, fetched_at, body = found
        return Fetched(url=final_url, body=body, fetched_at=fetched_at, from_cache=True, age_seconds=0)

    def put(self, key: str, fetched: Fetched) -> None:
        try:
            self._store().cache_put(key, fetched.url, fetched.fetched_at, fetched.body)
        except Exception:  # noqa: BLE001 - failing to cache must not fail the analysis
            return
