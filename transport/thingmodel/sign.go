package thingmodel

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Triple is a device's identity on the platform: ProductKey, DeviceName and
// the per-device DeviceSecret ("one device, one secret").
type Triple struct {
	ProductKey   string
	DeviceName   string
	DeviceSecret string
}

// Key returns the device's ProductKey/DeviceName.
func (t Triple) Key() DeviceKey { return DeviceKey{t.ProductKey, t.DeviceName} }

// String never shows the secret.
func (t Triple) String() string { return t.Key().String() }

// LogValue keeps slog handlers (JSON ones marshal fields) from the secret.
func (t Triple) LogValue() slog.Value { return slog.StringValue(t.String()) }

// GoString never shows the secret either (%#v).
func (t Triple) GoString() string {
	return fmt.Sprintf("thingmodel.Triple{ProductKey:%q, DeviceName:%q, DeviceSecret:\"***\"}", t.ProductKey, t.DeviceName)
}

// SignMethod is the HMAC used for the MQTT password.
type SignMethod string

// Sign methods of the LinkKit convention.
const (
	HMACSHA256 SignMethod = "hmacsha256"
	HMACSHA1   SignMethod = "hmacsha1"
	HMACMD5    SignMethod = "hmacmd5"
)

func (m SignMethod) hash() (func() hash.Hash, bool) {
	switch SignMethod(strings.ToLower(string(m))) {
	case HMACSHA256:
		return sha256.New, true
	case HMACSHA1:
		return sha1.New, true
	case HMACMD5:
		return md5.New, true
	}
	return nil, false
}

// Credentials are the MQTT CONNECT fields of a device.
type Credentials struct {
	ClientID string // "{id}|securemode=3,signmethod=hmacsha256,timestamp={ms}|"
	Username string // "{deviceName}&{productKey}"
	Password string // hex HMAC(deviceSecret, "clientId{id}deviceName{dn}productKey{pk}timestamp{ms}")
}

// String shows the client id and username, never the password (a device
// without a clock signs with a fixed timestamp: its password is replayable).
func (c Credentials) String() string { return c.ClientID + " " + c.Username + " ***" }

// LogValue is String for slog.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString is String for %#v.
func (c Credentials) GoString() string { return "thingmodel.Credentials{" + c.String() + "}" }

// Sign computes the LinkKit MQTT credentials of a device. id is the
// device's own client id (a serial or MAC; "" means "{pk}.{dn}"); ts is
// the signing time, sent as epoch-ms. securemode=3 is plain TCP direct
// connection, the mode a LAN broker uses.
func Sign(t Triple, id string, ts time.Time, method SignMethod) (Credentials, error) {
	if !t.Key().Valid() || t.DeviceSecret == "" {
		return Credentials{}, fmt.Errorf("%w: incomplete triple %s", ErrAuth, t)
	}
	if method == "" {
		method = HMACSHA256
	}
	newHash, ok := method.hash()
	if !ok {
		return Credentials{}, fmt.Errorf("%w: unknown sign method %q", ErrAuth, method)
	}
	if id == "" {
		id = t.ProductKey + "." + t.DeviceName
	}
	if strings.ContainsAny(id, "|,") {
		return Credentials{}, fmt.Errorf("%w: client id %q contains | or ,", ErrAuth, id)
	}
	ms := strconv.FormatInt(ts.UnixMilli(), 10)
	return Credentials{
		ClientID: id + "|securemode=3,signmethod=" + string(method) + ",timestamp=" + ms + "|",
		Username: t.DeviceName + "&" + t.ProductKey,
		Password: hex.EncodeToString(signature(newHash, t.DeviceSecret, id, t.Key(), ms)),
	}, nil
}

// signature is HMAC(secret, content) where content concatenates the signed
// parameters as name+value in alphabetical order of name; timestamp is
// signed only when the client id carries one.
func signature(newHash func() hash.Hash, secret, id string, dev DeviceKey, ts string) []byte {
	m := hmac.New(newHash, []byte(secret))
	m.Write([]byte("clientId" + id + "deviceName" + dev.DeviceName + "productKey" + dev.ProductKey))
	if ts != "" {
		m.Write([]byte("timestamp" + ts))
	}
	return m.Sum(nil)
}

// SecretStore looks up device secrets for the embedded broker's
// authentication. Unknown devices return ErrUnknownDevice.
type SecretStore interface {
	DeviceSecret(ctx context.Context, dev DeviceKey) (string, error)
}

// Secrets is an in-memory SecretStore. Printed (%v, %#v, a log
// attribute) it lists its devices, never their secrets.
type Secrets map[DeviceKey]string

// String lists the devices, sorted, with their secrets masked.
func (s Secrets) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k.String()+":***")
	}
	sort.Strings(keys)
	return "[" + strings.Join(keys, " ") + "]"
}

