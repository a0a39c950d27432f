"""Credentials reach the server and nothing else: not logs (at DEBUG), errors, reprs, output or cache files."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from capforecast.cli import main
from capforecast.config import SecretRef
from capforecast.errors import ConfigError, IngestError
from capforecast.ingest.connection import Connection
from capforecast.ingest.prometheus import fetch

from .conftest import START

TOKEN = "tok-3f9a1c77e2b5-secret"
PASSWORD = "pw-8d41c0ffee-secret"
QUERY = "sum by (pool) (gpu_used)"


def files_text(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_token_from_env_is_sent_and_never_shown(proxy, tmp_path: Path, monkeypatch, caplog, capsys) -> None:
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    out, cache = tmp_path / "out.csv", tmp_path / "cache"
    with caplog.at_level(logging.DEBUG):
        code = main(["-v", "ingest", "--url", proxy.url, "--token-env", "PROM_TOKEN", "--header",
                     "X-Scope-OrgID: team-a", "--query", QUERY, "--start", str(START), "--end",
                     str(START + 86_400), "--step", "1h", "--out", str(out), "--cache", str(cache)])
        assert code == 0
        proxy.mode, proxy.body = "401", f'{{"error":"token {TOKEN} expired"}}'.encode()  # a server echoing it
        code = main(["-v", "ingest", "--url", proxy.url, "--token-env", "PROM_TOKEN", "--query", QUERY,
                     "--start", str(START), "--end", str(START + 2 * 86_400), "--step", "1h",
                     "--out", str(out), "--cache", str(cache)])
    assert code == 1
    headers = proxy.requests[0][1]
    assert headers["Authorization"] == f"Bearer {TOKEN}" and headers["X-Scope-OrgID"] == "team-a"
    captured = capsys.readouterr()
    assert "token *** expired" in captured.err and "check the credentials" in captured.err
    for text in (caplog.text, captured.out, captured.err, files_text(tmp_path).decode("latin-1")):
        assert TOKEN not in text
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # DEBUG really was captured


def test_token_file_and_basic_auth(proxy, tmp_path: Path, monkeypatch, caplog) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    conn = Connection(proxy.url, token=SecretRef(file=token_file))
    fetch(conn, QUERY, START, START + 3600, "1h")
    assert proxy.requests[-1][1]["Authorization"] == f"Bearer {TOKEN}"

    monkeypatch.setenv("PROM_PASSWORD", PASSWORD)
    conn = Connection(proxy.url, username="capforecast", password=SecretRef(env="PROM_PASSWORD"), retries=0)
    fetch(conn, QUERY, START, START + 3600, "1h")
    expected = base64.b64encode(f"capforecast:{PASSWORD}".encode()).decode()
    assert proxy.requests[-1][1]["Authorization"] == f"Basic {expected}"
    proxy.mode, proxy.body = "500", f'{{"error":"bad password {PASSWORD}"}}'.encode()
    with caplog.at_level(logging.DEBUG), pytest.raises(IngestError) as err:
        fetch(conn, QUERY, START, START + 3600, "1h")
    assert PASSWORD not in str(err.value) and PASSWORD not in caplog.text and "***" in str(err.value)
    assert PASSWORD not in repr(conn) and TOKEN not in repr(Connection(proxy.url, token=TOKEN))


def test_connection_settings_are_checked_with_a_fix() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        Connection("prometheus:9090")
    with pytest.raises(ConfigError, match="either a bearer token or basic auth"):
        Connection("http://p:9090", token="x", username="u", password="p")
    with pytest.raises(ConfigError, match="PROM_NOT_SET is not set"):
        Connection("http://p:9090", token=SecretRef(env="PROM_NOT_SET")).session()
    with pytest.raises(ConfigError, match="CA bundle /nope.pem does not exist"):
        Connection("https://p:9090", ca_file="/nope.pem").session()
    assert Connection("https://p:9090", verify_tls=False).session().verify is False
    shown = Connection("http://user:pw-in-url@p:9090/prom")
    assert shown.display_url == "http://p:9090/prom" and "pw-in-url" not in repr(shown)
    assert shown.scrub("failed at http://user:pw-in-url@p:9090") == "failed at http://***:***@p:9090"


def test_a_prometheus_api_client_connection_keeps_its_headers_and_auth(proxy) -> None:
    from prometheus_api_client import PrometheusConnect

    pc = PrometheusConnect(url=proxy.url, headers={"X-Scope-OrgID": "team-b"}, auth=("reader", PASSWORD))
    fetch(pc, QUERY, START, START + 3600, "1h")
    sent = proxy.requests[-1][1]
    assert sent["X-Scope-OrgID"] == "team-b"
    assert sent["Authorization"] == "Basic " + base64.b64encode(f"reader:{PASSWORD}".encode()).decode()
