"""A WebSocket face terminal written from accessctl/wsterm/PROTOCOL.md Part A with
Debian's python3-websockets: it plays the seed's exact messages against the
Go platform and checks every answer. Usage: py_terminal.py URL MODE
MODE "main": 205, 206, both 207 examples, then answers the six commands.
MODE "enrol": a second terminal (sn ...490) that reports the type-2 example.
Exit status 0 means every check passed; failures print FAIL and exit 1."""
import asyncio
import json
import os
import re
import sys

import websockets

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors")


def vector(name):
    """One example of accessctl/wsterm/PROTOCOL.md Part A, verbatim (testdata/vectors)."""
    for ext in (".json", ".txt"):
        path = os.path.join(VECTORS, name + ext)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return f.read()
    fail(f"no vector {name}")


COMMANDS = ["addUser", "deleteUser", "editUser", "selectUser", "compareUser", "queryEvent"]
SPEC_ID = "20240115144330"  # the commandId of every example; ours replace it


def fail(msg):
    print("FAIL", msg, flush=True)
    sys.exit(1)


async def expect(ws, want, what):
    got = await asyncio.wait_for(ws.recv(), 10)
    if got != want:
        fail(f"{what}: got {got!r}, want {want!r}")
    print("OK", what, flush=True)


async def main_terminal(url):
    ack = vector("event.ack")
    async with websockets.connect(url, ping_interval=None) as ws:
        await ws.send(vector("register"))
        await expect(ws, vector("register.ack"), "205 ack")
        await ws.send(vector("heartbeat"))
        await expect(ws, vector("heartbeat.ack"), "206 ack")
        await ws.send(vector("event1"))
        await expect(ws, ack, "207 type 1 ack")
        await ws.send(vector("event2"))  # same eventid as event1 in the source: acked, de-duplicated
        await expect(ws, ack, "207 type 2 ack (duplicate eventid)")
        await ws.send(vector("event1.raw"))  # repaired leniently, duplicate again
        await expect(ws, ack, "207 raw example ack")
        print("REGISTERED", flush=True)
        seen = set()
        while len(seen) < len(COMMANDS):
            msg = await asyncio.wait_for(ws.recv(), 30)
            frame = json.loads(msg)
            name = frame.get("command")
            if name not in COMMANDS:
                fail(f"unexpected frame {msg!r}")
            cid = frame.get("commandId", "")
            if not re.fullmatch(r"[0-9]{18}", cid):
                fail(f"commandId {cid!r} breaks the A.3 rule")
            request = vector(name + ".req")  # editUser: the corrected frame (C.A.1)
            want = json.loads(request)
            want["commandId"] = cid
            if frame != want:
                fail(f"{name}: got {frame!r}, want {want!r}")
            if name == "addUser" and msg != request.replace(SPEC_ID, cid):
                fail(f"addUser not byte-identical to the example: {msg!r}")
            await ws.send(vector(name + ".rep").replace(SPEC_ID, cid))  # the spec's reply, verbatim
            seen.add(name)
            print("OK", name, flush=True)
        print("DONE", flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 30)
        except websockets.ConnectionClosed:
            print("CLOSED", flush=True)


async def enrol_terminal(url):
    async with websockets.connect(url, ping_interval=None) as ws:
        await ws.send(vector("register").replace("486468465489", "486468465490"))
        await expect(ws, vector("register.ack"), "205 ack (second terminal)")
        await ws.send(vector("event2"))
        await expect(ws, vector("event.ack"), "207 type 2 ack")
        print("DONE", flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 30)
        except websockets.ConnectionClosed:
            print("CLOSED", flush=True)


if __name__ == "__main__":
    url, mode = sys.argv[1], sys.argv[2]
    asyncio.run(main_terminal(url) if mode == "main" else enrol_terminal(url))
