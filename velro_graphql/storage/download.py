"""Fetch a provider's output: public https only, streamed under a size cap, retried with backoff."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket

import httpx

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
    """Return the body at `url`, retrying transient failures with jittered exponential backoff."""
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
    for attempt in range(1, attempts + 1):
        try:
            return await _follow(client, url, max_bytes, allow_insecure, timeout)
        except TransientDownloadError:
            if attempt >= attempts:
                raise
        delay = min(_MAX_BACKOFF, backoff * 2 ** (attempt - 1))
        await asyncio.sleep(random.uniform(delay / 2, delay))
    raise DownloadError(f"No attempt made to fetch {url} (attempts={attempts}).")


async def _follow(
    client: httpx.AsyncClient, url: str, max_bytes: int, insecure: bool, timeout: httpx.Timeout
) -> bytes:
    """Fetch `url`, following redirects by hand so every hop passes the same checks."""
    target = _parse(url)
    for _ in range(_MAX_REDIRECTS + 1):
        await check_url(target, allow_insecure=insecure)
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


async def check_url(url: httpx.URL, *, allow_insecure: bool = False) -> None:
    """Refuse a URL that is not https or whose host resolves to a non-public address."""
    if url.scheme not in ("http", "https") or not url.host:
        raise DownloadError(f"Not a downloadable URL: {url}.")
    if allow_insecure:
        return
    if url.scheme != "https":
        raise DownloadError(f"Refusing insecure URL {url}: https is required.")
    for address in await _resolve(url.host, url.port or 443):
        if not is_public(address):
            raise DownloadError(f"Refusing {url}: {url.host} resolves to non-public {address}.")


async def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TransientDownloadError(f"Cannot resolve {host}: {exc}") from exc
    return [str(info[4][0]) for info in infos]


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (not loopback, private, link-local, ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
