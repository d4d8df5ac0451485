// Package linectltest simulates a linectl device: it dials the server,
// registers, pings, obeys commands and reports passes until acknowledged.
package linectltest

import (
	"bufio"
	"fmt"
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
	mu                         sync.Mutex           // guards the fields below and serialises writes
	cards                      map[string][2]string // card → person, name
	opens, acks, seq           int
	unacked                    map[string]linectl.Line // by evid
	conn                       net.Conn
	wg                         sync.WaitGroup
}

// Start runs a device connected to the server at addr.
func Start(addr, serial, secret string) (*Device, error) {
	d := &Device{serial: serial, secret: secret, addr: addr, boot: strconv.FormatInt(time.Now().UnixNano(), 36),
		cards: map[string][2]string{}, unacked: map[string]linectl.Line{}}
	return d, d.Connect()
}

func (d *Device) write(c net.Conn, verb string, args ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(linectl.Line{Verb: verb, Args: args}.Encode()))
}

// Connect dials the server and registers; the device then pings, obeys and
// resends until the connection ends.
func (d *Device) Connect() error {
	c, err := net.DialTimeout("tcp", d.addr, time.Second)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, linectl.MaxLine), linectl.MaxLine)
	d.write(c, "HELLO", d.serial, d.secret)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if !sc.Scan() || sc.Text() != "OK 0" {
		_ = c.Close()
		return fmt.Errorf("registration refused (%v)", sc.Err())
	}
	_ = c.SetReadDeadline(time.Time{}) // the server speaks only when it asks; Disconnect ends the read
	d.mu.Lock()
	d.conn = c
	d.mu.Unlock()
	quit := make(chan struct{})
	d.wg.Add(2)
	go func() { defer d.wg.Done(); d.tick(c, quit) }()
	go func() {
		defer d.wg.Done()
		defer close(quit)
		for sc.Scan() {
			if l, err := linectl.ParseLine(sc.Text()); err == nil {
				d.obey(c, l)
			}
		}
		_ = c.Close()
	}()
	return nil
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
		lines := make([]linectl.Line, 0, len(d.unacked))
		for _, l := range d.unacked {
			lines = append(lines, l)
		}
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
		if _, ok := d.unacked[l.Args[0]]; ok {
			delete(d.unacked, l.Args[0])
			d.acks++
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
		d.unacked[id] = linectl.Line{Verb: "EVT", Args: []string{id, ms, card, p[0]}}
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

// Disconnect drops the connection (Connect makes a new one).
func (d *Device) Disconnect() {
	d.mu.Lock()
	if d.conn != nil {
		_ = d.conn.Close()
	}
	d.mu.Unlock()
	d.wg.Wait()
}

// Close disconnects for good.
func (d *Device) Close() { d.Disconnect() }
