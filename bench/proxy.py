"""A counting HTTP proxy for the profile (`python -m bench.proxy --port P --target URL --log FILE`): forwards every
request to the target unchanged and appends one JSON line per request to FILE (method, path, status, seconds).
The profile puts it between the action server and the back office, so what a turn asks the back office is
read from its log with no change to either side."""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization",
              "proxy-authenticate", "host", "content-length", "content-encoding"}


def app(target: str, log: Path) -> web.Application:
    async def forward(request: web.Request) -> web.StreamResponse:
        http: aiohttp.ClientSession = request.app["http"]
        started = time.perf_counter()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with http.request(request.method, target + request.path_qs, headers=headers, data=await request.read(),
                                allow_redirects=False) as answer:
            body = await answer.read()
            status = answer.status
            out_headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        with log.open("a") as file:
            file.write(json.dumps({"at": time.time(), "method": request.method, "path": request.path, "status": status,
                                   "s": round(time.perf_counter() - started, 6)}) + "\n")
        return web.Response(status=status, body=body, headers=out_headers)

    async def session(application: web.Application) -> AsyncIterator[None]:
        application["http"] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        yield
        await application["http"].close()

    application = web.Application(client_max_size=64 * 1024 * 1024)
    application.cleanup_ctx.append(session)
    application.router.add_route("*", "/{tail:.*}", forward)
    return application


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    web.run_app(app(args.target.rstrip("/"), args.log), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
