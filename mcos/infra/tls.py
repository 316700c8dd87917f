"""One TLS context per process for the outbound HTTP clients.

httpx builds a new ``ssl.SSLContext`` for every client it is not handed one, and building
one loads certifi's CA bundle: ~31 ms of CPU per ``httpx.AsyncClient()`` here, against
~0.3 ms with a context passed in (encode/httpx#2298). Clients made per call (token counts
against llama.cpp, a Duffel search, a calendar fetch, a metrics scrape) pass ``verify=``
this instead. A context is safe to share: nothing changes it after it is built.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_tls(trust_env: bool = True) -> ssl.SSLContext:
    """The process's client context: certifi's CAs, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``
    when ``trust_env`` (as httpx does); ``trust_env=False`` for user-named URLs."""
    return httpx.create_ssl_context(trust_env=trust_env)


__all__ = ["client_tls"]
