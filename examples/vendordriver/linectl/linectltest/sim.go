// Package linectltest simulates a linectl device: it dials the server,
// registers, pings, obeys commands and reports passes until acknowledged.
package linectltest

import (
	"bufio"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/menjin/menjin/examples/vendordriver/linectl"
)

// ping is the heartbeat; resend how often unacknowledged events go again.
const ping, resend = time.Second, 100 * time.Millisecond

// Device is a simulated device. Its methods are safe for concurrent use.
type Device struct {
	serial, secret, addr, boot string
	mu                         sync.Mutex
	wmu                        sync.Mutex
	cards                      map[string][2]string // card → person, name
	opens, acks, seq           int
	unacked                    []linectl.Line
	conn                       net.Conn
	paused                     bool
	wake, stop, done           chan struct{}
	once                       sync.Once
}

// Start runs a device that dials addr (again after each loss) until Close.
func Start(addr, serial, secret string) *Device {
	d := &Device{serial: serial, secret: secret, addr: addr, boot: strconv.FormatInt(time.Now().UnixNano(), 36),
		cards: map[string][2]string{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go d.run()
	return d
}

func (d *Device) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		paused := d.paused
		d.mu.Unlock()
		if !paused {
			if c, err := net.DialTimeout("tcp", d.addr, time.Second); err == nil {
				d.session(c)
			}
		}
		select {
		case <-d.stop:
			return
		case <-d.wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (d *Device) write(c net.Conn, verb string, args ...string) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(linectl.Line{Verb: verb, Args: args}.Encode()))
}

func (d *Device) session(c net.Conn) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, linectl.MaxLine), linectl.MaxLine)
	d.write(c, "HELLO", d.serial, d.secret)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	d.mu.Lock()
	ok := sc.Scan() && !d.paused
	if ok {
		d.conn = c
	}
	d.mu.Unlock()
	if !ok {
		return
	}
	_ = c.SetReadDeadline(time.Time{}) // the server speaks only when it asks; Disconnect and Close end the read
	quit := make(chan struct{})
	defer close(quit)
	go d.tick(c, quit)
	for sc.Scan() {
		if l, err := linectl.ParseLine(sc.Text()); err == nil {
			d.obey(c, l)
		}
	}
}

// tick pings and resends what the server has not acknowledged.
func (d *Device) tick(c net.Conn, quit chan struct{}) {
	last := time.Now()
	t := time.NewTicker(resend)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		d.mu.Lock()
		lines := append([]linectl.Line(nil), d.unacked...)
		d.mu.Unlock()
		for _, l := range lines {
			d.write(c, l.Verb, l.Args...)
		}
		if time.Since(last) >= ping {
			d.write(c, "PING")
			last = time.Now()
		}
	}
}

func (d *Device) obey(c net.Conn, l linectl.Line) {
	d.mu.Lock()
	switch l.Verb {
	case "OPEN":
		d.opens++
	case "PUT":
		d.cards[l.Args[1]] = [2]string{l.Args[2], l.Args[3]}
	case "DEL":
		delete(d.cards, l.Args[1])
	case "ACK":
		for i, u := range d.unacked {
			if u.Args[0] == l.Args[0] {
				d.unacked = append(d.unacked[:i], d.unacked[i+1:]...)
				d.acks++
				break
			}
		}
	}
	d.mu.Unlock()
	if l.Verb != "ACK" {
		d.write(c, "OK", l.Args[0])
	}
}

// Swipe presents a card: a held card is a pass of its person, reported
// (and resent) until the server acknowledges it. It says if the card is held.
func (d *Device) Swipe(card string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.cards[card]
	if ok {
		d.seq++
		ms := strconv.FormatInt(time.Now().UnixMilli(), 10)
		id := d.boot + "-" + strconv.Itoa(d.seq) // unique across reboots too
		d.unacked = append(d.unacked, linectl.Line{Verb: "EVT", Args: []string{id, ms, card, p[0]}})
	}
	return ok
}

// Holds reports whether the device holds a card of the person, and the name.
func (d *Device) Holds(person string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.cards {
		if p[0] == person {
			return p[1], true
		}
	}
	return "", false
}

// DoorOpens counts OPEN commands.
func (d *Device) DoorOpens() int { d.mu.Lock(); defer d.mu.Unlock(); return d.opens }

// Acks counts the events the server acknowledged.
func (d *Device) Acks() int { d.mu.Lock(); defer d.mu.Unlock(); return d.acks }

// Disconnect drops the connection and stays away until Reconnect.
func (d *Device) Disconnect() { d.setPaused(true) }

// Reconnect lets the device dial again.
func (d *Device) Reconnect() { d.setPaused(false) }

func (d *Device) setPaused(p bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.paused = p; p && d.conn != nil {
		_ = d.conn.Close()
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Close stops the device for good.
func (d *Device) Close() {
	d.once.Do(func() { close(d.stop) })
	d.Disconnect()
	<-d.done
}
