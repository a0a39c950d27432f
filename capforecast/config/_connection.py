"""The nightly config's connection section and the pieces every section shares (pydantic).

:class:`PrometheusSection` (with :class:`BasicAuth`) is the ``prometheus:`` key of the nightly config:
where the server is and how to authenticate, with secrets only ever referenced (``{env: VAR}`` or
``{file: PATH}``), never written. ``_Section`` (strict, frozen) and :data:`FilePath` (relative to the config
file) are shared with the other sections in :mod:`capforecast.config._model`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, WithJsonSchema, model_validator

from capforecast._schema import Invalid, PositiveDuration, Text, whole
from capforecast.config._types import DEFAULT_URL_ENV, SecretRef

__all__ = ["BasicAuth", "FilePath", "PrometheusSection", "Secret"]

_BV = BeforeValidator
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def _path(value: Any, info: ValidationInfo) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a non-empty path, got {value!r}; write e.g. /var/lib/capforecast")
    p = Path(os.path.expanduser(value.strip()))
    return p if p.is_absolute() else Path((info.context or {}).get("base_dir", ".")) / p


#: A path; relative ones are taken relative to the config file.
FilePath = Annotated[Path, _BV(_path), WithJsonSchema({"type": "string", "minLength": 1})]


def _secret(value: Any, info: ValidationInfo) -> SecretRef:
    if isinstance(value, str):
        raise Invalid("secrets may not be written in the config; reference them instead: "
                      "{env: PROM_TOKEN} or {file: /var/run/secrets/prometheus/token}")
    if not isinstance(value, Mapping) or len(value) != 1 or not set(value) <= {"env", "file"}:
        raise Invalid("give exactly one of env: VAR or file: PATH")
    if "env" in value:
        name = value["env"]
        if not isinstance(name, str) or not _ENV_RE.match(name.strip()):
            raise Invalid(f"{name!r} is not an environment variable name; e.g. PROM_TOKEN", key="env")
        return SecretRef(env=name.strip())
    try:
        return SecretRef(file=_path(value["file"], info))
    except Invalid as exc:
        raise Invalid(str(exc), key="file") from None


#: A reference to a secret: ``{env: VAR}`` or ``{file: PATH}``, never the secret itself.
Secret = Annotated[SecretRef, _BV(_secret), WithJsonSchema({
    "oneOf": [{"type": "object", "properties": {"env": {"type": "string", "pattern": _ENV_RE.pattern}},
               "required": ["env"], "additionalProperties": False},
              {"type": "object", "properties": {"file": {"type": "string", "minLength": 1}},
               "required": ["file"], "additionalProperties": False}]})]


class BasicAuth(_Section):
    """HTTP basic auth: a user name and a password reference."""

    username: Annotated[Text, Field(description="user name")]
    password: Annotated[Secret, Field(description="{env: VAR} or {file: PATH}")]


class PrometheusSection(_Section):
    """Connection to Prometheus (or Thanos, Mimir, VictoriaMetrics)."""

    url: Annotated[str | None, Field(description="base URL of Prometheus, Thanos, Mimir or VictoriaMetrics (no "
                                     "`user:pass@`)", json_schema_extra={"doc_default": "required"})] = None
    url_env: Annotated[Text, Field(description="env var that, when set, overrides `url`")] = DEFAULT_URL_ENV
    token: Annotated[Secret | None, Field(description="bearer token: `{env: VAR}` or `{file: PATH}` — never the "
                                          "token itself")] = None
    basic_auth: Annotated[BasicAuth | None, Field(description="`{username: NAME, password: {env: VAR} or {file: "
                                                  "PATH}}`")] = None
    headers: Annotated[dict[str, str], Field(description="extra headers (e.g. `X-Scope-OrgID`); not for "
                                             "credentials")] = {}
    ca_file: Annotated[FilePath | None, Field(description="CA bundle that signs the server's certificate")] = None
    verify_tls: Annotated[bool, Field(strict=True, description="check the server's TLS certificate")] = True
    timeout: Annotated[PositiveDuration, Field(description="timeout of one request", json_schema_extra={
        "default": "30s"})] = pd.Timedelta(seconds=30)
    retries: Annotated[int, Field(ge=0), _BV(whole(0, 3)), Field(description="extra attempts after 429/5xx/"
                                                                       "timeouts")] = 3
    workers: Annotated[int, Field(ge=1), _BV(whole(1, 4)), Field(description="chunk requests in flight")] = 4

    @model_validator(mode="wrap")
    @classmethod
    def _checks(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
        if isinstance(data, Mapping):
            data = dict(data)
            env = data.get("url_env", DEFAULT_URL_ENV)
            from_env = (info.context or {}).get("environ", os.environ).get(env) if isinstance(env, str) else None
            url = from_env or data.get("url")
            if not url:
                raise Invalid(f"is required; set it, or export {env}=http://host:9090", key="url")
            if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url.strip()):
                raise Invalid(f"{url!r} is not an http(s) URL; write e.g. http://prometheus:9090", key="url",
                              where=f"environment variable {env}" if from_env else None)
            if "@" in url.split("//", 1)[1].split("/", 1)[0]:
                raise Invalid("credentials may not be written in the URL; remove 'user:password@' and use "
                              "basic_auth: {username: NAME, password: {env: VAR}} or token: {env: VAR}", key="url")
            headers = data.get("headers")
            for name in headers if isinstance(headers, Mapping) else ():
                if str(name).lower() == "authorization":
                    raise Invalid("put credentials in prometheus.token (an env or file reference), not in headers",
                                  key=f"headers.{name}")
            data["url"] = url.strip().rstrip("/")
        out = handler(data)
        if out.token is not None and out.basic_auth is not None:
            raise Invalid("use either token or basic_auth, not both", key="token")
        return out
