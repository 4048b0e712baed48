"""A tcp proxy between an agent and its hub, as a process a test kills to cut the link:
``python tcp_proxy.py LISTEN_BASE TARGET_BASE`` forwards 127.0.0.1 ports LISTEN_BASE..+2 to
TARGET_BASE..+2 until it is killed."""

from __future__ import annotations

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _serve(listen: int, target: int) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return await asyncio.start_server(handle, "127.0.0.1", listen, reuse_address=True)


async def main(listen: int, target: int) -> None:
    """Forward the three ports until killed."""
    servers = [await _serve(listen + i, target + i) for i in range(3)]
    print("proxy ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
