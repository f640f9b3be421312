"""Sealing stored reports: AES-256-GCM (cryptography's AEAD), the key lives only in the permalink.

The server stores the ciphertext and a SHA-256 hash of the key (to tell a wrong key from a missing report
without decrypting); it never stores the key itself.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import zlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..config import MiB

KEY_BYTES = 32
NONCE_BYTES = 12


class Unsealable(ValueError):
    pass


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).rstrip(b"=").decode()


def new_id() -> str:
    return secrets.token_urlsafe(16)  # 128 bits


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _key_bytes(key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    except ValueError:
        raise Unsealable("malformed key") from None
    if len(raw) != KEY_BYTES:
        raise Unsealable("malformed key")
    return raw


def seal(plaintext: bytes, key: str, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(_key_bytes(key)).encrypt(nonce, zlib.compress(plaintext, 6), aad)


def unseal(blob: bytes, key: str, aad: bytes, max_bytes: int = 64 * MiB) -> bytes:
    try:
        packed = AESGCM(_key_bytes(key)).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise Unsealable("wrong key or damaged record") from None
    d = zlib.decompressobj()
    out = d.decompress(packed, max_bytes + 1)
    if len(out) > max_bytes:
        raise Unsealable("record too large")
    return out
