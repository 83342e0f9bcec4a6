"""Where a cycle is evaluated: cycle.yaml's ``backend:`` and ``--backend``, as a :class:`BackendSpec`.

The syntax (docs/backends.md)::

    backend: duckdb                                   # the default when absent
    backend: {kind: spark, master: "local[2]"}        # or spark://host:7077
    backend: {kind: spark, connect: "sc://host:15002"}
    backend: {kind: postgres, url: "postgresql://user@host:5432/db"}

On the command line, ``--backend`` takes the kind alone (``duckdb``, ``spark``, ``postgres``) or
an address that says it: ``local[N]`` / ``spark://…`` (a Spark master), ``sc://…`` (Spark
Connect), ``postgresql://…`` (a PostgreSQL database).  A kind given alone keeps the rest of
cycle.yaml's entry when it names the same kind.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

KINDS = ("duckdb", "spark", "postgres")
DEFAULT_SPARK_MASTER = "local[*]"


class BackendSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["duckdb", "spark", "postgres"] = "duckdb"
    master: str | None = None  # spark: local[N] or spark://host:port
    connect: str | None = None  # spark: a Spark Connect server, sc://host:port
    url: str | None = None  # postgres: postgresql://user[:password]@host[:port]/database

    @model_validator(mode="before")
    @classmethod
    def _kind_alone(cls, value):
        return {"kind": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _keys_of_kind(self):
        given = {k for k in ("master", "connect", "url") if getattr(self, k) is not None}
        allowed = {"duckdb": set(), "spark": {"master", "connect"}, "postgres": {"url"}}[self.kind]
        if given - allowed:
            extra = ", ".join(sorted(given - allowed))
            raise ValueError(f"'{extra}' does not apply to backend kind '{self.kind}'"
                             + (f" (it takes {', '.join(sorted(allowed))})" if allowed else ""))
        if self.kind == "spark" and self.master and self.connect:
            raise ValueError("give 'master' (a Spark master) or 'connect' (a Spark Connect server), not both")
        if self.kind == "postgres" and not self.url:
            raise ValueError("a postgres backend needs 'url', e.g. postgresql://user@host:5432/db")
        return self

    @property
    def spark_master(self) -> str:
        return self.master or DEFAULT_SPARK_MASTER

    def where(self) -> str:
        """The engine and its address, for messages and the manifest (no password)."""
        if self.kind == "spark":
            return f"spark ({self.connect or self.spark_master})"
        if self.kind == "postgres":
            return f"postgres ({without_password(self.url or '')})"
        return "duckdb (embedded)"


def without_password(url: str) -> str:
    """*url* with the password of its user part, if any, replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    user, _, host = rest.rpartition("@")
    if ":" in user:
        user = user.split(":", 1)[0] + ":***"
    return f"{scheme}://{user}@{host}"


def backend_from_option(option: str, configured: BackendSpec) -> BackendSpec:
    """The backend that ``--backend OPTION`` names, over cycle.yaml's *configured* one."""
    text = option.strip()
    if text in KINDS:
        if configured.kind == text:
            return configured
        if text == "postgres":
            raise ValueError("--backend postgres needs the database's address: "
                             "--backend postgresql://user@host:5432/db (or set backend.url in cycle.yaml)")
        return BackendSpec(kind=text)
    if text.startswith(("postgresql://", "postgres://")):
        return BackendSpec(kind="postgres", url=text)
    if text.startswith("sc://"):
        return BackendSpec(kind="spark", connect=text)
    if text.startswith(("spark://", "local")):
        return BackendSpec(kind="spark", master=text)
    raise ValueError(f"unknown backend '{option}' (expected duckdb, spark, local[N], spark://host:port, "
                     f"sc://host:port or postgresql://user@host:port/db)")
