"""A door terminal written with the Python standard library: it serves the
edge -> terminal interfaces (http.server), checks the edge's /connect sign
with hashlib, connects to the edge itself and keeps alive. Every request it
receives is printed as a JSON line.

usage: terminal_server.py EDGE_URL SN
Prints {"listening": PORT}, then waits for a line on stdin before connecting.
"""
import hashlib
import http.server
import json
import sys
import threading
import time
import urllib.request

EDGE, SN = sys.argv[1].rstrip("/"), sys.argv[2]
MY_TOKEN = "py-token-1"
lock = threading.Lock()


def emit(obj):
    with lock:
        print(json.dumps(obj), flush=True)


def sign_ok(b):
    t = str(b["time"])
    digest = hashlib.md5(f"TIME{{{t}}}MAC{{{b['mac']}}}SN{{{b['sn']}}}IP{{{b['ip']}}}".encode()).hexdigest()
    return b.get("signMethod") == "md5" and b.get("sign") == digest


class Terminal(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def answer(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            b = json.loads(raw)
        except ValueError:
            return self.answer({"code": 5, "message": "not json"})
        if self.path == "/connect":
            ok = sign_ok(b)
            emit({"path": self.path, "body": b, "signOK": ok})
            if not ok:
                return self.answer({"code": 6, "message": "verify sign error"})
            return self.answer({"code": 0, "message": "success", "data": {"token": MY_TOKEN}})
        emit({"path": self.path, "body": b, "connection": self.headers.get("Connection")})
        if b.get("token") != MY_TOKEN:
            return self.answer({"code": 4, "message": "device is offline"})
        if self.path == "/faceAC/queryFaces":
            return self.answer({"code": 0, "message": "success",
                                "data": {"currentPage": 1, "pageCount": 1, "pageSize": 0, "total": 0, "faceInfo": []}})
        if self.path in ("/remoteOpen", "/keepalive", "/faceAC/syncFaces"):
            return self.answer({"code": 0, "message": "success"})
        self.send_response(404)
        self.end_headers()


def post(path, obj):
    req = urllib.request.Request(EDGE + path, data=json.dumps(obj).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Connection": "close"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Terminal)
threading.Thread(target=srv.serve_forever, daemon=True).start()
emit({"listening": srv.server_address[1]})
sys.stdin.readline()

now = int(time.time())
mac, ip = "00-16-EA-AE-3D-40", "127.0.0.1"
sign = hashlib.md5(f"TIME{{{now}}}MAC{{{mac}}}SN{{{SN}}}IP{{{ip}}}".encode()).hexdigest()
ans = post("/connect", {"sn": SN, "time": now, "ip": ip, "mac": mac, "keepalive": 10, "signMethod": "md5", "sign": sign})
emit({"connected": ans})
token = ans["data"]["token"]
while True:
    time.sleep(0.5)
    try:
        post("/keepalive", {"token": token})
    except Exception as e:  # the test ends by killing us
        emit({"keepalive_error": str(e)})
