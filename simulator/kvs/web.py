"""The web viewer's Kinesis Video routes (aiohttp); the viewer adds them with
``app.router.add_routes(kvs_routes(lambda: device.artifacts))``.

* ``GET /api/kvs`` — JSON list of the streams (:class:`simulator.kvs.catalog.StreamInfo` without its folder);
* ``GET /kvs/<stream>/latest.mp4`` — a redirect (302, not cached) to the latest segment, so the browser's range
  requests for one video all reach the same file even when a new segment starts meanwhile;
* ``GET /kvs/<stream>/<segment>.mp4`` — the segment, ``video/mp4``, with range requests (aiohttp's FileResponse).

Stream and segment names are checked against their patterns before any path is made from them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from simulator.kvs import catalog

_NO_STORE = {"Cache-Control": "no-store"}


def kvs_routes(artifacts: Callable[[], Path]) -> list[web.RouteDef]:
    """The routes, reading the artifacts folder ``artifacts()`` gives at each request."""

    async def off_loop(fn):
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    async def listing(_request: web.Request) -> web.Response:
        text = await off_loop(lambda: json.dumps([s.model_dump(mode="json", exclude={"folder"})
                                                  for s in catalog.streams(artifacts())]))
        return web.Response(text=text, content_type="application/json", headers=_NO_STORE)

    async def latest(request: web.Request) -> web.Response:
        stream = request.match_info["stream"]
        path = await off_loop(lambda: catalog.latest_segment(artifacts(), stream))
        if path is None:
            raise web.HTTPNotFound(text=f"no Kinesis Video segment for stream {stream!r}\n")
        raise web.HTTPFound(f"/kvs/{quote(stream)}/{quote(path.name)}", headers=_NO_STORE)

    async def segment(request: web.Request) -> web.FileResponse:
        stream, name = request.match_info["stream"], request.match_info["segment"]
        path = await off_loop(lambda: catalog.segment_path(artifacts(), stream, name))
        if path is None:
            raise web.HTTPNotFound(text=f"no segment {name!r} in stream {stream!r}\n")
        return web.FileResponse(path, headers={"Content-Type": "video/mp4", "Cache-Control": "no-cache",
                                               "X-Content-Type-Options": "nosniff"})

    return [web.get("/api/kvs", listing),
            web.get("/kvs/{stream}/latest.mp4", latest),
            web.get("/kvs/{stream}/{segment}", segment)]
