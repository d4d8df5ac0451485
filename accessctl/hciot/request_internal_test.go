package hciot

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecodeRequest: decoding any body and reading any field returns a
// value or a typed error, never a panic.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"machineCode":"101010","taskId":"702020042194860037"}`,
		`{"userId":"1","faceBase64":"data:image/jpeg;base64,/9j/2Q==","startTime":"2020-12-27 00:00:00","endTime":"2038-01-01 00:00:00","name":"张三","machineCode":"101010","taskId":"t","attrs":[{"specCd":"1001","value":"VIP"}]}`,
		`{"machineCode":101010,"direction":3306,"taskId":1.5e3}`,
		`{"name":null,"x":{"y":[1,2]}}`,
		`[1,2]`, `"str"`, `{`, ``, `{"a":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	loc := time.FixedZone("CST", 8*3600)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeRequest(body)
		if err != nil {
			return
		}
		for k := range r.fields {
			s, err := r.str(k)
			if err == nil {
				_, _ = parseHCTime(s, loc)
			}
		}
		_ = r.extras(userFields)
		fr := fieldReader{r: r}
		fr.req("taskId")
		fr.opt("machineCode")
	})
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		"//extApi/user/addUser":         "/extApi/user/addUser",
		"/extApi//user///addUser/":      "/extApi/user/addUser",
		"/iot//extApi/machine/openDoor": "/extApi/machine/openDoor",
		"/extApi/auth/getAccessToken":   "/extApi/auth/getAccessToken",
		"/other":                        "/other",
	} {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

var benchBody = []byte(`{"userId":"702020042194860037","faceBase64":"/9j/4AAQSkZJRgABAQAAAQABAAD/2Q==","startTime":"2026-11-23 10:00:00","endTime":"2038-01-01 00:00:00","name":"张三","idNumber":"","machineCode":"101010","taskId":"702020112300000100","link":"13800000001","extMachineId":"702020042194860040","extCommunityId":"702020042194860039","attrs":[{"specCd":"1001","value":"VIP"}]}`)

// BenchmarkDecodeAddUser reads an addUser body the way the server does
// (strings or numbers per field).
func BenchmarkDecodeAddUser(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r, _ := decodeRequest(benchBody)
		f := fieldReader{r: r}
		for _, k := range []string{"userId", "faceBase64", "startTime", "endTime", "name", "machineCode", "taskId", "link"} {
			f.opt(k)
		}
	}
}

// BenchmarkDecodeAddUserBaseline unmarshals into a fixed struct of strings.
func BenchmarkDecodeAddUserBaseline(b *testing.B) {
	var v struct {
		UserID, FaceBase64, StartTime, EndTime, Name, MachineCode, TaskID, Link string
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = json.Unmarshal(benchBody, &v)
	}
}

func TestRecentKeepsTheLastN(t *testing.T) {
	r := newRecent[int](2)
	r.put("a", 1)
	r.put("b", 2)
	r.put("a", 3) // an update does not take a new slot
	if v, ok := r.get("a"); !ok || v != 3 {
		t.Fatalf("a = %d, %t", v, ok)
	}
	r.put("c", 4) // evicts a, the oldest key
	if _, ok := r.get("a"); ok {
		t.Fatal("a kept past the bound")
	}
	for k, want := range map[string]int{"b": 2, "c": 4} {
		if v, ok := r.get(k); !ok || v != want {
			t.Fatalf("%s = %d, %t", k, v, ok)
		}
	}
	none := newRecent[int](0)
	none.put("x", 1)
	if _, ok := none.get("x"); ok {
		t.Fatal("a zero bound keeps nothing")
	}
}
