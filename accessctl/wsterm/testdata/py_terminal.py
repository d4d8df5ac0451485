"""A WebSocket face terminal written from door-terminals.md Part A with
Debian's python3-websockets: it plays the seed's exact messages against the
Go platform and checks every answer. Usage: py_terminal.py URL MODE
MODE "main": 205, 206, both 207 examples, then answers the six commands.
MODE "enrol": a second terminal (sn ...490) that reports the type-2 example.
Exit status 0 means every check passed; failures print FAIL and exit 1."""
import asyncio
import json
import re
import sys

import websockets

REGISTER = '{"code":"205","data":{"ip":"192.168.0.102","mac":"31231E2EW12W12","sn":"486468465489","type":"0"}}'
REGISTER_ACK = '{"command":"response","content":{"code":"200","interval":"20","data":""}}'
HEARTBEAT = '{"code":"206","data":{"time":"2023-12-25 15:47:30"}}'
ACK = '{"command":"response","content":{"code":"200","data":""}}'
EVENT1 = """{
    "code": "207",
    "data": {
        "eventid": "20240115113644",
        "type": "1",
        "data": {
            "userId": "77986",
            "img": "base64...",
            "door": "0"
        }
    }
}"""
EVENT2 = """{
    "code": "207",
    "data": {
        "eventid": "20240115113644",
        "type": "2",
        "data": {
            "user": "lisi",
            "userId": "12384865",
            "pwd": "1234",
            "name": "李四",
            "role": "0",
            "img": "base64....."
        }
    }
}"""
# The source's own example, comments and all (not valid JSON).
EVENT1_RAW = """{
    "code": "207",//实时事件上报指定code值
"data": {
"eventid": "20240115113644",//事件ID，单设备应保持唯一
        "type": "1",//事件类型 1:出入记录 2:设备主动新增
        "data": {
            "userId": "77986", //用户id 主键
            "img": "base64...", //抓拍图片
            "door": "0" // 0:入门 1:出门
        }
    }
}"""

# Requests as the spec shows them (editUser: the corrected frame, C.A.1) and
# the spec's verbatim replies; only commandId is substituted.
REQUESTS = {
    "addUser": '{"commandId":"20240115144330","command":"addUser","content":{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"base64....."}}',
    "deleteUser": '{"command":"deleteUser","content":{"userId":"12384865","name":"李四"},"commandId":"20240115144330"}',
    "editUser": '{"command":"editUser","content":{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"base64....."},"commandId":"20240115144330"}',
    "selectUser": '{"command":"selectUser","content":{"userId":"12384865","name":"李四"},"commandId":"20240115144330"}',
    "compareUser": '{"command":"compareUser","content":{"img":"base64..."},"commandId":"20240115144330"}',
    "queryEvent": '{"command":"queryEvent","content":{"eventid":"20240115113644"},"commandId":"20240115144330"}',
}
REPLIES = {
    "addUser": '{"code":"200","data":"","commandId":"20240115144330"}',
    "deleteUser": '{"code":"200","data":"","commandId":"20240115144330"}',
    "editUser": '{"code":"200","data":"","commandId":"20240115144330"}',
    "selectUser": '{"code":"203","content":[{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"base64....."}],"commandId":"20240115144330"}',
    "compareUser": '{"code":"204","content":{"exit":"1"},"commandId":"20240115144330"}',
    "queryEvent": """{
"code":"208",
"content":
{
"eventid": "20240115113644",
"type": "1",
"data": {
"userId": "77986",
"img": "base64...",
"door": "0"
}
},
"commandId":"20240115144330"
}""",
}


def fail(msg):
    print("FAIL", msg, flush=True)
    sys.exit(1)


async def expect(ws, want, what):
    got = await asyncio.wait_for(ws.recv(), 10)
    if got != want:
        fail(f"{what}: got {got!r}, want {want!r}")
    print("OK", what, flush=True)


async def main_terminal(url):
    async with websockets.connect(url, ping_interval=None) as ws:
        await ws.send(REGISTER)
        await expect(ws, REGISTER_ACK, "205 ack")
        await ws.send(HEARTBEAT)
        await expect(ws, ACK, "206 ack")
        await ws.send(EVENT1)
        await expect(ws, ACK, "207 type 1 ack")
        await ws.send(EVENT2)  # same eventid as EVENT1 in the source: acked, de-duplicated
        await expect(ws, ACK, "207 type 2 ack (duplicate eventid)")
        await ws.send(EVENT1_RAW)  # repaired leniently, duplicate again
        await expect(ws, ACK, "207 raw example ack")
        print("REGISTERED", flush=True)
        seen = set()
        while len(seen) < len(REQUESTS):
            msg = await asyncio.wait_for(ws.recv(), 30)
            frame = json.loads(msg)
            name = frame.get("command")
            if name not in REQUESTS:
                fail(f"unexpected frame {msg!r}")
            cid = frame.get("commandId", "")
            if not re.fullmatch(r"[0-9]{18}", cid):
                fail(f"commandId {cid!r} breaks the A.3 rule")
            want = json.loads(REQUESTS[name])
            want["commandId"] = cid
            if frame != want:
                fail(f"{name}: got {frame!r}, want {want!r}")
            if name == "addUser" and msg != REQUESTS[name].replace("20240115144330", cid):
                fail(f"addUser not byte-identical to the example: {msg!r}")
            await ws.send(REPLIES[name].replace("20240115144330", cid))
            seen.add(name)
            print("OK", name, flush=True)
        print("DONE", flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 30)
        except websockets.ConnectionClosed:
            print("CLOSED", flush=True)


async def enrol_terminal(url):
    async with websockets.connect(url, ping_interval=None) as ws:
        await ws.send(REGISTER.replace("486468465489", "486468465490"))
        await expect(ws, REGISTER_ACK, "205 ack (second terminal)")
        await ws.send(EVENT2)
        await expect(ws, ACK, "207 type 2 ack")
        print("DONE", flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 30)
        except websockets.ConnectionClosed:
            print("CLOSED", flush=True)


if __name__ == "__main__":
    url, mode = sys.argv[1], sys.argv[2]
    asyncio.run(main_terminal(url) if mode == "main" else enrol_terminal(url))
