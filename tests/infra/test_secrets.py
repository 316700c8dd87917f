"""Credentials at rest: Fernet with rotation, a dev key file, and no key in production."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import structlog
from cryptography.fernet import Fernet

from mcos.infra.secrets import (
    DEV_KEY_FILE,
    CredentialCipher,
    CredentialsUnreadable,
    credential_cipher,
)
from mcos.kernel.errors import Unavailable
from mcos.kernel.settings import Settings


def test_round_trip_rotation_and_tampering() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = CredentialCipher([old]).encrypt("1//refresh-token")
    assert "refresh-token" not in stored
    rotated = CredentialCipher([new, old])  # the new key first: it encrypts, both decrypt
    assert rotated.decrypt(stored) == "1//refresh-token"
    assert CredentialCipher([new]).decrypt(rotated.encrypt("x")) == "x"
    with pytest.raises(CredentialsUnreadable):
        CredentialCipher([new]).decrypt(stored)
    tampered = stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")
    with pytest.raises(CredentialsUnreadable):
        CredentialCipher([old]).decrypt(tampered)


def test_dev_without_a_key_uses_one_private_key_file(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    with structlog.testing.capture_logs() as logs:
        first = credential_cipher(settings)
        again = credential_cipher(settings)
    key_file = tmp_path / DEV_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert again.decrypt(first.encrypt("secret")) == "secret"
    assert [e["event"] for e in logs].count(
        "no MCOS_CREDENTIALS_KEY: stored credentials are encrypted with a dev key file"
    ) == 1
    assert list(tmp_path.iterdir()) == [key_file]  # no temporary file left behind


def test_production_without_a_key_stores_nothing(tmp_path: Path) -> None:
    # Start-up already refuses Google without a key; a copy that skipped validation still
    # cannot encrypt.
    prod = Settings(_env_file=None, data_dir=tmp_path).model_copy(update={"env": "production"})
    with pytest.raises(Unavailable) as info:
        credential_cipher(prod)
    assert info.value.details == {"setting": "MCOS_CREDENTIALS_KEY"}
    assert not (tmp_path / DEV_KEY_FILE).exists()
