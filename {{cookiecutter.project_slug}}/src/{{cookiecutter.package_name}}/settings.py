"""Settings, read from the environment and `.env` (the environment wins)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_name: str = {{ cookiecutter.project_name | literal }}
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = {{ cookiecutter.port }}
    pubsub_url: str = "memory://"
    # Starts every Redis channel name, so that apps sharing one Redis keep apart.
    pubsub_prefix: str = "{{ cookiecutter.package_name }}:"
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    ws_max_message_bytes: Annotated[int, Field(gt=0)] = 64 * 1024
    ws_send_queue: Annotated[int, Field(gt=0)] = 256
    ws_rate_limit: Annotated[float, Field(gt=0)] = 50
    ws_ping_seconds: Annotated[float, Field(gt=0)] = 20
    max_connections: Annotated[int, Field(gt=0)] = 10_000
    sse_ping_seconds: Annotated[float, Field(gt=0)] = 15
    log_level: str = "info"

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            origins = (origin.strip().rstrip("/") for origin in value.split(","))
            return tuple(origin for origin in origins if origin)
        return value

    @field_validator("pubsub_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value.partition("://")[0] not in ("memory", "redis", "rediss"):
            raise ValueError("use memory:// or redis://host:port/db (rediss:// for TLS)")
        return value

    @property
    def single_process_pubsub(self) -> bool:
        return self.pubsub_url.startswith("memory://")
