"""The sandbox PKI: a private CA and server certificates that real TLS clients verify."""

from __future__ import annotations

import ipaddress
import ssl
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from rota_sandbox.tls import Pki, cert_not_after, make_pki


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def tls_server(pki: Pki) -> Iterator[str]:
    """A real HTTPS server on 127.0.0.1 presenting ``pki``'s server certificate."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.cert, pki.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def trusting(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca_cert))


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_it_issues_a_server_certificate_signed_by_its_own_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    ca, leaf = load(pki.ca_cert), load(pki.cert)
    leaf.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_it_names_every_host_as_an_ip_or_dns_subject_alternative_name(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, hosts=("127.0.0.1", "localhost", "rylie.test"))
    san = load(pki.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "rylie.test"]


def test_it_makes_a_certificate_valid_for_90_days_by_default(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    expected = datetime.now(UTC) + timedelta(days=90)
    assert abs(pki.not_after - expected) < timedelta(minutes=1)
    assert cert_not_after(pki.cert) == pki.not_after
    assert not pki.expired


def test_it_keeps_private_keys_readable_only_by_their_owner(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    for key in (pki.key, pki.ca_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in pki.key.read_bytes()


def test_a_client_trusting_the_ca_completes_the_handshake_and_others_fail(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    with tls_server(pki) as url:
        assert httpx.get(url, verify=trusting(pki)).text == "hello"
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url)  # the system trust store has never heard of the sandbox CA


def test_a_certificate_that_expires_soon_looks_like_an_old_90_day_one(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, days=10)
    now = datetime.now(UTC)
    assert abs(pki.not_after - (now + timedelta(days=10))) < timedelta(minutes=1)
    assert abs(pki.not_before - (now - timedelta(days=80))) < timedelta(minutes=1)
    with tls_server(pki) as url:
        assert httpx.get(url, verify=trusting(pki)).status_code == 200


def test_an_expired_certificate_fails_verification_as_expired(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, days=-3)
    assert pki.expired
    with tls_server(pki) as url, pytest.raises(httpx.ConnectError, match="expired"):
        httpx.get(url, verify=trusting(pki))


def test_reissuing_keeps_the_ca_so_clients_keep_trusting_the_server(tmp_path: Path) -> None:
    first = make_pki(tmp_path, days=5)
    ca_before, cert_before = first.ca_cert.read_bytes(), first.cert.read_bytes()
    renewed = make_pki(tmp_path)
    assert renewed.ca_cert.read_bytes() == ca_before
    assert renewed.cert.read_bytes() != cert_before
    assert renewed.not_after - first.not_after > timedelta(days=80)
    with tls_server(renewed) as url:
        assert httpx.get(url, verify=trusting(first)).status_code == 200
    assert make_pki(tmp_path, new_ca=True).ca_cert.read_bytes() != ca_before
