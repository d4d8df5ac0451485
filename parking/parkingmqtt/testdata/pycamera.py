"""A parking camera written in Python (paho-mqtt), for Menjin's tests.

It connects with LinkKit credentials, posts its properties and one
IntelligentAlarm for the plate it is given, answers every service invoke
(OperatGate, AddLedData, NoticeDisplay, ...) and prints one JSON line per
invoke on stdout. It exits after --invokes invokes or --timeout seconds.
"""
import argparse
import base64
import json
import sys
import threading
import time

import paho.mqtt.client as mqtt

p = argparse.ArgumentParser()
for a in ("host", "client-id", "username", "password", "pk", "dn", "plate"):
    p.add_argument("--" + a, required=True)
p.add_argument("--port", type=int, required=True)
p.add_argument("--invokes", type=int, default=2)
p.add_argument("--timeout", type=float, default=10)
args = p.parse_args()

base = "/sys/%s/%s/thing/" % (args.pk, args.dn)
seen = 0
done = threading.Event()
subscribed = threading.Event()
ids = iter(range(1, 1 << 30))


def post(topic, params, method):
    msg = {"id": str(next(ids)), "version": "1.0", "params": params, "method": method}
    client.publish(topic, json.dumps(msg, ensure_ascii=False), qos=1)


def on_connect(c, userdata, flags, rc):
    if rc != 0:
        print(json.dumps({"error": "connect", "rc": rc}), flush=True)
        done.set()
        return
    c.subscribe(base + "service/+", qos=1)


def on_subscribe(c, userdata, mid, granted):
    subscribed.set()


def on_message(c, userdata, m):
    global seen
    req = json.loads(m.payload)
    service = m.topic.rsplit("/", 1)[1]
    params = req.get("params") or {}
    data = {}
    if service == "AddLedData":
        led = params.get("LedData")
        if isinstance(led, str):
            led = json.loads(led)
        data = {"Result": 0}
        params = {"LedData": led}
    c.publish(m.topic + "_reply", json.dumps({"id": req["id"], "code": 200, "data": data}), qos=1)
    if service == "OperatGate":
        state = {0: 1, 1: 0, 2: 0}[int(params["OperatType"])]
        post(base + "event/property/post", {"GateState": state}, "thing.event.property.post")
    print(json.dumps({"service": service, "params": params}, ensure_ascii=False), flush=True)
    seen += 1
    if seen >= args.invokes:
        done.set()


client = mqtt.Client(client_id=args.client_id, protocol=mqtt.MQTTv311)
client.username_pw_set(args.username, args.password)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect(args.host, args.port, keepalive=30)
client.loop_start()
if not subscribed.wait(args.timeout):
    print(json.dumps({"error": "not subscribed"}), flush=True)
    sys.exit(1)

post(base + "event/property/post",
     {"LedNoticeMode": 1, "LedRowNumber": 4, "IsSurportQrCode": 1, "GateState": 1, "VehicleState": 0},
     "thing.event.property.post")
record = {"openType": 0, "typePermission": 2, "tollProductKey": args.pk, "tollDeviceName": args.dn,
          "plateNumber": args.plate, "areaSpaceId": "", "iotId": "", "plateNumberType": "02",
          "carColorNumber": "H", "hasPlate": 1, "plateColorNumber": 2,
          "plateRecognitionReliability": 0.95, "carImageKey": ""}
jpeg = b"\xff\xd8\xff\xe0" + b"python" + b"\xff\xd9"
alarm = {"type": 10005, "format": 0, "media": base64.b64encode(jpeg).decode(),
         "addition_string": json.dumps(record, ensure_ascii=False)}
post(base + "event/IntelligentAlarm/post", {"value": alarm, "time": int(time.time() * 1000)},
     "thing.event.IntelligentAlarm.post")

ok = done.wait(args.timeout)
client.loop_stop()
client.disconnect()
sys.exit(0 if ok else 2)
