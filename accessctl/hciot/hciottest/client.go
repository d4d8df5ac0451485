package hciottest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Envelope is an /extApi answer.
type Envelope struct {
	HTTPStatus int             `json:"-"`
	Code       int             `json:"code"`
	Msg        string          `json:"msg"`
	Data       json.RawMessage `json:"data"`
}

// TaskID returns data.taskId, or "".
func (e Envelope) TaskID() string {
	var d struct {
		TaskID string `json:"taskId"`
	}
	_ = json.Unmarshal(e.Data, &d)
	return d.TaskID
}

// Client sends /extApi requests the way HC's IotSendAsynImpl does: the URL
// is IOT_URL + path by string concatenation (so an IOT_URL ending in "/"
// gives "//extApi"), the token travels in the access_token header, and a
// body code 401 only drops the token for the next call.
type Client struct {
	BaseURL   string // HC's IOT_URL
	AppID     string
	AppSecret string
	HTTP      *http.Client

	mu    sync.Mutex
	token string
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// GetToken fetches a new token and keeps it for the next calls.
func (c *Client) GetToken(ctx context.Context) (string, Envelope, error) {
	u := c.BaseURL + "/extApi/auth/getAccessToken?appId=" + url.QueryEscape(c.AppID) + "&appSecret=" + url.QueryEscape(c.AppSecret)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", Envelope{}, err
	}
	env, err := c.do(req)
	if err != nil {
		return "", env, err
	}
	var d struct {
		Token     string `json:"access_token"`
		ExpiresIn int    `json:"expires_in"`
	}
	if env.Code != 0 {
		return "", env, nil
	}
	if err := json.Unmarshal(env.Data, &d); err != nil || d.Token == "" {
		return "", env, fmt.Errorf("hciottest: token answer without access_token: %s", env.Data)
	}
	c.mu.Lock()
	c.token = d.Token
	c.mu.Unlock()
	return d.Token, env, nil
}

// Token returns the token in use ("" before GetToken).
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// SetToken replaces the token in use ("" sends no access_token header).
func (c *Client) SetToken(tok string) {
	c.mu.Lock()
	c.token = tok
	c.mu.Unlock()
}

// Post sends body as JSON to path ("/extApi/user/addUser").
func (c *Client) Post(ctx context.Context, path string, body any) (Envelope, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return Envelope{}, err
	}
	return c.PostRaw(ctx, path, raw)
}

// PostRaw sends raw bytes to path, with the current token.
func (c *Client) PostRaw(ctx context.Context, path string, raw []byte) (Envelope, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+path, bytes.NewReader(raw))
	if err != nil {
		return Envelope{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok := c.Token(); tok != "" {
		req.Header["access_token"] = []string{tok} // sent as HC spells it
	}
	env, err := c.do(req)
	if err == nil && env.Code == 401 {
		c.SetToken("") // HC refreshes for the next call, not this one
	}
	return env, err
}

func (c *Client) do(req *http.Request) (Envelope, error) {
	resp, err := c.http().Do(req)
	if err != nil {
		return Envelope{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	env := Envelope{HTTPStatus: resp.StatusCode}
	if err != nil {
		return env, err
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return env, fmt.Errorf("hciottest: answer is not JSON (HTTP %d): %q", resp.StatusCode, b)
	}
	env.HTTPStatus = resp.StatusCode
	return env, nil
}

// HC's fixed values.
const (
	// LastTime is HC's DateUtil.LAST_TIME, the endTime of every addUser.
	LastTime = "2038-01-01 00:00:00"
	// HCTime is HC's wall-clock layout.
	HCTime = "2006-01-02 15:04:05"
)

// FaceJPEG is a tiny JPEG-looking photo (magic bytes and a marker), enough
// for devices that store the bytes.
var FaceJPEG = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9}

// CommunitySpec is an HC community.
type CommunitySpec struct {
	ID, Name, Address, CityCode string
}

// MachineSpec is an HC machine as HC's machine adapters describe it.
type MachineSpec struct {
	Code, ExtID, Community, Name string
	HmID                         string
	LocationType, LocationObjID  string // 1000 + community id for a gate
	Direction                    string // 3306 in, 3307 out
	IP, MAC                      string
}

// Resident is an HC owner with a photo.
type Resident struct {
	ID, Name, Link, IDNumber string
	Face                     []byte
	DataURL                  bool // send faceBase64 with a data:image/jpeg;base64, prefix
}

// AddCommunity is the body of /extApi/community/addCommunity.
func AddCommunity(c CommunitySpec, taskID string) map[string]any {
	return map[string]any{"name": c.Name, "address": c.Address, "cityCode": c.CityCode, "extCommunityId": c.ID, "taskId": taskID}
}

// AddMachine is the body of /extApi/machine/addMachine.
func AddMachine(m MachineSpec, taskID string) map[string]any {
	return map[string]any{
		"machineCode": m.Code, "machineVersion": "v1.0", "machineName": m.Name, "machineTypeCd": "9999",
		"locationType": m.LocationType, "locationObjId": m.LocationObjID, "machineIp": m.IP, "machineMac": m.MAC,
		"extMachineId": m.ExtID, "extCommunityId": m.Community, "hmId": m.HmID, "direction": m.Direction, "taskId": taskID,
	}
}

// DeleteMachine is the body of /extApi/machine/deleteMachine.
func DeleteMachine(m MachineSpec, taskID string) map[string]any {
	return map[string]any{"extMachineId": m.ExtID, "machineCode": m.Code, "machineName": m.Name, "extCommunityId": m.Community, "taskId": taskID}
}

// AddUser is the body of /extApi/user/addUser as HC's owner adapters send
// it: startTime now, endTime 2038-01-01, the extras link, extMachineId,
// extCommunityId and attrs, and no personType.
func AddUser(r Resident, m MachineSpec, now time.Time, taskID string) map[string]any {
	face := base64.StdEncoding.EncodeToString(r.Face)
	if r.DataURL {
		face = "data:image/jpeg;base64," + face
	}
	return map[string]any{
		"userId": r.ID, "faceBase64": face, "startTime": now.Format(HCTime), "endTime": LastTime,
		"name": r.Name, "idNumber": r.IDNumber, "machineCode": m.Code, "taskId": taskID,
		"link": r.Link, "extMachineId": m.ExtID, "extCommunityId": m.Community,
		"attrs": []map[string]string{{"specCd": "1001", "value": "VIP"}},
	}
}

// DeleteUser is the body of /extApi/user/deleteUser.
func DeleteUser(r Resident, m MachineSpec, taskID string) map[string]any {
	return map[string]any{"userId": r.ID, "name": r.Name, "machineCode": m.Code, "extMachineId": m.ExtID, "extCommunityId": m.Community, "taskId": taskID}
}

// OpenDoor is the body of /extApi/machine/openDoor.
func OpenDoor(m MachineSpec, taskID string) map[string]any {
	return map[string]any{"machineCode": m.Code, "taskId": taskID}
}
