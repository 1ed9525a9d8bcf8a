"""Encryption of provider API keys at rest with MultiFernet.

Keys come from ``PROVIDER_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first): the first
encrypts, all of them decrypt, so a key can be rotated in by putting it first, running
``manage.py rotate_provider_keys`` and then removing the old one.

With no keys set and ``DEBUG`` on (``make run``), a key file ``var/provider.key`` is created on
first use (mode 0600) so a fresh clone works; production refuses to start a call without keys.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NO_KEYS = (
    "PROVIDER_ENCRYPTION_KEYS is not set: provider credentials cannot be encrypted. Generate a key with "
    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` and set it."
)
BAD_KEY = "PROVIDER_ENCRYPTION_KEYS has an invalid Fernet key at position {index} (32 url-safe base64 bytes expected)."
UNDECRYPTABLE = (
    "A stored provider key cannot be decrypted with the configured PROVIDER_ENCRYPTION_KEYS; "
    "was a key removed before running rotate_provider_keys?"
)


class DecryptionFailed(Exception):
    pass


def _key_file() -> Path:
    return Path(getattr(settings, "PROVIDER_KEY_FILE", Path(settings.VAR_DIR) / "provider.key"))


def _local_key() -> str:
    path = _key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode() + "\n")
    return path.read_text().strip()


def configured_keys() -> list[str]:
    keys = [k for k in getattr(settings, "PROVIDER_ENCRYPTION_KEYS", []) if k]
    if keys:
        return keys
    if getattr(settings, "PROVIDER_KEY_FILE_ALLOWED", settings.DEBUG):
        return [_local_key()]
    raise ImproperlyConfigured(NO_KEYS)


def fernet() -> MultiFernet:
    fernets = []
    for index, key in enumerate(configured_keys()):
        try:
            fernets.append(Fernet(key.encode() if isinstance(key, str) else key))
        except (ValueError, TypeError):
            raise ImproperlyConfigured(BAD_KEY.format(index=index)) from None
    return MultiFernet(fernets)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed(UNDECRYPTABLE) from None


def rotate(token: str) -> str:
    """The same secret re-encrypted under the newest key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed(UNDECRYPTABLE) from None
