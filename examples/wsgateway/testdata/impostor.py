"""A hostile WebSocket client, written with Debian's python3-websockets, for
wsgateway's security tests. Usage: impostor.py URL MODE [SN]
MODE "steal": from 127.0.0.2, report a pass, then register as SN (a live
terminal's serial) and print every message received until the gateway
closes the socket or 10 s pass; answers any command with 200.
MODE "anon": report a pass without ever registering, wait for its ack, close.
Output: READY, RECV <message> per message, then CLOSED or TIMEOUT."""
import asyncio
import json
import sys

import websockets

PASS = json.dumps({"code": "207", "data": {"eventid": "imp-1", "type": "1",
                                             "data": {"userId": "mallory", "door": "0"}}})


async def steal(url, sn):
    async with websockets.connect(url, ping_interval=None, local_addr=("127.0.0.2", 0)) as ws:
        await ws.send(PASS)
        await ws.send(json.dumps({"code": "205", "data": {"ip": "10.6.6.6", "mac": "66-66-66-66-66-66",
                                                            "sn": sn, "type": "0"}}))
        print("READY", flush=True)
        try:
            while True:
                msg = await asyncio.wait_for(ws.recv(), 10)
                print("RECV", msg, flush=True)
                m = json.loads(msg)
                if "commandId" in m:  # play along, as an impostor would
                    await ws.send(json.dumps({"code": "200", "data": "", "commandId": m["commandId"]}))
        except websockets.ConnectionClosed:
            print("CLOSED", flush=True)
        except asyncio.TimeoutError:
            print("TIMEOUT", flush=True)


async def anon(url):
    async with websockets.connect(url, ping_interval=None) as ws:
        await ws.send(PASS)
        print("READY", flush=True)
        print("RECV", await asyncio.wait_for(ws.recv(), 10), flush=True)
    print("CLOSED", flush=True)


def main():
    url, mode = sys.argv[1], sys.argv[2]
    if mode == "steal":
        asyncio.run(steal(url, sys.argv[3]))
    elif mode == "anon":
        asyncio.run(anon(url))
    else:
        sys.exit("unknown mode " + mode)


main()
