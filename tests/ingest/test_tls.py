"""HTTPS for real: a throw-away CA, a Prometheus serving TLS with its certificate, and capforecast verifying it.

Nothing is mocked: ``openssl`` makes the CA and a certificate for 127.0.0.1 / localhost, Prometheus serves it
through ``--web.config.file``, and the handshake is ``requests``'/OpenSSL's. ``$REQUESTS_CA_BUNDLE`` and
``$CURL_CA_BUNDLE`` point at an unrelated bundle in every test: when set, requests used to let them replace
``--ca-file`` and ``--insecure`` (psf/requests#3829), and many machines and CI images set them.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import certifi
import numpy as np
import pandas as pd
import pytest

from capforecast.cli import main
from capforecast.errors import IngestError
from capforecast.ingest import Connection, fetch
from capforecast.ingest.files import read_series

from ..promserver import PrometheusServer, Series
from .conftest import require_prometheus

START = 1_777_593_600  # 2026-05-01T00:00:00Z
TS = np.arange(START, START + 3600 + 1, 60, dtype=np.int64)  # one hour at 1 minute: 61 points per pool
POOLS = ("a100", "h100")
QUERY = "gpu_used"
RANGE = ["--query", QUERY, "--id-labels", "pool", "--start", str(START), "--end", str(TS[-1]), "--step", "1m"]

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def values(pool: str) -> np.ndarray:
    return np.round(np.random.default_rng(POOLS.index(pool)).gamma(4.0, 8.0, len(TS)), 3)


def openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, f"openssl {' '.join(args)} failed: {done.stderr}"


def make_certificates(directory: Path) -> dict[str, Path]:
    """A CA (``ca.pem``) and the server certificate it signed for IP 127.0.0.1 and DNS localhost."""
    if shutil.which("openssl") is None:
        pytest.fail("`openssl` is not on PATH; install it (apt-get install -y openssl)", pytrace=False)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=capforecast test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    openssl("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=directory)
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n", encoding="utf-8")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
            "-days", "2", "-extfile", "server.ext", "-out", "server.pem", cwd=directory)
    return {"ca": directory / "ca.pem", "cert": directory / "server.pem", "key": directory / "server.key"}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_prom(tls: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A Prometheus that speaks HTTPS only, with the test CA's certificate; fails (never skips) if missing."""
    require_prometheus()
    series = [Series(QUERY, {"pool": p}, TS, values(p)) for p in POOLS]
    web = {"tls_server_config": {"cert_file": str(tls["cert"]), "key_file": str(tls["key"])}}
    with PrometheusServer.from_samples(series, tmp_path_factory.mktemp("prom-tls"), web_config=web) as server:
        assert server.url.startswith("https://127.0.0.1:")
        yield server


@pytest.fixture(autouse=True)
def other_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment CA bundles that do not hold the test CA (and must not override the connection's)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())


def assert_seeded(frame: pd.DataFrame) -> None:
    assert sorted(frame["unique_id"].unique()) == list(POOLS)
    for pool in POOLS:
        rows = frame[frame["unique_id"] == pool]
        assert ((rows["ds"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).tolist() == TS.tolist()
        assert rows["y"].tolist() == values(pool).tolist()


def test_with_the_ca_file_the_certificate_verifies_and_the_data_is_exact(https_prom, tls) -> None:
    conn = Connection(https_prom.url, ca_file=tls["ca"])
    assert_seeded(fetch(conn, QUERY, START, int(TS[-1]), "1m", id_labels=["pool"]))
    assert conn.client().check_prometheus_connection()  # prometheus-api-client on the same session


def test_default_verification_fails_at_once_naming_the_problem_and_the_fix(https_prom, caplog) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(IngestError) as err:
        fetch(https_prom.url, QUERY, START, int(TS[-1]), "1m")
    message = str(err.value)
    assert message.startswith(f"TLS certificate verification failed for Prometheus at {https_prom.url} "
                              "(certificate verify failed: unable to get local issuer certificate)")
    assert "--ca-file PATH (ca_file), or turn verification off with --insecure (verify_tls=False" in message
    assert "query 'gpu_used' from 2026-05-01T00:00:00Z to 2026-05-01T01:00:00Z step 1m" in message
    assert "retry" not in caplog.text  # a certificate does not get better by asking again


def test_a_ca_that_did_not_sign_the_certificate_is_named(https_prom) -> None:
    with pytest.raises(IngestError, match=f"with the CA bundle {certifi.where()}; check that it holds the CA"):
        fetch(Connection(https_prom.url, ca_file=certifi.where()), QUERY, START, int(TS[-1]), "1m")


def test_with_verification_off_it_succeeds(https_prom) -> None:
    assert_seeded(fetch(Connection(https_prom.url, verify_tls=False), QUERY, START, int(TS[-1]), "1m"))


def test_plain_http_to_the_https_port_says_to_use_https(https_prom) -> None:
    with pytest.raises(IngestError, match="the server speaks HTTPS: write the URL as https://"):
        fetch(https_prom.url.replace("https://", "http://"), QUERY, START, int(TS[-1]), "1m")


def test_cli_ca_file_insecure_and_a_failed_run_that_leaves_files_alone(https_prom, tls, tmp_path, capsys) -> None:
    cache, out = tmp_path / "cache", tmp_path / "gpus.parquet"
    files = ["--url", https_prom.url, *RANGE, "--out", str(out), "--cache", str(cache)]

    assert main(["ingest", *files]) == 1  # no CA file: nothing written, no cache started
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("capforecast: error: TLS certificate verification failed ")
    assert "--ca-file PATH" in err and "--insecure" in err
    assert not out.exists() and not cache.exists()

    assert main(["ingest", *files, "--ca-file", str(tls["ca"])]) == 0
    assert "wrote 122 rows of 2 series (1h at 1m)" in capsys.readouterr().out
    assert_seeded(read_series(out))
    before = {p: p.read_bytes() for p in [out, *cache.iterdir()]}

    # an hour more (the cached hour is not asked for again) without the CA file: the file and the cache stay
    assert main(["ingest", *files, "--end", str(TS[-1] + 3600)]) == 1
    assert "TLS certificate verification failed" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in [out, *cache.iterdir()]} == before

    insecure = tmp_path / "insecure.csv"
    assert main(["ingest", "--url", https_prom.url, *RANGE, "--out", str(insecure), "--insecure"]) == 0
    assert_seeded(read_series(insecure))
