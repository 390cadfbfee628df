"""Fetch a provider's output: public https only, streamed under a size cap, retried with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from httpcore._backends.base import SOCKET_OPTION

from velro_graphql.backoff import backoff_delay

_MAX_REDIRECTS = 5
_MAX_BACKOFF = 10.0


class DownloadError(Exception):
    """The file could not be fetched, and fetching it again will not help."""


# Not a DownloadError subclass, so `except DownloadError` never swallows a retryable failure.
class TransientDownloadError(Exception):
    """The file could not be fetched this time (429, 5xx, timeout, connection): try later."""


async def download(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    allow_insecure: bool = False,
    attempts: int = 3,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    backoff: float = 0.5,
) -> bytes:
    """Return the body at `url`, retrying transient failures with jittered exponential backoff.

    Each host is resolved once and connected to at exactly the address checked (DNS rebinding
    cannot swap in another), through a client of its own; `client` serves `allow_insecure`
    (tests' local servers) only.
    """
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
    if allow_insecure:
        return await _attempts(client, None, url, max_bytes, timeout, attempts, backoff)
    pins: dict[str, list[str]] = {}
    async with httpx.AsyncClient(transport=pinned_transport(pins)) as pinned:
        return await _attempts(pinned, pins, url, max_bytes, timeout, attempts, backoff)


async def _attempts(
    client: httpx.AsyncClient,
    pins: dict[str, list[str]] | None,
    url: str,
    max_bytes: int,
    timeout: httpx.Timeout,
    attempts: int,
    backoff: float,
) -> bytes:
    for attempt in range(1, attempts + 1):
        try:
            return await _follow(client, pins, url, max_bytes, timeout)
        except TransientDownloadError:
            if attempt >= attempts:
                raise
        await asyncio.sleep(backoff_delay(attempt, first=backoff, cap=_MAX_BACKOFF))
    raise DownloadError(f"No attempt made to fetch {url} (attempts={attempts}).")


async def _follow(
    client: httpx.AsyncClient,
    pins: dict[str, list[str]] | None,
    url: str,
    max_bytes: int,
    timeout: httpx.Timeout,
) -> bytes:
    """Fetch `url`, following redirects by hand so every hop passes the same checks."""
    target = _parse(url)
    for _ in range(_MAX_REDIRECTS + 1):
        addresses = await check_url(target, allow_insecure=pins is None)
        if pins is not None:
            pins[target.host] = addresses
        body, location = await _get(client, target, max_bytes, timeout)
        if location is None:
            return body
        target = _parse(location, base=target)
    raise DownloadError(f"Too many redirects fetching {url}.")


def _parse(url: str, *, base: httpx.URL | None = None) -> httpx.URL:
    try:
        return base.join(url) if base is not None else httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise DownloadError(f"Not a downloadable URL: {url!r} ({exc}).") from exc


async def _get(
    client: httpx.AsyncClient, url: httpx.URL, max_bytes: int, timeout: httpx.Timeout
) -> tuple[bytes, str | None]:
    """Return (body, None), or (b"", location) for a redirect."""
    try:
        async with client.stream("GET", url, timeout=timeout, follow_redirects=False) as response:
            if response.is_redirect:
                return b"", response.headers["location"]
            _check_status(response)
            _check_length(response, max_bytes)
            return await _read_capped(response, max_bytes), None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise DownloadError(f"Cannot fetch {url}: {exc}") from exc
    except httpx.TransportError as exc:
        raise TransientDownloadError(f"Fetching {url} failed: {exc!r}") from exc
    except httpx.HTTPError as exc:
        raise DownloadError(f"Fetching {url} failed: {exc!r}") from exc


def _check_status(response: httpx.Response) -> None:
    """Raise for an unusable status: transient for 408, 429 and 5xx, permanent otherwise."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = f"{response.url} answered {status}."
    if status in (408, 429) or status >= 500:
        raise TransientDownloadError(message)
    raise DownloadError(message)


def _check_length(response: httpx.Response, max_bytes: int) -> None:
    """Refuse at once a body whose declared length is over the cap."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise DownloadError(f"{response.url} is {declared} bytes, over the {max_bytes} cap.")


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise DownloadError(f"{response.url} is over the {max_bytes} byte cap.")
        chunks.append(chunk)
    return b"".join(chunks)


async def check_url(url: httpx.URL, *, allow_insecure: bool = False) -> list[str]:
    """Refuse a URL that is not https or whose host resolves to any non-public address;
    return the addresses to connect to (none to pin when insecure URLs are allowed)."""
    if url.scheme not in ("http", "https") or not url.host:
        raise DownloadError(f"Not a downloadable URL: {url}.")
    if allow_insecure:
        return []
    if url.scheme != "https":
        raise DownloadError(f"Refusing insecure URL {url}: https is required.")
    addresses = await _resolve(url.host, url.port or 443)
    for address in addresses:
        if not is_public(address):
            raise DownloadError(f"Refusing {url}: {url.host} resolves to non-public {address}.")
    if not addresses:
        raise TransientDownloadError(f"{url.host} resolves to no address.")
    return addresses


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects each host to the addresses it was checked at (in order, as a resolver's answers
    are tried), and nowhere else. TLS still verifies the certificate of the real host name
    (httpcore passes it as SNI)."""

    def __init__(self, pins: dict[str, list[str]]) -> None:
        self._pins = pins
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self._pins.get(host)
        if not addresses:
            raise httpcore.ConnectError(f"{host} was not checked before connecting.")
        for address in addresses[:-1]:
            with contextlib.suppress(httpcore.ConnectError, httpcore.ConnectTimeout):
                return await self._connect(address, port, timeout, local_address, socket_options)
        return await self._connect(addresses[-1], port, timeout, local_address, socket_options)

    async def _connect(self, address: str, *args: Any) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_tcp(address, *args)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pinned_transport(pins: dict[str, list[str]]) -> httpx.AsyncHTTPTransport:
    """An httpx transport that connects each host only to its pinned address."""
    transport = httpx.AsyncHTTPTransport()
    # httpx takes no network backend of its own; its connection pool does.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=_PinnedBackend(pins)
    )
    return transport


async def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TransientDownloadError(f"Cannot resolve {host}: {exc}") from exc
    return [str(info[4][0]) for info in infos]


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (not loopback, private, link-local, ...),
    including the IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:  # a site's own NAT64 prefix: whatever it reaches is local
            return False
        carried = _carried_ipv4(ip)
        if carried:
            return all(_is_global(v4) for v4 in carried)
    return _is_global(ip)


def _is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def _carried_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []
