#!/usr/bin/python3
"""An HC stand-in written with nothing but the Python standard library.

  hc_peer.py client IOT_URL APP_ID APP_SECRET
      replays HC's /extApi sequence (token, addCommunity, addMachine, addUser
      x2, openDoor, deleteUser, resend) the way HC's IotSendAsynImpl sends it,
      and prints one JSON line per answer.
  hc_peer.py gateway APP_ID SECURITY_CODE
      serves HC's upload endpoints on 127.0.0.1, verifying every sign with
      hashlib; prints "PORT n", then one JSON line per request.
"""
import base64, hashlib, http.server, json, sys, urllib.request, datetime


def client(iot_url, app_id, app_secret):
    def call(path, body=None, token=None):
        url = iot_url + path  # HC concatenates: a trailing "/" gives "//extApi"
        if body is None:
            req = urllib.request.Request(url)
        else:
            req = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"), method="POST")
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("access_token", token)
        with urllib.request.urlopen(req, timeout=10) as resp:
            out = json.loads(resp.read().decode("utf-8"))
            out["http"] = resp.status
            out["path"] = path
            print(json.dumps(out, ensure_ascii=False), flush=True)
            return out

    tok = call("/extApi/auth/getAccessToken?appId=%s&appSecret=%s" % (app_id, app_secret))["data"]["access_token"]
    call("/extApi/machine/openDoor", {"machineCode": "py-1", "taskId": "py-t0"})  # no token
    call("/extApi/community/addCommunity", {"name": "老九学堂", "address": "西宁", "cityCode": "630100",
                                            "extCommunityId": "py-c", "taskId": "py-t1"}, tok)
    call("/extApi/machine/addMachine", {"machineCode": "py-1", "machineName": "大门", "machineTypeCd": "9999",
                                        "locationType": "1000", "locationObjId": "py-c", "extMachineId": "py-e1",
                                        "extCommunityId": "py-c", "hmId": "hm-1", "direction": "3306",
                                        "machineIp": "", "machineMac": "", "machineVersion": "", "taskId": "py-t2"}, tok)
    face = base64.b64encode(bytes([0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]) + b"JFIF" + bytes([0xFF, 0xD9])).decode()
    start = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    for i, (uid, name, prefix) in enumerate([("py-u1", "张三", ""), ("py-u2", "李四", "data:image/jpeg;base64,")]):
        call("/extApi/user/addUser", {"userId": uid, "faceBase64": prefix + face, "startTime": start,
                                      "endTime": "2038-01-01 00:00:00", "name": name, "idNumber": "",
                                      "machineCode": "py-1", "taskId": "py-t3%d" % i, "link": "1380000000%d" % i,
                                      "extMachineId": "py-e1", "extCommunityId": "py-c",
                                      "attrs": [{"specCd": "1001", "value": "VIP"}]}, tok)
    call("/extApi/machine/openDoor", {"machineCode": "py-1", "taskId": "py-t4"}, tok)
    delete = {"userId": "py-u1", "name": "张三", "machineCode": "py-1", "extMachineId": "py-e1",
              "extCommunityId": "py-c", "taskId": "py-t5"}
    call("/extApi/user/deleteUser", delete, tok)
    call("/extApi/user/deleteUser", delete, tok)  # HC's manual resend: identical body
    call("/extApi/machine/openDoor", {"machineCode": "py-1", "taskId": "py-t4"}, tok)


def gateway(app_id, security_code):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            h = lambda n: self.headers.get(n) or self.headers.get(n.replace("-", "_")) or ""
            want = hashlib.md5((h("transaction-id") + h("req-time") + h("app-id")).encode("utf-8") + body +
                               security_code.encode("utf-8")).hexdigest()
            ok = h("app-id") == app_id and h("sign").lower() == want and h("user-id") != ""
            print(json.dumps({"path": self.path, "signOK": ok, "body": json.loads(body.decode("utf-8"))},
                             ensure_ascii=False), flush=True)
            if not ok:
                self.send_response(401)
                self.end_headers()
                self.wfile.write("鉴权失败：签名失败".encode("utf-8"))
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"code":0,"msg":"\xe6\x88\x90\xe5\x8a\x9f"}')

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.timeout = 10
    while True:  # ends when the test closes our stdin... or kills us
        srv.handle_request()


if __name__ == "__main__":
    {"client": client, "gateway": gateway}[sys.argv[1]](*sys.argv[2:])