// GoString is String for %#v.
func (s Secrets) GoString() string { return "thingmodel.Secrets" + s.String() }

// LogValue keeps slog handlers from printing the map itself.
func (s Secrets) LogValue() slog.Value { return slog.StringValue(s.String()) }

// DeviceSecret implements SecretStore.
func (s Secrets) DeviceSecret(_ context.Context, dev DeviceKey) (string, error) {
	if v, ok := s[dev]; ok {
		return v, nil
	}
	return "", ErrUnknownDevice
}

// SecretStoreFunc adapts a function to SecretStore.
type SecretStoreFunc func(ctx context.Context, dev DeviceKey) (string, error)

// DeviceSecret implements SecretStore.
func (f SecretStoreFunc) DeviceSecret(ctx context.Context, dev DeviceKey) (string, error) {
	return f(ctx, dev)
}

// ClientParams are the fields of a LinkKit MQTT client id.
type ClientParams struct {
	ID         string
	SecureMode string
	SignMethod SignMethod
	Timestamp  string            // epoch-ms as sent; "" when absent
	Extra      map[string]string // other parameters (_v, lan, ...), not signed
}

// ParseClientID splits "{id}|k=v,k=v|". A bare id without parameters is an error:
// the sign method is mandatory.
func ParseClientID(s string) (ClientParams, error) {
	id, rest, ok := strings.Cut(s, "|")
	if !ok || id == "" || !strings.HasSuffix(rest, "|") {
		return ClientParams{}, fmt.Errorf("%w: client id %q is not {id}|params|", ErrAuth, s)
	}
	p := ClientParams{ID: id}
	for _, kv := range strings.Split(strings.TrimSuffix(rest, "|"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "":
		case "securemode":
			p.SecureMode = v
		case "signmethod":
			p.SignMethod = SignMethod(v)
		case "timestamp":
			p.Timestamp = v
		default:
			if p.Extra == nil {
				p.Extra = map[string]string{}
			}
			p.Extra[k] = v
		}
	}
	if p.SignMethod == "" {
		return ClientParams{}, fmt.Errorf("%w: client id without signmethod", ErrAuth)
	}
	return p, nil
}

// ParseUsername splits "{deviceName}&{productKey}".
func ParseUsername(s string) (DeviceKey, error) {
	dn, pk, ok := strings.Cut(s, "&")
	k := DeviceKey{ProductKey: pk, DeviceName: dn}
	if !ok || !k.Valid() {
		return DeviceKey{}, fmt.Errorf("%w: username %q is not {deviceName}&{productKey}", ErrAuth, s)
	}
	return k, nil
}

// Verifier checks device credentials against a SecretStore.
type Verifier struct {
	Secrets SecretStore
	// MaxSkew, when positive, rejects timestamps further than this from now
	// (limits the replay of a captured password). Zero accepts any timestamp,
	// as devices without a clock sign with a fixed one.
	MaxSkew time.Duration
	Now     func() time.Time
}

// Verify returns the device a CONNECT authenticates, or an error wrapping
// ErrAuth (ErrUnknownDevice for a device without a secret).
func (v *Verifier) Verify(ctx context.Context, clientID, username string, password []byte) (DeviceKey, ClientParams, error) {
	p, err := ParseClientID(clientID)
	if err != nil {
		return DeviceKey{}, p, err
	}
	dev, err := ParseUsername(username)
	if err != nil {
		return DeviceKey{}, p, err
	}
	newHash, ok := p.SignMethod.hash()
	if !ok {
		return dev, p, fmt.Errorf("%w: unknown sign method %q", ErrAuth, p.SignMethod)
	}
	if v.MaxSkew > 0 {
		ms, err := strconv.ParseInt(p.Timestamp, 10, 64)
		if err != nil {
			return dev, p, fmt.Errorf("%w: timestamp %q", ErrAuth, p.Timestamp)
		}
		now := time.Now
		if v.Now != nil {
			now = v.Now
		}
		if d := now().Sub(time.UnixMilli(ms)); d > v.MaxSkew || d < -v.MaxSkew {
			return dev, p, fmt.Errorf("%w: timestamp off by %v", ErrAuth, d.Round(time.Second))
		}
	}
	secret, err := v.Secrets.DeviceSecret(ctx, dev)
	if err != nil {
		return dev, p, fmt.Errorf("%w: %s: %w", ErrAuth, dev, err)
	}
	got, err := hex.DecodeString(string(password))
	want := signature(newHash, secret, p.ID, dev, p.Timestamp)
	if err != nil || !hmac.Equal(got, want) {
		return dev, p, fmt.Errorf("%w: bad signature for %s", ErrAuth, dev)
	}
	return dev, p, nil
}
