package wsterm_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/menjin/menjin/accessctl/wsterm"
)

// BenchmarkIdleTerminals measures the server-side memory of idle, registered
// terminals: heap in use plus goroutine stacks, divided by their number. The
// terminals live in a child process (this test binary, re-executed), so that
// nothing of theirs is counted. MENJIN_IDLE_TERMINALS sets how many (default
// 1000; idle_bench.sh raises the open-file limit and uses 10,000). Each
// b.N iteration is one full measurement; run it with -benchtime=1x.
func BenchmarkIdleTerminals(b *testing.B) {
	n := 1000
	if s := os.Getenv("MENJIN_IDLE_TERMINALS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for b.Loop() {
		perTerminal, heap, stack, goroutines := measureIdle(b, n)
		b.ReportMetric(perTerminal, "B/terminal")
		b.ReportMetric(heap, "heapB/terminal")
		b.ReportMetric(stack, "stackB/terminal")
		b.ReportMetric(goroutines, "goroutines/terminal")
		b.ReportMetric(float64(n), "terminals")
	}
}

func memInUse() (heap, stack uint64) {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.StackInuse
}

func measureIdle(b *testing.B, n int) (total, heap, stack, goroutines float64) {
	srv := wsterm.NewServer(wsterm.WithOfflineAfter(10 * time.Minute))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer func() { _ = hs.Close(); _ = srv.Close() }()

	g0 := runtime.NumGoroutine()
	heap0, stack0 := memInUse()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientProcess$")
	cmd.Env = append(os.Environ(), "MENJIN_IDLE_CLIENT="+ln.Addr().String()+","+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "READY") {
		b.Log(sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	deadline := time.Now().Add(2 * time.Minute)
	for srv.Stats().Registrations < uint64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d terminals registered", srv.Stats().Registrations, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	heap1, stack1 := memInUse()
	g1 := runtime.NumGoroutine()
	heap = (float64(heap1) - float64(heap0)) / float64(n)
	stack = (float64(stack1) - float64(stack0)) / float64(n)
	return heap + stack, heap, stack, float64(g1-g0) / float64(n)
}

// TestIdleClientProcess is the child side of BenchmarkIdleTerminals: n raw
// terminals that do the WebSocket handshake by hand, send 205, read the ack
// and stay silent. It does nothing unless MENJIN_IDLE_CLIENT is set.
func TestIdleClientProcess(t *testing.T) {
	spec := os.Getenv("MENJIN_IDLE_CLIENT")
	if spec == "" {
		return // only meaningful as the benchmark's child process
	}
	addr, count, _ := strings.Cut(spec, ",")
	n, _ := strconv.Atoi(count)
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := idleTerminal(addr, fmt.Sprintf("IDLE%06d", i))
				if err != nil {
					failed.Add(1)
					fmt.Fprintln(os.Stderr, "terminal", i, err)
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	fmt.Printf("READY %d terminals, %d failed\n", n-int(failed.Load()), failed.Load())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent is done
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
}

func idleTerminal(addr, sn string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 256)
	for { // the 101 response, up to its blank line
		line, err := br.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	payload := []byte(`{"code":"205","data":{"ip":"127.0.0.1","mac":"02-00-00-00-00-01","sn":"` + sn + `","type":"0"}}`)
	frame := append([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...) // masked with a zero key
	if _, err := c.Write(frame); err != nil {
		c.Close()
		return nil, err
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil {
		c.Close()
		return nil, err
	}
	size := int(hdr[1] & 0x7f)
	if size == 126 {
		ext := make([]byte, 2)
		_, _ = io.ReadFull(br, ext)
		size = int(binary.BigEndian.Uint16(ext))
	}
	ack := make([]byte, size)
	if _, err := io.ReadFull(br, ack); err != nil {
		c.Close()
		return nil, err
	}
	if !bytes.Contains(ack, []byte(`"code":"200"`)) {
		c.Close()
		return nil, fmt.Errorf("register refused: %s", ack)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}
