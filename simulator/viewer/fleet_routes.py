"""The instructor's view in the web viewer: ``GET /fleet`` (the page), ``GET /api/fleet`` (a ``FleetSnapshot`` as
JSON) and ``GET /api/fleet/<thing>/thumbnail.jpg`` (the thing's latest thumbnail; 404 while it has none).

    add_fleet_routes(app, watcher)      # watcher: a started FleetWatcher

The app's middleware applies the viewer's access rules (host check, token) to these routes as to the others.
"""

from __future__ import annotations

import asyncio
from importlib import resources

from aiohttp import web

from simulator.fleet.watcher import FleetWatcher


def add_fleet_routes(app: web.Application, watcher: FleetWatcher) -> None:
    page = resources.files("simulator.viewer").joinpath("fleet.html").read_text(encoding="utf-8")

    async def fleet_page(_request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})

    async def fleet_api(_request: web.Request) -> web.Response:
        text = await asyncio.get_running_loop().run_in_executor(None, lambda: watcher.snapshot().model_dump_json())
        return web.Response(text=text, content_type="application/json", headers={"Cache-Control": "no-cache"})

    async def fleet_thumbnail(request: web.Request) -> web.Response:
        got = watcher.thumbnail(request.match_info["thing"])
        if got is None:
            raise web.HTTPNotFound(text="no thumbnail from that thing yet\n")
        seq, jpeg = got
        return web.Response(body=jpeg, content_type="image/jpeg",
                            headers={"Cache-Control": "no-cache", "ETag": f'"{seq}"',
                                     "X-Content-Type-Options": "nosniff"})

    app.router.add_get("/fleet", fleet_page)
    app.router.add_get("/api/fleet", fleet_api)
    app.router.add_get("/api/fleet/{thing}/thumbnail.jpg", fleet_thumbnail)
