"""Names of the Dream Engine wire protocol that the server (:mod:`engine.serving`) and its
client (:class:`~engine.RemoteEngine`) share: media types and headers.

``application/x-npy`` is the lossless encoding of frames (one ``.npy`` uint8 array) that
:class:`~engine.RemoteEngine` asks for, so remote results equal local ones bit for bit;
``video/mp4`` is what the SDK expects by default. The byte codecs are in :mod:`engine.codecs`.
"""

MEDIA_MP4 = "video/mp4"
MEDIA_NPY = "application/x-npy"
MEDIA_TAR = "application/x-tar"
HEADER_PREFIX = "X-DreamEngine-"
REQUEST_ID = "X-DreamEngine-Request-Id"
ENGINE_WALL_MS = "X-DreamEngine-Engine-Wall-Ms"

__all__ = ["ENGINE_WALL_MS", "HEADER_PREFIX", "MEDIA_MP4", "MEDIA_NPY", "MEDIA_TAR", "REQUEST_ID"]
