"""Encryption at rest for credentials kept in SQL (Google refresh tokens, PKCE verifiers).

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with the keys of
``MCOS_CREDENTIALS_KEY``: comma-separated, the first one encrypts, every one decrypts, so a
key can be rotated by putting the new one first. A row is unreadable without a key, and a
changed or tampered row fails its HMAC instead of decrypting to garbage.

Without a configured key, dev mode keeps a generated key in ``<data_dir>/credentials.key``
(mode 0600) and says so in the log; production refuses to store or read anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from mcos.kernel.errors import Unavailable
from mcos.kernel.settings import Settings

log = structlog.get_logger(__name__)
DEV_KEY_FILE = "credentials.key"


class CredentialsUnreadable(Exception):
    """A stored credential does not decrypt with any configured key."""


class CredentialCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise CredentialsUnreadable("the stored credential does not decrypt") from exc


def credential_cipher(settings: Settings) -> CredentialCipher:
    """The cipher of ``settings``; raises ``Unavailable`` in production without a key."""
    if settings.credential_keys:
        return CredentialCipher(settings.credential_keys)
    if settings.production:
        raise Unavailable(
            "storing credentials needs MCOS_CREDENTIALS_KEY on this server",
            {"setting": "MCOS_CREDENTIALS_KEY"},
        )
    return CredentialCipher([_dev_key(settings.data_dir / DEV_KEY_FILE)])


def _dev_key(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    # Written whole under a private name, then linked into place: a process racing this one
    # either links first (and this one reads its key) or finds the complete file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        tmp.unlink()
    log.warning(
        "no MCOS_CREDENTIALS_KEY: stored credentials are encrypted with a dev key file",
        path=str(path),
    )
    return key
