from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.supabase_storage import serve
from velro_graphql.storage.download import (
    DownloadError,
    TransientDownloadError,
    download,
    is_public,
    pinned_transport,
)

hits: Counter[str] = Counter()


async def sized(request: Request) -> Response:
    return Response(b"v" * int(request.path_params["n"]), media_type="video/mp4")


async def chunked(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(int(request.path_params["n"])):
            yield b"c" * 1000

    return StreamingResponse(chunks())


async def failing(request: Request) -> Response:
    """Answer `status` for the first `times` requests of a key, then the file."""
    key = request.path_params["key"]
    hits[key] += 1
    if hits[key] <= int(request.query_params["times"]):
        return Response(b"busy", status_code=int(request.query_params["status"]))
    return Response(b"finally")


async def stall(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        hits["stall"] += 1
        yield b"start"
        await asyncio.sleep(3)

    return StreamingResponse(chunks())


async def redirect(request: Request) -> Response:
    return RedirectResponse(request.query_params.get("to", "/redirect"), status_code=302)


app = Starlette(
    routes=[
        Route("/sized/{n:int}", sized),
        Route("/chunked/{n:int}", chunked),
        Route("/failing/{key}", failing),
        Route("/stall", stall),
        Route("/redirect", redirect),
    ]
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(app) as url:
        yield url


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    hits.clear()
    async with httpx.AsyncClient(follow_redirects=True) as client:
        yield client


async def fetch(client: httpx.AsyncClient, url: str, **options: object) -> bytes:
    defaults: dict[str, object] = {"max_bytes": 10_000, "allow_insecure": True, "backoff": 0.01}
    return await download(client, url, **{**defaults, **options})  # type: ignore[arg-type]


def test_permanent_and_transient_failures_are_told_apart() -> None:
    assert not issubclass(TransientDownloadError, DownloadError)
    assert not issubclass(DownloadError, TransientDownloadError)


async def test_download_returns_the_body(client: httpx.AsyncClient, base_url: str) -> None:
    assert await fetch(client, f"{base_url}/sized/10000") == b"v" * 10_000


async def test_a_declared_length_over_the_cap_is_refused(
    client: httpx.AsyncClient, base_url: str
) -> None:
    with pytest.raises(DownloadError, match="10001 bytes, over the 10000 cap"):
        await fetch(client, f"{base_url}/sized/10001")


async def test_a_stream_over_the_cap_is_cut_off(client: httpx.AsyncClient, base_url: str) -> None:
    assert len(await fetch(client, f"{base_url}/chunked/10")) == 10_000
    with pytest.raises(DownloadError, match="over the 10000 byte cap"):
        await fetch(client, f"{base_url}/chunked/11")


@pytest.mark.parametrize("status", [404, 403, 410, 400])
async def test_client_errors_are_permanent_and_not_retried(
    client: httpx.AsyncClient, base_url: str, status: int
) -> None:
    with pytest.raises(DownloadError, match=str(status)):
        await fetch(client, f"{base_url}/failing/k?times=9&status={status}")
    assert hits["k"] == 1


@pytest.mark.parametrize("status", [503, 500, 502, 429, 408])
async def test_transient_errors_are_retried_until_success(
    client: httpx.AsyncClient, base_url: str, status: int
) -> None:
    url = f"{base_url}/failing/k?times=2&status={status}"

    assert await fetch(client, url, attempts=3) == b"finally"
    assert hits["k"] == 3


async def test_transient_errors_give_up_after_the_attempts(
    client: httpx.AsyncClient, base_url: str
) -> None:
    with pytest.raises(TransientDownloadError, match="503"):
        await fetch(client, f"{base_url}/failing/k?times=9&status=503", attempts=4)
    assert hits["k"] == 4


async def test_a_stalled_transfer_times_out_after_retries(
    client: httpx.AsyncClient, base_url: str
) -> None:
    with pytest.raises(TransientDownloadError, match="ReadTimeout"):
        await fetch(client, f"{base_url}/stall", attempts=2, read_timeout=0.2)
    assert hits["stall"] == 2


async def test_an_unreachable_host_is_transient(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(TransientDownloadError, match="ConnectError"):
        await fetch(client, f"http://127.0.0.1:{port}/x", attempts=2)


async def test_redirects_are_followed_a_bounded_number_of_times(
    client: httpx.AsyncClient, base_url: str
) -> None:
    assert await fetch(client, f"{base_url}/redirect?to=/sized/3") == b"vvv"
    with pytest.raises(DownloadError, match="Too many redirects"):
        await fetch(client, f"{base_url}/redirect")


async def test_plain_http_is_refused_unless_allowed(
    client: httpx.AsyncClient, base_url: str
) -> None:
    with pytest.raises(DownloadError, match="https is required"):
        await fetch(client, f"{base_url}/sized/3", allow_insecure=False)
    with pytest.raises(DownloadError, match="https is required"):
        await fetch(client, f"{base_url}/redirect?to=/sized/3", allow_insecure=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:8443/file.png",
        "https://localhost/file.png",
        "https://[::1]/file.png",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.8/file.png",
        "https://[::ffff:192.168.1.1]/file.png",
    ],
)
async def test_https_urls_on_non_public_addresses_are_refused(
    client: httpx.AsyncClient, url: str
) -> None:
    with pytest.raises(DownloadError, match="non-public"):
        await fetch(client, url, allow_insecure=False)


@pytest.mark.parametrize("url", ["ftp://example.com/file", "file:///etc/passwd", "not a url"])
async def test_other_schemes_are_refused(client: httpx.AsyncClient, url: str) -> None:
    with pytest.raises(DownloadError, match="Not a downloadable URL"):
        await fetch(client, url)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("64:ff9b:1::808:808", False),  # a local-use NAT64 prefix
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:c0a8:1::1", False),  # 6to4 of 192.168.0.1
        ("::127.0.0.1", False),  # IPv4-compatible
        ("::10.0.0.1", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
        ("::", False),
        ("nonsense", False),
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(address) is public


async def test_a_pinned_host_connects_to_its_checked_address_only(base_url: str) -> None:
    port = httpx.URL(base_url).port
    # A name no resolver knows: only the pins reach it; an unreachable first address is passed.
    pins = {"files.invalid": ["127.0.0.2", "127.0.0.1"]}
    async with httpx.AsyncClient(transport=pinned_transport(pins)) as pinned:
        reply = await pinned.get(f"http://files.invalid:{port}/sized/3")
        assert reply.content == b"vvv"
        with pytest.raises(httpx.ConnectError, match="not checked"):
            await pinned.get(f"http://localhost:{port}/sized/3")


async def test_the_checked_address_is_the_one_connected_to(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a resolver answering a public address, then loopback. The name is
    resolved once, and the connection goes to that public address (unreachable here)."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    answers = iter(["8.8.8.8", "127.0.0.1"])
    asked: list[str] = []

    async def rebinding(host: Any, port: Any, **options: Any) -> Any:
        if host != "cdn.invalid":
            return await real(host, port, **options)
        asked.append(next(answers))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (asked[-1], port))]

    monkeypatch.setattr(loop, "getaddrinfo", rebinding)
    with pytest.raises(TransientDownloadError):
        await download(
            client, "https://cdn.invalid/x", max_bytes=10, attempts=1, connect_timeout=0.3
        )
    assert asked == ["8.8.8.8"]
