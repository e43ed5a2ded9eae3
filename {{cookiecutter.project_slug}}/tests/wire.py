"""A WebSocket client on a bare socket, for what well-behaved clients never do.

It can send frames no library would (invalid UTF-8, unmasked, reserved
opcodes), stop reading with a tiny receive buffer, and never answer a ping.
"""

from __future__ import annotations

import base64
import os
import socket
import struct

TIMEOUT = 10.0

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def handshake(
    port: int,
    path: str,
    *,
    receive_buffer: int | None = None,
    origin: str | None = None,
    extensions: str | None = None,
) -> socket.socket:
    """Open a WebSocket on `path` and return the socket, positioned at the first frame."""
    sock = socket.socket()
    if receive_buffer is not None:
        # Set before connecting, so that the window the server sees stays small.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *([f"Origin: {origin}"] if origin else []),
        *([f"Sec-WebSocket-Extensions: {extensions}"] if extensions else []),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):  # byte by byte: not a byte of the first frame
        head += _receive_exactly(sock, 1)
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        sock.close()
        raise ConnectionError(f"handshake refused: {status.decode()}")
    return sock


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bool = True) -> bytes:
    """One frame as a client sends it (masked), or as it must not (mask=False)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    size, bit = len(payload), 0x80 if mask else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    stream = (key * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")
    return head + key + masked


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """The next frame from the server (never masked): its opcode and payload."""
    first, second = _receive_exactly(sock, 2)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", _receive_exactly(sock, 2))
    elif size == 127:
        (size,) = struct.unpack("!Q", _receive_exactly(sock, 8))
    return first & 0x0F, _receive_exactly(sock, size)


def read_raw_frame(sock: socket.socket) -> bytes:
    """The next frame from the server, header included, exactly as it came."""
    head = _receive_exactly(sock, 2)
    size = head[1] & 0x7F
    if size >= 126:
        extra = _receive_exactly(sock, 2 if size == 126 else 8)
        head += extra
        size = int.from_bytes(extra, "big")
    return head + _receive_exactly(sock, size)


def read_close(sock: socket.socket) -> int:
    """Skip frames up to the server's close frame and return its code."""
    while True:
        opcode, payload = read_frame(sock)
        if opcode == CLOSE:
            code: int = struct.unpack("!H", payload[:2])[0] if payload else 1005
            return code


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data
