"""Reading each section of the config (``prometheus``, ``series``, ``pools``, ...) into its typed object."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from capforecast.config._types import (
    BacktestConfig,
    ForecastConfig,
    ModelsConfig,
    OutputConfig,
    PoolConfig,
    PrometheusConfig,
    RealisedConfig,
    SeriesConfig,
)
from capforecast.config._values import _ValueReader

DEFAULT_URL_ENV = "CAPFORECAST_PROMETHEUS_URL"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")
_METRICS = ("mase", "smape", "mae", "rmse")


def _known_models() -> list[str]:
    """Model aliases of ``capforecast.models`` (its lazy registry; no TensorFlow import)."""
    try:
        from capforecast import models
    except ImportError:  # pragma: no cover - the package always has it
        return []
    for name in ("MODEL_ALIASES", "ALIASES", "REGISTRY", "_REGISTRY", "MODELS"):
        table = getattr(models, name, None)
        if isinstance(table, Mapping) and table:
            return sorted(table)
    return ["auto", "gbm", "holt_winters", "lstm", "naive", "seasonal_naive", "seasonal_quantile"]


class _Reader(_ValueReader):
    """Validates one section at a time; every error names ``label: key.path`` and the fix."""

    def prometheus(self, value: Any) -> PrometheusConfig:
        m = self.mapping(
            value,
            "prometheus",
            allowed=(
                "url",
                "url_env",
                "token",
                "basic_auth",
                "headers",
                "ca_file",
                "verify_tls",
                "timeout",
                "retries",
                "workers",
            ),
        )
        url_env = self.text(m.get("url_env", DEFAULT_URL_ENV), "prometheus.url_env")
        url = self.environ.get(url_env) or m.get("url")
        if not url:
            raise self.fail("prometheus.url", f"is required; set it, or export {url_env}=http://host:9090")
        url = self.text(url, "prometheus.url")
        if not re.match(r"^https?://[^/\s]+", url):
            source = f"environment variable {url_env}" if self.environ.get(url_env) else "prometheus.url"
            raise self.fail(source, f"{url!r} is not an http(s) URL; write e.g. http://prometheus:9090")
        if "@" in url.split("//", 1)[1].split("/", 1)[0]:
            raise self.fail(
                "prometheus.url",
                "credentials may not be written in the URL; remove 'user:password@' and use "
                "basic_auth: {username: NAME, password: {env: VAR}} or token: {env: VAR}",
            )
        username = password = None
        if m.get("basic_auth") is not None:
            ba = self.mapping(
                m["basic_auth"],
                "prometheus.basic_auth",
                required=("username", "password"),
                allowed=("username", "password"),
            )
            username = self.text(ba["username"], "prometheus.basic_auth.username")
            password = self.secret(ba["password"], "prometheus.basic_auth.password")
        token = self.secret(m["token"], "prometheus.token") if m.get("token") is not None else None
        if token is not None and username is not None:
            raise self.fail("prometheus.token", "use either token or basic_auth, not both")
        headers = self.mapping(m.get("headers"), "prometheus.headers")
        for name, val in headers.items():
            if str(name).lower() == "authorization":
                raise self.fail(
                    f"prometheus.headers.{name}",
                    "put credentials in prometheus.token (an env or file reference), not in headers",
                )
            self.text(val, f"prometheus.headers.{name}")
        verify = m.get("verify_tls", True)
        if not isinstance(verify, bool):
            raise self.fail("prometheus.verify_tls", f"expected true or false, got {verify!r}")
        return PrometheusConfig(
            url=url.rstrip("/"),
            token=token,
            username=username,
            password=password,
            headers={str(k): str(v) for k, v in headers.items()},
            ca_file=self.path(m["ca_file"], "prometheus.ca_file") if m.get("ca_file") else None,
            verify_tls=verify,
            timeout=self.duration(m.get("timeout", "30s"), "prometheus.timeout"),
            retries=self.integer(m.get("retries", 3), "prometheus.retries", minimum=0),
            workers=self.integer(m.get("workers", 4), "prometheus.workers", minimum=1),
        )

    def series(self, value: Any) -> SeriesConfig:
        m = self.mapping(
            value,
            "series",
            required=("step", "history"),
            allowed=("step", "history", "query", "preset", "id_labels"),
        )
        step = self.duration(m["step"], "series.step")
        history = self.duration(m["history"], "series.history")
        if history < 2 * step:
            raise self.fail(
                "series.history",
                f"{m['history']!r} holds fewer than two steps of {m['step']!r}; make it longer (e.g. 30d)",
            )
        if m.get("query") is not None and m.get("preset") is not None:
            raise self.fail("series.query", "give either query or preset, not both")
        preset = None
        if m.get("preset") is not None:
            p = m["preset"]
            preset = (
                {"name": self.text(p, "series.preset")}
                if isinstance(p, str)
                else self.mapping(p, "series.preset", required=("name",))
            )
        labels = m.get("id_labels", ["pool"])
        if isinstance(labels, str):
            labels = [s.strip() for s in labels.split(",")]
        if not isinstance(labels, list) or not labels:
            raise self.fail("series.id_labels", f"expected a list of label names, got {labels!r}")
        return SeriesConfig(
            step=step,
            history=history,
            preset=preset,
            query=self.text(m["query"], "series.query") if m.get("query") is not None else None,
            id_labels=tuple(self.text(x, f"series.id_labels[{i}]") for i, x in enumerate(labels)),
        )

    def pools(self, value: Any) -> tuple[PoolConfig, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(
                "pools",
                "expected a non-empty list of pools, each with at least name, gpus_per_node, min_nodes and max_nodes",
            )
        out: list[PoolConfig] = []
        for i, item in enumerate(value):
            key = f"pools[{i}]"
            m = self.mapping(item, key, required=("name",))
            name = self.text(m.pop("name"), f"{key}.name")
            if not _NAME_RE.match(name):
                raise self.fail(
                    f"{key}.name",
                    f"{name!r} is not a valid pool name; use lower-case letters, "
                    "digits, '-', '_' or '.' (it becomes a Kubernetes name)",
                )
            if name in (p.name for p in out):
                raise self.fail(f"{key}.name", f"pool {name!r} is listed twice; give each pool once")
            query = m.pop("query", None)
            out.append(
                PoolConfig(name=name, spec=m, query=self.text(query, f"{key}.query") if query is not None else None)
            )
        return tuple(out)

    def models(self, value: Any) -> ModelsConfig:
        m = self.mapping(value, "models", allowed=("candidates", "params", "fallback", "min_improvement"))
        known = _known_models()
        cands = m.get("candidates", list(ModelsConfig.candidates))
        if isinstance(cands, str):
            cands = [s.strip() for s in cands.split(",")]
        if not isinstance(cands, list) or not cands:
            raise self.fail("models.candidates", f"expected a non-empty list of model names from {known}")
        for i, alias in enumerate(cands):
            if alias not in known:
                raise self.fail(f"models.candidates[{i}]", f"unknown model {alias!r}; use one of {known}")
        fallback = m.get("fallback", "seasonal_naive")
        if fallback not in known:
            raise self.fail("models.fallback", f"unknown model {fallback!r}; use one of {known}")
        params = self.mapping(m.get("params"), "models.params")
        for alias, p in params.items():
            self.mapping(p, f"models.params.{alias}")
            if alias not in known:
                raise self.fail(f"models.params.{alias}", f"unknown model; use one of {known}")
            self.model_params(str(alias), dict(p))
        imp = m.get("min_improvement", 0.0)
        if isinstance(imp, bool) or not isinstance(imp, (int, float)) or not 0 <= imp < 1:
            raise self.fail("models.min_improvement", f"expected a share in [0, 1) such as 0.02, got {imp!r}")
        return ModelsConfig(
            candidates=tuple(dict.fromkeys(cands)),
            fallback=fallback,
            min_improvement=float(imp),
            params={str(k): dict(v) for k, v in params.items()},
        )

    def model_params(self, alias: str, params: dict[str, Any]) -> None:
        """Refuse a parameter the model does not take (``--check`` says so; a run would skip the candidate)."""
        from capforecast.models import model_class

        takes = model_class(alias)._param_names()  # what build_model checks --param against
        for key in params:
            if key not in takes:
                raise self.fail(f"models.params.{alias}.{key}",
                                f"model {alias!r} has no such parameter; valid: {', '.join(takes) or '(none)'}")

    def backtest(self, value: Any) -> BacktestConfig:
        m = self.mapping(value, "backtest", allowed=("windows", "horizon", "step", "metric"))
        metric = m.get("metric", "mase")
        if metric not in _METRICS:
            raise self.fail("backtest.metric", f"unknown metric {metric!r}; use one of {list(_METRICS)}")
        return BacktestConfig(
            windows=self.integer(m.get("windows", 3), "backtest.windows", minimum=1),
            horizon=self.duration(m.get("horizon", "24h"), "backtest.horizon"),
            step=self.duration(m.get("step", "24h"), "backtest.step"),
            metric=metric,
        )

    def forecast(self, value: Any) -> ForecastConfig:
        m = self.mapping(value, "forecast", allowed=("horizon", "quantiles"))
        qs = m.get("quantiles", list(ForecastConfig.quantiles))
        if isinstance(qs, str):
            try:
                qs = [float(s) for s in qs.split(",")]
            except ValueError:
                raise self.fail("forecast.quantiles", f"cannot read {qs!r}; write e.g. [0.5, 0.9, 0.99]") from None
        if (
            not isinstance(qs, list)
            or not qs
            or not all(isinstance(q, (int, float)) and not isinstance(q, bool) and 0 < q < 1 for q in qs)
        ):
            raise self.fail(
                "forecast.quantiles",
                f"expected a list of levels strictly between 0 and 1 such as [0.5, 0.9, 0.99], got {qs!r}",
            )
        return ForecastConfig(
            horizon=self.duration(m.get("horizon", "24h"), "forecast.horizon"),
            quantiles=tuple(sorted({float(q) for q in qs})),
        )

    def realised(self, value: Any) -> RealisedConfig:
        m = self.mapping(value, "realised", allowed=("flag_after_days", "widen"))
        widen = m.get("widen", 0.5)
        if isinstance(widen, bool) or not isinstance(widen, (int, float)) or not 0 < widen <= 1:
            raise self.fail("realised.widen", f"expected a share in (0, 1] such as 0.5 (1: never widen), got {widen!r}")
        return RealisedConfig(
            flag_after_days=self.integer(m.get("flag_after_days", 2), "realised.flag_after_days", minimum=1),
            widen=float(widen),
        )

    def output(self, value: Any) -> OutputConfig:
        m = self.mapping(
            value,
            "output",
            required=("dir",),
            allowed=("dir", "registry", "cache", "metrics_file", "keep_runs"),
        )
        root = self.path(m["dir"], "output.dir")
        return OutputConfig(
            dir=root,
            registry=self.path(m["registry"], "output.registry") if m.get("registry") else root / "models",
            cache_dir=self.path(m["cache"], "output.cache") if m.get("cache") else root / "cache",
            metrics_file=self.path(m["metrics_file"], "output.metrics_file") if m.get("metrics_file") else None,
            keep_runs=self.integer(m.get("keep_runs", 14), "output.keep_runs", minimum=1),
        )
