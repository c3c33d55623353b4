"""The Ed25519 keys that sign credentials: kept as a JWK set file, published at ``/.well-known/jwks.json``.

The file (``CREDENTIAL_KEYS_FILE``, else ``credential-keys.json`` in the data folder, mode
0600) holds ``{"current": kid, "keys": [...]}``: the current key with its private part,
and every retired key's public part only, so credentials signed before a rotation keep
verifying while nothing can sign with a retired key. Like ``secrets.json`` it is generated
once where secrets may be (SQLite, development, tests); with a server database in
production it must be given, shared by every node. Key ids are RFC 7638 thumbprints.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

from catalogue.clock import utcnow
from catalogue.config import create_once

FILE_NAME = "credential-keys.json"
#: The JWS algorithm (VC-JOSE-COSE's EdDSA with Ed25519; RFC 9864 also names it "Ed25519").
ALGORITHM = "EdDSA"
_PUBLIC = ("kty", "crv", "x", "kid")


class KeysMissing(RuntimeError):
    """No signing key here, and none may be generated (a server database in production)."""


@dataclass(frozen=True)
class KeyRing:
    """The current signing key and every published public key."""

    current: OKPKey
    #: Public JWKs, newest first: the current key, then the retired ones.
    public: tuple[dict[str, Any], ...]

    @property
    def kid(self) -> str:
        return str(self.current.kid)

    def key_set(self) -> KeySet:
        return public_key_set({"keys": list(self.public)})

    def jwks(self) -> dict[str, Any]:
        """The document served at ``/.well-known/jwks.json``."""
        return {"keys": [dict(k) for k in self.public]}


def public_key_set(jwks: Mapping[str, Any]) -> KeySet:
    """Ed25519 public keys from a JWK set document (a verifier's copy of ``jwks.json``).

    Anything else in it (private parts, other key types) is ignored: a verifier trusts a
    key only for what it is published for. Raises ``ValueError`` when no key is usable.
    """
    keys: list[Any] = []
    for jwk in jwks.get("keys") or []:
        if isinstance(jwk, dict) and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            try:
                keys.append(OKPKey.import_key({k: jwk[k] for k in _PUBLIC if k in jwk}))
            except (JoseError, ValueError, TypeError) as exc:
                raise ValueError(f"key {jwk.get('kid')!r} is not an Ed25519 public key ({exc})") from None
    if not keys:
        raise ValueError("no Ed25519 public key in the key set")
    return KeySet(keys)


def public_key_set_of(text: str, source: str) -> KeySet:
    """:func:`public_key_set` of a JWK set file's text; ``ValueError`` naming ``source``."""
    try:
        return public_key_set(json.loads(text))
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"{source} is not a JWK set with an Ed25519 key ({exc})") from None


def keys_path(config: Mapping[str, Any]) -> Path:
    given = str(config.get("CREDENTIAL_KEYS_FILE") or "")
    return Path(given) if given else Path(config["CATALOGUE_DATA_DIR"]) / FILE_NAME


_cache: dict[Path, tuple[float, KeyRing]] = {}


def load(config: Mapping[str, Any]) -> KeyRing:
    """This installation's keys, generated on first use where secrets may be; cached per file change."""
    path = keys_path(config)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        if config.get("CREDENTIAL_KEYS_FILE") or not config.get("KEEPS_SECRETS"):
            raise KeysMissing(str(path)) from None
        create_once(path, _dump({"current": None, "keys": []}, _new_key()))
        mtime = path.stat().st_mtime
    cached = _cache.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        ring = _ring(json.loads(path.read_text()))
    except (ValueError, TypeError, AttributeError, KeyError) as exc:  # damaged: say so, never sign with junk
        raise KeysMissing(f"{path} is not a credential key file ({exc})") from None
    _cache[path] = (mtime, ring)
    return ring


def rotate(config: Mapping[str, Any]) -> tuple[str, str | None]:
    """Make a new current key and retire the old one (kept public only); (new kid, old kid)."""
    path = keys_path(config)
    if not path.exists() and not config.get("CREDENTIAL_KEYS_FILE") and not config.get("KEEPS_SECRETS"):
        # A node's own data folder would give it a key no other node publishes.
        raise KeysMissing(
            f"no key file at {path}: with a server database in production, set CREDENTIAL_KEYS_FILE to "
            "the file every node reads (this command creates it)"
        )
    with _locked(path):
        data = json.loads(path.read_text()) if path.exists() else {"current": None, "keys": []}
        old = data.get("current")
        body = _dump(data, _new_key())
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    _cache.pop(path, None)
    return str(json.loads(body)["current"]), old


def _new_key() -> OKPKey:
    key = OKPKey.generate_key("Ed25519")
    key.ensure_kid()
    return key


def _dump(data: Mapping[str, Any], key: OKPKey) -> bytes:
    """The file with ``key`` current: the previous keys lose their private part and are dated."""
    now = utcnow().isoformat(timespec="seconds")
    retired = []
    for old in data.get("keys") or []:
        public = {k: old[k] for k in _PUBLIC if k in old}
        retired.append({**public, "alg": ALGORITHM, "use": "sig", "retired": old.get("retired", now)})
    new = {**key.as_dict(private=True), "alg": ALGORITHM, "use": "sig", "created": now}
    return (json.dumps({"current": key.kid, "keys": [new, *retired]}, indent=2) + "\n").encode()


def _ring(data: Mapping[str, Any]) -> KeyRing:
    keys = data.get("keys") or []
    current = next((k for k in keys if k.get("kid") == data.get("current") and k.get("d")), None)
    if current is None:
        raise KeysMissing("the key file names no current private key")
    public = tuple(
        {**{k: jwk[k] for k in _PUBLIC if k in jwk}, "alg": ALGORITHM, "use": "sig"} for jwk in keys
    )
    return KeyRing(OKPKey.import_key({k: current[k] for k in (*_PUBLIC, "d")}), public)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
