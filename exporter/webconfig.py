"""``--web-config``: the YAML of Prometheus' exporter-toolkit (TLS and basic auth).

Same keys as node_exporter's ``--web.config.file``, so one file serves both:
``tls_server_config`` (cert_file, key_file, client_auth_type, client_ca_file, min_version) and
``basic_auth_users`` (user -> bcrypt hash). Paths are relative to the file, as in the toolkit.
Unknown keys are errors (the toolkit parses strictly), so a typo never silently disables TLS.
"""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import threading
from dataclasses import dataclass, field

import bcrypt
import yaml

_TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}
# exporter-toolkit keys whose Go semantics Python's ssl cannot reproduce: refused by name, never ignored
_UNSUPPORTED = {"cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans"}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


class WebConfigError(Exception):
    """A web-config problem worth one line to the user."""


@dataclass
class BasicAuth:
    """Checks ``Authorization: Basic`` headers against bcrypt hashes.

    bcrypt is deliberately slow (~0.1 s at cost 10), far too slow for every 1 s scrape, so a
    verified credential is remembered by its SHA-256, as exporter-toolkit does.
    """

    users: dict[str, bytes]
    _verified: set[bytes] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, header: str | None) -> bool:
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = self.users.get(user)
        if hashed is None:
            return False
        key = hashlib.sha256(hashed + b"\0" + password.encode()).digest()
        with self._lock:
            # a set lookup of a SHA-256 over hash and password leaks nothing usable by its timing
            if key in self._verified:
                return True
        if not bcrypt.checkpw(password.encode(), hashed):
            return False
        with self._lock:
            self._verified.add(key)
        return True


@dataclass(frozen=True)
class WebConfig:
    tls: ssl.SSLContext | None
    auth: BasicAuth
    headers: dict[str, str] = field(default_factory=dict)  # http_server_config.headers


def _tls_context(tls: dict, base: str, path: str) -> ssl.SSLContext:
    if refused := set(tls) & _UNSUPPORTED:
        raise WebConfigError(
            f"{path}: tls_server_config.{sorted(refused)[0]} is not supported by this exporter"
        )
    unknown = set(tls) - _TLS_KEYS
    if unknown:
        raise WebConfigError(f"{path}: unknown tls_server_config key {sorted(unknown)[0]!r}")
    if not tls.get("cert_file") or not tls.get("key_file"):
        raise WebConfigError(f"{path}: tls_server_config needs cert_file and key_file")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    for key, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        version = str(tls.get(key, default))
        if version not in _VERSIONS:
            raise WebConfigError(
                f"{path}: tls_server_config.{key} {version!r}: use one of {sorted(_VERSIONS)}"
            )
    ctx.minimum_version = _VERSIONS[str(tls.get("min_version", "TLS12"))]
    ctx.maximum_version = _VERSIONS[str(tls.get("max_version", "TLS13"))]
    cert, key = (os.path.join(base, str(tls[k])) for k in ("cert_file", "key_file"))
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise WebConfigError(f"{path}: cannot load cert_file/key_file: {exc}") from exc
    mode = str(tls.get("client_auth_type", "NoClientCert"))
    if mode not in _CLIENT_AUTH:
        raise WebConfigError(
            f"{path}: client_auth_type {mode!r} not supported (use one of {sorted(_CLIENT_AUTH)})"
        )
    ctx.verify_mode = _CLIENT_AUTH[mode]
    if ctx.verify_mode != ssl.CERT_NONE:
        if not tls.get("client_ca_file"):
            raise WebConfigError(f"{path}: client_auth_type {mode} needs client_ca_file")
        try:
            ctx.load_verify_locations(os.path.join(base, str(tls["client_ca_file"])))
        except (OSError, ssl.SSLError) as exc:
            raise WebConfigError(f"{path}: cannot load client_ca_file: {exc}") from exc
    return ctx


def load_web_config(path: str | None) -> WebConfig:
    """Parse the file; no file means plain HTTP without auth."""
    if path is None:
        return WebConfig(tls=None, auth=BasicAuth({}))
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except OSError as exc:
        raise WebConfigError(f"--web-config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise WebConfigError(f"--web-config {path}{where}: not valid YAML") from exc
    if not isinstance(data, dict):
        raise WebConfigError(f"--web-config {path}: expected a mapping at the top level")
    unknown = set(data) - {"tls_server_config", "basic_auth_users", "http_server_config"}
    if unknown:
        raise WebConfigError(f"--web-config {path}: unknown key {sorted(unknown)[0]!r}")
    base = os.path.dirname(os.path.abspath(path))
    tls = _tls_context(data["tls_server_config"], base, path) if data.get("tls_server_config") else None
    users = data.get("basic_auth_users") or {}
    if not isinstance(users, dict):
        raise WebConfigError(f"--web-config {path}: basic_auth_users must map user names to bcrypt hashes")
    hashes = {}
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not hashed.startswith("$2"):
            raise WebConfigError(f"--web-config {path}: basic_auth_users.{user} is not a bcrypt hash")
        hashes[str(user)] = hashed.encode()
    http = data.get("http_server_config") or {}
    if not isinstance(http, dict) or set(http) - {"headers", "http2"}:
        raise WebConfigError(f"--web-config {path}: http_server_config supports only 'headers' and 'http2'")
    # http2: true is the toolkit's default; this server speaks HTTP/1.1, which every scraper accepts
    headers = {str(k): str(v) for k, v in (http.get("headers") or {}).items()}
    return WebConfig(tls=tls, auth=BasicAuth(hashes), headers=headers)
