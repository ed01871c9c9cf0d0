"""An asyncio echo server on netstack: ``netstack.aio.start_server`` and the standard streams.

    sudo python3 examples/asyncio_server.py   # private namespace, kernel asyncio clients

``handle`` is an ordinary ``asyncio.start_server`` callback (``StreamReader``/``StreamWriter``); only
the server's creation names netstack. The stack runs on its own thread; the asyncio loop polls the
sockets' real fds.
"""

from __future__ import annotations

import asyncio

import netstack.aio

PORT = 7777


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def serve(stack, port: int = PORT) -> asyncio.AbstractServer:
    return await netstack.aio.start_server(handle, stack, "", port, backlog=256)


def main() -> int:
    import netstack
    from netstack.drivers.netns import NetworkNamespace, call_in_namespace

    async def client(number: int) -> bytes:
        reader, writer = await asyncio.open_connection("192.0.2.2", PORT)  # kernel sockets
        writer.write(f"client {number}\n".encode())
        await writer.drain()
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return line

    async def clients() -> list[bytes]:
        return await asyncio.gather(*(client(n) for n in range(10)))

    with NetworkNamespace() as ns, netstack.run_tap(tap="nstaio0", ip="192.0.2.2/24", host_ip="192.0.2.1/24",
                                                    netns=ns.name) as stack:
        async def run():
            server = await serve(stack)
            # kernel clients: a thread inside the namespace runs their own event loop
            lines = await asyncio.to_thread(call_in_namespace, ns.name, asyncio.run, clients())
            server.close()
            await server.wait_closed()
            return lines

        for line in asyncio.run(run()):
            print("echoed:", line.decode().strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
