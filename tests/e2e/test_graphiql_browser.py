"""GraphiQL in a real headless Chromium with every non-loopback host blocked: the page comes
from this server alone, runs a query and a live subscription, and says so in plain words when
its scripts cannot be had."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.e2e.server import ServerProcess, server_factory
from tests.factories import make_token
from velro_graphql.api.graphiql import default_assets_dir, render_page

playwright = pytest.importorskip("playwright.async_api", reason="playwright is a test extra")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here (.ci/run installs Debian's chromium where it can)"
)
# As the machine notes advise for a closed network: no background calls home.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
QUERY = "{ me { email creditsBalance } }"
SUBSCRIPTION = "subscription { creditsChanged { balance } }"


@pytest.fixture
async def page() -> AsyncIterator[tuple[Any, list[str]]]:
    """A browser page whose requests to any host but loopback are refused (and listed)."""
    blocked: list[str] = []

    async def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    async with playwright.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context()
        await context.route("**/*", only_loopback)
        yield await context.new_page(), blocked
        await browser.close()


async def run_in_graphiql(page: Any, server: ServerProcess, document: str, token: str) -> None:
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    await page.goto(f"{server.graphql_url}?q={quote(document)}&headers={quote(headers)}")
    await page.locator(".graphiql-execute-button").click(timeout=20_000)


async def result_shows(page: Any, text: str) -> None:
    await page.wait_for_function(
        "text => document.querySelector('.result-window')?.innerText.includes(text)",
        arg=text,
        timeout=20_000,
    )


async def test_graphiql_runs_a_query_and_a_subscription_offline(
    database_url: str, tmp_path: Path, page: tuple[Any, list[str]]
) -> None:
    if not (default_assets_dir() / "graphiql.js").is_file():
        pytest.skip("GraphiQL's scripts were not fetched at install (no npm there)")
    browser_page, blocked = page
    token = make_token("browser@example.com")
    async with server_factory(database_url, tmp_path / "home") as start:
        server = await start(env={"GRAPHIQL": "true"})
        await run_in_graphiql(browser_page, server, QUERY, token)
        await result_shows(browser_page, '"creditsBalance": 1000')
        await run_in_graphiql(browser_page, server, SUBSCRIPTION, token)
        await result_shows(browser_page, '"balance": 1000')
    assert blocked == []  # nothing was even asked of the internet


async def test_the_page_says_why_when_no_script_can_be_had(
    tmp_path: Path, page: tuple[Any, list[str]]
) -> None:
    browser_page, blocked = page
    await browser_page.route("http://127.0.0.1:9/", lambda route: route.fulfill(
        body=render_page(tmp_path / "not-installed"), content_type="text/html"
    ))  # fmt: skip
    await browser_page.goto("http://127.0.0.1:9/")
    status = browser_page.locator("#status")
    await status.filter(has_text="could not load its scripts").wait_for(timeout=20_000)
    assert "unpkg.com did not answer" in await status.inner_text()
    assert blocked and all(url.startswith("https://unpkg.com/") for url in blocked)
