package hciot

import (
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
