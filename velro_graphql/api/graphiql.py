"""GraphiQL served by the server itself, so that /graphql works without internet.

Its scripts and styles are fetched from npm when the package is installed (`scripts/env.sh`
runs `python -m velro_graphql.api.graphiql`, which needs Node's npm; nothing is committed) and
served from `/graphiql/<name>`. Without them the page loads the same files from unpkg, and when
neither answers it says so in plain words instead of staying blank.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

# Served name -> (npm package at its pinned version, file inside it), in loading order.
ASSETS: dict[str, tuple[str, str]] = {
    "react.js": ("react@18.2.0", "umd/react.production.min.js"),
    "react-dom.js": ("react-dom@18.2.0", "umd/react-dom.production.min.js"),
    "graphiql.css": ("graphiql@3.8.3", "graphiql.min.css"),
    "explorer.css": ("@graphiql/plugin-explorer@1.0.2", "dist/style.css"),
    "graphiql.js": ("graphiql@3.8.3", "graphiql.min.js"),
    "explorer.js": ("@graphiql/plugin-explorer@1.0.2", "dist/index.umd.js"),
}
ROUTE = "/graphiql/{name}"


def default_assets_dir() -> Path:
    """Where the install step puts the assets: inside the virtual environment."""
    return Path(sys.prefix) / "share" / "velro-graphql" / "graphiql"


def render_page(assets_dir: Path) -> str:
    """The GraphiQL page: each asset from this server when installed, else from unpkg."""
    sources = [
        {
            "local": f"/graphiql/{name}" if (assets_dir / name).is_file() else None,
            "cdn": f"https://unpkg.com/{package}/{path}",
            "kind": "css" if name.endswith(".css") else "js",
        }
        for name, (package, path) in ASSETS.items()
    ]
    template = resources.files("velro_graphql.api.static").joinpath("graphiql.html").read_text()
    return template.replace("__VELRO_ASSETS__", json.dumps(sources))


def asset_endpoint(assets_dir: Path) -> Callable[[Request], Awaitable[Response]]:
    """The route serving the installed assets (only the names of ASSETS)."""

    async def serve_asset(request: Request) -> Response:
        name = request.path_params["name"]
        found = assets_dir / name
        if name not in ASSETS or not found.is_file():
            return Response(status_code=404)
        media_type = "text/css" if name.endswith(".css") else "text/javascript"
        headers = {"cache-control": "public, max-age=86400"}
        return FileResponse(found, media_type=media_type, headers=headers)

    return serve_asset


def install_assets(dest: Path) -> None:
    """Fetch each pinned package's tarball with `npm pack` and keep the one file we serve."""
    packages = {package for package, _ in ASSETS.values()}
    with tempfile.TemporaryDirectory() as work:
        for package in sorted(packages):
            subprocess.run(
                ["npm", "pack", package, "--silent", "--pack-destination", work],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        dest.mkdir(parents=True, exist_ok=True)
        for name, (package, path) in ASSETS.items():
            _extract(Path(work) / _tarball_name(package), f"package/{path}", dest / name)


def _tarball_name(package: str) -> str:
    name, _, version = package.rpartition("@")
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def _extract(tarball: Path, member: str, target: Path) -> None:
    with tarfile.open(tarball) as archive:
        source = archive.extractfile(member)
        if source is None:
            raise FileNotFoundError(f"{member} in {tarball.name}")
        with target.open("wb") as out:
            shutil.copyfileobj(source, out)


if __name__ == "__main__":
    install_assets(Path(sys.argv[1]) if len(sys.argv) > 1 else default_assets_dir())
