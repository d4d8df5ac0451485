"""Play a terminal with the standard library only: POST the source's example
bodies, byte for byte, to an edge and print each answer as a JSON line.

usage: post_examples.py EDGE_URL SPEC_DIR
"""
import json
import sys
import urllib.request

edge, spec = sys.argv[1].rstrip("/"), sys.argv[2]
examples = [
    ("/connect", "B.6.1_connect_0.json"),
    ("/keepalive", "B.6.2_keepalive_0.json"),
    ("/alarmEvent", "B.6.4_alarmEvent_0.json"),
    ("/qrcode", "B.8.1_qrcode_0.json"),
    ("/cardAC/passEvent", "B.9.2_cardAC_passEvent_0.json"),
    ("/bleAC/passEvent", "B.9.4_bleAC_passEvent_0.json"),
    ("/visualIntercom/getGroupId", "B.10.2_visualIntercom_getGroupId_0.json"),
    ("/visualIntercom/checkPhoneNumber", "B.10.3_visualIntercom_checkPhoneNumber_0.json"),
    ("/visualIntercom/reportOpenDoor", "B.10.5_visualIntercom_reportOpenDoor_0.json"),
    ("/elevator/reportRunState", "B.11.1_elevator_reportRunState_0.json"),
    ("/elevator/rule/report", "B.11.9_elevator_rule_report_0.json"),
]
for path, name in examples:
    with open(f"{spec}/{name}", "rb") as f:
        body = f.read()
    req = urllib.request.Request(edge + path, data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Connection": "close"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        print(json.dumps({"path": path, "status": resp.status, "answer": json.loads(resp.read())}), flush=True)
