package wsterm

// specVectors are every example of door-terminals.md Part A, verbatim
// (json blocks and the two text blocks that are not valid JSON).
var specVectors = []string{
	`{"commandId":"20240115144330","command":"addUser","content":{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"base64....."}}`,
	`{"code":"200","data":"","commandId":"20240115144330"}`,
	`{"command":"deleteUser","content":{"userId":"12384865","name":"李四"},"commandId":"20240115144330"}`,
	`{"code":"200","data":"","commandId":"20240115144330"}`,
	`{"command":"addUser","content":{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"base64....."},"commandId":"20240115144330"}`,
	`{"command":"editUser","content":{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"base64....."},"commandId":"20240115144330"}`,
	`{"code":"200","data":"","commandId":"20240115144330"}`,
	`{"command":"selectUser","content":{"userId":"12384865","name":"李四"},"commandId":"20240115144330"}`,
	`{"code":"203","content":[{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"base64....."}],"commandId":"20240115144330"}`,
	`{"command":"compareUser","content":{"img":"base64..."},"commandId":"20240115144330"}`,
	`{"code":"204","content":{"exit":"1"},"commandId":"20240115144330"}`,
	`{"command":"queryEvent","content":{"eventid":"20240115113644"},"commandId":"20240115144330"}`,
	`{
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
}`,
	`{"code":"205","data":{"ip":"192.168.0.102","mac":"31231E2EW12W12","sn":"486468465489","type":"0"}}`,
	`{"command":"response","content":{"code":"200","interval":"20","data":""}}`,
	`{"code":"206","data":{"time":"2023-12-25 15:47:30"}}`,
	`{"command":"response","content":{"code":"200","data":""}}`,
	`{
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
}`,
	`{
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
}`,
	`{
    "code": "207",//实时事件上报指定code值
"data": {
"eventid": "20240115113644",//事件ID，单设备应保持唯一
        "type": "2",//事件类型 1:出入记录 2:设备主动新增
        "data": { // 参数说明4.1
            "user": "lisi",
            "userId": "12384865",
            "pwd": "1234",
            "name": "李四",
            "role": "0",
            "img": "base64....."
        }
    }
}`,
	`{
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
}`,
	`{"command":"response","content":{"code":"200","data":""}}`,
}
