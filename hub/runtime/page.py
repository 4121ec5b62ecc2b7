"""The national picture page: static files of the package (pelastus_hub/page), served at /
and /page/<file>.

The files hold no data: the page reads the snapshot, the registry's names and the KPIs
from the API (/api/v1/...), with the API token if the hub has one. So they are served
without a token, as a browser asks for a page before it can send one.
"""

from importlib import resources

import faust
from faust.web import Request, Response, View

# Every file the page has, and its type: nothing else of the package is served. No
# charset (aiohttp refuses one here): the page declares UTF-8, and its script and style
# sheet are read in the page's encoding.
FILES = {
    "index.html": "text/html",
    "page.css": "text/css",
    "page.js": "text/javascript",
    "tiles.json": "application/json",
}
# A newer hub may bring a newer page: the browser asks again rather than keep a stale one.
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def page_file(name: str) -> bytes:
    return (resources.files("pelastus_hub") / "page" / name).read_bytes()


def add_page(app: faust.App) -> None:
    contents = {name: page_file(name) for name in FILES}  # read once, at start

    @app.page("/")
    async def index(web: View, request: Request) -> Response:
        return _file(web, "index.html", contents)

    @app.page("/page/{name}")
    async def static(web: View, request: Request, name: str) -> Response:
        if name not in FILES:
            return web.json({"error": "not_found", "message": f"no page file {name!r}"}, status=404)
        return _file(web, name, contents)


def _file(web: View, name: str, contents: dict[str, bytes]) -> Response:
    return web.bytes(contents[name], content_type=FILES[name], headers=dict(HEADERS))
