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
import re
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


# a bcrypt hash as htpasswd -B and Go's bcrypt write it: $2a$/$2b$/$2y$, two-digit cost, 53 chars
_BCRYPT = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
MIN_COST = 10  # exporter-toolkit's documented `htpasswd -nBC 10`; cheaper hashes fall to a GPU in hours
BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; htpasswd and Go's bcrypt ignore the rest too
_CACHE_SIZE = 4096


def bcrypt_cost(hashed: str) -> int | None:
    """The cost of a well-formed bcrypt hash, else None."""
    m = _BCRYPT.match(hashed)
    return int(m.group(1)) if m else None


@dataclass
class BasicAuth:
    """Checks ``Authorization: Basic`` headers against bcrypt hashes, as exporter-toolkit does.

    bcrypt is deliberately slow (~0.1 s at cost 10, more on a Pi), far too slow for every 1 s
    scrape and an easy lever for a password flood, so: every result, failed or not, is remembered
    by the SHA-256 of the header (an authorised scrape is a dictionary lookup after its first);
    bcrypt runs one check at a time (a flood takes one core, never every core); and an unknown
    user is checked against a dummy hash of the same cost, so the answer's timing does not tell
    which users exist.
    """

    users: dict[str, bytes]
    _dummy: bytes = b""
    _verified: set[bytes] = field(default_factory=set)  # never evicted: as many as valid credentials
    _failed: set[bytes] = field(default_factory=set)  # bounded: a flood of guesses starts it over
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _bcrypt: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.users and not self._dummy:
            cost = max(bcrypt_cost(h.decode()) or MIN_COST for h in self.users.values())
            self._dummy = bcrypt.hashpw(b"edgemeter: no such user", bcrypt.gensalt(rounds=cost))

    def check(self, header: str | None) -> bool:
        if not self.users:
            return True
        scheme, _, encoded = (header or "").strip().partition(" ")
        if scheme.lower() != "basic":  # the scheme is case-insensitive (RFC 9110)
            return False
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        if not sep:
            return False
        # a set lookup of a SHA-256 over the credentials leaks nothing usable by its timing
        key = hashlib.sha256(user.encode() + b"\0" + password.encode()).digest()
        with self._lock:
            if key in self._verified:
                return True
            if key in self._failed:
                return False
        hashed = self.users.get(user)
        with self._bcrypt:
            matches = bcrypt.checkpw(password.encode()[:BCRYPT_MAX_BYTES], hashed or self._dummy)
        ok = matches and hashed is not None
        with self._lock:
            if ok:
                self._verified.add(key)
            else:
                if len(self._failed) >= _CACHE_SIZE:
                    self._failed.clear()
                self._failed.add(key)
        return ok


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


def _mapping(value: object, path: str, key: str) -> dict:
    """A section that must be a mapping (or absent)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebConfigError(f"--web-config {path}: {key} must be a mapping, not {type(value).__name__}")
    return value


def _users(section: dict, path: str) -> dict[str, bytes]:
    hashes = {}
    for user, hashed in section.items():
        cost = bcrypt_cost(hashed) if isinstance(hashed, str) else None
        if cost is None:
            raise WebConfigError(
                f"--web-config {path}: basic_auth_users.{user} is not a bcrypt hash "
                "($2y$10$ and 53 characters, as htpasswd -nBC 10 USER writes)"
            )
        if cost < MIN_COST:
            raise WebConfigError(
                f"--web-config {path}: basic_auth_users.{user} has bcrypt cost {cost}, below {MIN_COST} "
                f"(too cheap to guard a password): make it with htpasswd -nBC {MIN_COST} {user}"
            )
        hashes[str(user)] = hashed.encode()
    return hashes


def _headers(section: dict, path: str) -> dict[str, str]:
    headers = {}
    for name, value in _mapping(section.get("headers"), path, "http_server_config.headers").items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise WebConfigError(f"--web-config {path}: header {name} must be a string")
        text, key = str(value), str(name)
        if any(c in text + key for c in "\r\n\0") or not key or ":" in key:
            raise WebConfigError(
                f"--web-config {path}: header {key!r} has a line break, NUL or colon in its name or value"
            )
        headers[key] = text
    return headers


def load_web_config(path: str | None) -> WebConfig:
    """Parse the file; no file means plain HTTP without auth. Every problem is a WebConfigError
    of one line naming the file (and the key)."""
    if path is None:
        return WebConfig(tls=None, auth=BasicAuth({}))
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise WebConfigError(f"--web-config {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise WebConfigError(f"--web-config {path}: not UTF-8 text (byte {exc.start})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise WebConfigError(f"--web-config {path}{where}: not valid YAML") from exc
    data = _mapping(data, path, "the top level")
    unknown = set(data) - {"tls_server_config", "basic_auth_users", "http_server_config"}
    if unknown:
        raise WebConfigError(f"--web-config {path}: unknown key {sorted(unknown, key=str)[0]!r}")
    base = os.path.dirname(os.path.abspath(path))
    tls_section = _mapping(data.get("tls_server_config"), path, "tls_server_config")
    for key, value in tls_section.items():
        if not isinstance(value, str):
            raise WebConfigError(f"--web-config {path}: tls_server_config.{key} must be a string")
    tls = _tls_context(tls_section, base, path) if tls_section else None
    users = _users(_mapping(data.get("basic_auth_users"), path, "basic_auth_users"), path)
    http = _mapping(data.get("http_server_config"), path, "http_server_config")
    if set(http) - {"headers", "http2"}:
        raise WebConfigError(f"--web-config {path}: http_server_config supports only 'headers' and 'http2'")
    # http2: true is the toolkit's default; this server speaks HTTP/1.1, which every scraper accepts
    return WebConfig(tls=tls, auth=BasicAuth(users), headers=_headers(http, path))
