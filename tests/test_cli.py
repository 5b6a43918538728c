"""The exporter command: one-line errors with exit 2, flags that select collectors, TLS + auth."""

from __future__ import annotations

import base64
import email.utils
import http.client
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest

from helpers import exporter_cmd, free_port, get, running, samples

# A tree where both roots exist, for the error cases that are about other flags.
ROOTS = ["--sysfs", "/", "--procfs", "/"]


def run_fail(*args: str) -> str:
    done = subprocess.run(exporter_cmd(*args), capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("exporter: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sysfs", "/does/not/exist", "--procfs", "/"], "--sysfs /does/not/exist"),
        (["--sysfs", "/", "--procfs", "/does/not/exist"], "--procfs /does/not/exist"),
        ([*ROOTS, "--listen", "localhost"], "--listen"),
        ([*ROOTS, "--listen", "127.0.0.1:99999"], "--listen"),
        ([*ROOTS, "--listen", "127.0.0.1:http"], "--listen"),
        ([*ROOTS, "--collector.nope"], "unknown collector 'nope'"),
        ([*ROOTS, "--no-collector.nope"], "unknown collector 'nope'"),
        ([*ROOTS, "--vcgencmd-timeout", "0"], "--vcgencmd-timeout"),
        ([*ROOTS, "--vcgencmd-timeout", "-1"], "--vcgencmd-timeout"),
        ([*ROOTS, "--vcgencmd-timeout", "soon"], "--vcgencmd-timeout"),
        ([*ROOTS, "--sample-hz", "0"], "--sample-hz"),
        ([*ROOTS, "--sample-hz", "-5"], "--sample-hz"),
        ([*ROOTS, "--sample-hz", "nan"], "--sample-hz"),
        ([*ROOTS, "--sample-hz", "inf"], "--sample-hz"),
        ([*ROOTS, "--vcgencmd-timeout", "inf"], "--vcgencmd-timeout"),
        ([*ROOTS, "--process", "(llama"], "--process"),
        ([*ROOTS, "--web-config", "/does/not/exist.yml"], "--web-config"),
        ([*ROOTS, "--frobnicate"], "--frobnicate"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    assert needle in run_fail(*args)


def test_port_in_use() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert "address already in use" in run_fail(*ROOTS, "--listen", f"127.0.0.1:{port}")


CHEAP = bcrypt.hashpw(b"x", bcrypt.gensalt(rounds=4)).decode()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("tls_server_config: [\n", "not valid YAML"),
        ("basic_auth_user:\n  alice: x\n", "unknown key 'basic_auth_user'"),
        ("basic_auth_users:\n  alice: plaintext\n", "not a bcrypt hash"),
        ("basic_auth_users:\n  alice: $2y$10$short\n", "basic_auth_users.alice is not a bcrypt hash"),
        (f"basic_auth_users:\n  alice: '{CHEAP}'\n", "bcrypt cost 4, below 10"),
        ("basic_auth_users: [alice]\n", "basic_auth_users must be a mapping, not list"),
        ("tls_server_config: yes\n", "tls_server_config must be a mapping, not bool"),
        ("tls_server_config:\n  cert_file: [a]\n", "tls_server_config.cert_file must be a string"),
        ("http_server_config:\n  headers: [a]\n", "http_server_config.headers must be a mapping"),
        ("http_server_config:\n  headers:\n    X-A: {b: 1}\n", "header X-A must be a string"),
        ('http_server_config:\n  headers:\n    X-A: "a\\r\\nSet-Cookie: b"\n', "has a line break"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n", "cannot load"),
        ("tls_server_config:\n  cert_file: a\n", "needs cert_file and key_file"),
    ],
)
def test_bad_web_config(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "web.yml"
    path.write_text(text)
    line = run_fail(*ROOTS, "--web-config", str(path))
    assert needle in line and str(path) in line


def test_a_web_config_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_bytes(b"basic_auth_users:\n  \xff\xfe: x\n")
    line = run_fail(*ROOTS, "--web-config", str(path))
    assert "not UTF-8 text" in line and str(path) in line


def test_collector_flags_select_collectors(pi5) -> None:
    port = free_port()
    args = ["--listen", f"127.0.0.1:{port}", "--sysfs", str(pi5.sysfs), "--procfs", str(pi5.procfs)]
    with running(exporter_cmd(*args, "--collector.disable-defaults", "--collector.meminfo"), port):
        data = samples(get(f"http://127.0.0.1:{port}/metrics"))
    ran = {dict(lab)["collector"] for (n, lab) in data if n == "edge_collector_success"}
    assert ran == {"meminfo"}
    with running(exporter_cmd(*args, "--no-collector.hwmon", "--vcgencmd", str(pi5.vcgencmd)), port):
        data = samples(get(f"http://127.0.0.1:{port}/metrics"))
        page = get(f"http://127.0.0.1:{port}/")
        with pytest.raises(urllib.error.HTTPError) as err:
            get(f"http://127.0.0.1:{port}/nothing")
    ran = {dict(lab)["collector"] for (n, lab) in data if n == "edge_collector_success"}
    assert "hwmon" not in ran and {"thermal_zone", "throttled", "firmware_clock"} <= ran  # Pi profile
    assert "/metrics" in page and "Raspberry Pi 5" in page
    assert err.value.code == 404


def make_cert(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_and_basic_auth(tmp_path: Path, pi5) -> None:
    cert, key = make_cert(tmp_path)
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=10)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {cert.name}\n  key_file: {key.name}\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    port = free_port()
    roots = ["--sysfs", str(pi5.sysfs), "--procfs", str(pi5.procfs)]
    cmd = exporter_cmd("--listen", f"127.0.0.1:{port}", *roots, "--web-config", str(web))
    ctx = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{port}/metrics"

    def fetch(user: str | None, password: str = "") -> int:
        req = urllib.request.Request(url)
        if user:
            req.add_header(
                "Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            )
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                assert b"edge_memory_total_bytes" in r.read()
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    with running(cmd, port):
        assert fetch(None) == 401
        assert fetch("prometheus", "wrong") == 401
        assert fetch("someone", "s3cret") == 401
        assert fetch("prometheus", "s3cret") == 200
        assert fetch("prometheus", "s3cret") == 200  # second time from the verified cache
        # plain HTTP to the TLS port: a plain 400 saying so, as Go's servers answer, not silence
        with pytest.raises(urllib.error.HTTPError) as info:
            get(f"http://127.0.0.1:{port}/metrics", timeout=3)
        assert info.value.code == 400
        assert info.value.read() == b"Client sent an HTTP request to an HTTPS server.\n"
        assert fetch("prometheus", "s3cret") == 200  # and TLS still answers


def test_web_config_headers_go_on_every_answer_in_utf8(tmp_path: Path, pi5) -> None:
    """http_server_config.headers on a 200, a 401 and a 404, a value outside Latin-1 included
    (written as UTF-8, as exporter-toolkit's Go server writes it: the standard library's
    send_header failed every answer on it); and the head's own fields are right."""
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=10)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Note: 5 € a watt\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n",
        encoding="utf-8",
    )
    port = free_port()
    roots = ["--sysfs", str(pi5.sysfs), "--procfs", str(pi5.procfs)]
    cmd = exporter_cmd("--listen", f"127.0.0.1:{port}", *roots, "--web-config", str(web))
    login = {"Authorization": "Basic " + base64.b64encode(b"prometheus:s3cret").decode()}
    with running(cmd, port):
        for path, headers, status in [
            ("/metrics", login, 200),
            ("/metrics", {}, 401),
            ("/nowhere", login, 404),
        ]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            body = answer.read()
            conn.close()
            assert answer.status == status
            assert status != 200 or b"edge_memory_total_bytes" in body
            assert answer.getheader("X-Frame-Options") == "deny"
            # http.client reads header values as Latin-1: the UTF-8 bytes of "€", read that way
            assert answer.getheader("X-Note").encode("latin-1").decode() == "5 € a watt"
            assert int(answer.getheader("Content-Length")) == len(body)
            sent = email.utils.parsedate_to_datetime(answer.getheader("Date"))
            assert abs(sent.timestamp() - time.time()) < 5
            assert answer.getheader("Server").startswith("edgemeter-exporter/")
