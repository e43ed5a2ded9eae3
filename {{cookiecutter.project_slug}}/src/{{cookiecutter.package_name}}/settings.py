"""Settings, read from the environment and `.env` (the environment wins)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .realtime.backends import SCHEMES, describe_schemes
from .realtime.limits import Limits

# Every limit's default lives in `Limits`, under its environment variable's name.
DEFAULT = Limits()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_name: str = {{ cookiecutter.project_name | literal }}
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = {{ cookiecutter.port }}
    pubsub_url: str = "memory://"
    # Starts every Redis channel name, so that apps sharing one Redis keep apart.
    pubsub_prefix: str = "{{ cookiecutter.package_name }}:"
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = DEFAULT.allowed_origins
    ws_max_message_bytes: Annotated[int, Field(gt=0)] = DEFAULT.ws_max_message_bytes
    ws_send_queue: Annotated[int, Field(gt=0)] = DEFAULT.ws_send_queue
    ws_send_buffer_bytes: Annotated[int, Field(gt=0)] = DEFAULT.ws_send_buffer_bytes
    ws_rate_limit: Annotated[float, Field(gt=0)] = DEFAULT.ws_rate_limit
    ws_ping_seconds: Annotated[float, Field(gt=0)] = 20
    max_connections: Annotated[int, Field(gt=0)] = DEFAULT.max_connections
    sse_ping_seconds: Annotated[float, Field(gt=0)] = DEFAULT.sse_ping_seconds
    history_size: Annotated[int, Field(ge=0)] = DEFAULT.history_size
    history_ttl: Annotated[float, Field(gt=0)] = DEFAULT.history_ttl
    presence_ttl: Annotated[float, Field(gt=0, le=30)] = DEFAULT.presence_ttl
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
        if value.partition("://")[0] not in SCHEMES:
            raise ValueError(describe_schemes())
        return value

    def limits(self) -> Limits:
        return Limits(**{name: getattr(self, name) for name in Limits.__dataclass_fields__})

    @property
    def single_process_pubsub(self) -> bool:
        return self.pubsub_url.startswith("memory://")
