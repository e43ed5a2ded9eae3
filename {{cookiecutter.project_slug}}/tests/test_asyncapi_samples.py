"""The samples declare what they receive and send, for the AsyncAPI document."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.app import ROUTES
from {{ cookiecutter.package_name }}.realtime import load_routes
from {{ cookiecutter.package_name }}.realtime.routing import format_table

from .conftest import PACKAGE
from .test_asyncapi import channel_at, operations_of, payload, served_document

ROUTE_PACKAGE = f"{PACKAGE}.routes"


def test_the_samples_are_typed() -> None:
    samples_document = served_document()
    chat, _ = channel_at(samples_document, "/api/ws/chat")
    sent = payload(samples_document, operations_of(samples_document, chat)["send"])
    assert sent["required"] == ["user", "message"]
    ticker, _ = channel_at(samples_document, "/api/sse")
    tick = payload(samples_document, operations_of(samples_document, ticker)["send"])
    assert set(tick["properties"]) == {"count", "time"}
    channel_at(samples_document, "/api/chat/feed")  # push-style SSE is a channel too


def test_the_route_table_labels_push_style_sse_and_shows_message_types() -> None:
    rows = {
        line.split()[1]: line.split()
        for line in format_table(load_routes(ROUTES, ROUTE_PACKAGE)).splitlines()
    }
    assert rows["/api/chat/feed"][:3] == ["GET", "/api/chat/feed", "sse"]
    assert rows["/api/sse"][-2:] == ["sends", "Tick"]
    assert rows["/api/ws/chat"][-4:] == ["receives", "Message,", "sends", "ChatMessage"]
