"""One resolver from what a user writes to an engine: :func:`open_engine` (``engine.open``).

``model`` may be:

* ``None`` — the embedded default, ``push-64``;
* a catalog spec name (``"push-64"``) or a checkpoint directory (str or ``os.PathLike``) —
  an :class:`~engine.Engine` loaded from local files;
* a server URL (``http://HOST:PORT`` of ``dreamgym serve``) — a :class:`~engine.RemoteEngine`,
  with the API key from ``$DREAMGYM_API_KEY`` when set (:func:`api_key_from_env`);
* any object that satisfies the engine contract (:class:`~engine.protocol.WorldModel`: an
  ``Engine``, a ``RemoteEngine``, a world's exact model) — returned as it is.

Names, paths and URLs are resolved once per process and shared (an engine is safe to call
from several threads), so several envs or runs never load the same model twice.
"""

from __future__ import annotations

import os
import threading

from .protocol import BaseEngine, WorldModel

API_KEY_ENV = "DREAMGYM_API_KEY"

_CACHE: dict[tuple, WorldModel] = {}
_LOCK = threading.Lock()


def api_key_from_env() -> str | None:
    """The API key for a dreamgym server from ``$DREAMGYM_API_KEY`` (None when unset or empty)."""
    return os.environ.get(API_KEY_ENV) or None


def is_url(model) -> bool:
    """True for a string that names a server (``http://`` or ``https://``)."""
    return isinstance(model, str) and model.startswith(("http://", "https://"))


def open_engine(model=None, *, weights=None, **options) -> WorldModel:
    """The engine for ``model`` (see the module docstring). TypeError for anything else.

    ``weights`` (a checkpoint for a spec without built-in weights) and ``options`` (``device``,
    ``threads``, ... of :meth:`Engine.load`) apply to local models; None values are left out.
    """
    options = {k: v for k, v in options.items() if v is not None}
    if isinstance(model, BaseEngine) or isinstance(model, WorldModel):  # BaseEngine first: no attribute probing
        if weights is not None or options:
            raise ValueError(f"weights= and load options apply to a name or a path, not to a {type(model).__name__}")
        return model
    if model is None:
        key = "push-64"
    elif isinstance(model, str | os.PathLike):
        key = str(model)
    else:
        raise TypeError(
            "engine must be None, a spec name, a checkpoint path, a server URL, an Engine or a RemoteEngine (or any "
            f"engine.protocol.WorldModel, e.g. a world's exact model), got {type(model).__name__}"
        )
    if is_url(key) and (weights is not None or options):
        raise ValueError(f"weights= and load options apply to local models; {key} is a server")
    cache_key = (key, None if weights is None else str(weights), tuple(sorted(options.items())))
    with _LOCK:
        if cache_key not in _CACHE:
            if is_url(key):
                from .remote import RemoteEngine

                _CACHE[cache_key] = RemoteEngine(key, api_key=api_key_from_env())
            else:
                from .engine import Engine

                _CACHE[cache_key] = Engine.load(key, weights=weights, **options)
        return _CACHE[cache_key]


__all__ = ["API_KEY_ENV", "api_key_from_env", "is_url", "open_engine"]
