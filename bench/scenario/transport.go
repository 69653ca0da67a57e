package scenario

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// connTransport is the attackers' HTTP/1.1 client for a plain-HTTP target. net/http's
// Transport runs two goroutines per connection and hands each request and response between
// them and the caller over channels; at thousands of requests per second that took the runner
// about 125 µs of CPU a request, more than hello spent answering. This transport writes the
// request and reads the whole response on the caller's goroutine, over a pooled keep-alive
// connection, so the load generator takes less of the CPU it shares with hello here.
type connTransport struct {
	addr string // host:port
	dial net.Dialer
	mu   sync.Mutex
	idle []*rawConn
}

type rawConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

// RoundTrip sends req (its deadline from its context) and returns the response with its body
// read in full, so the connection goes back to the pool before the caller looks at it.
func (t *connTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rc, err := t.get(req.Context())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	dl, _ := req.Context().Deadline() // the zero time when none: no deadline
	resp, err := rc.exchange(req, dl)
	if err != nil {
		_ = rc.c.Close()
		return nil, err
	}
	if resp.Close {
		_ = rc.c.Close()
	} else {
		t.put(rc)
	}
	return resp, nil
}

func (rc *rawConn) exchange(req *http.Request, deadline time.Time) (*http.Response, error) {
	if err := rc.c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if err := req.Write(rc.bw); err != nil { // closes req.Body
		return nil, err
	}
	if err := rc.bw.Flush(); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(rc.br, req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (t *connTransport) get(ctx context.Context) (*rawConn, error) {
	t.mu.Lock()
	if n := len(t.idle); n > 0 {
		rc := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return rc, nil
	}
	t.mu.Unlock()
	c, err := t.dial.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c)}, nil
}

func (t *connTransport) put(rc *rawConn) {
	t.mu.Lock()
	t.idle = append(t.idle, rc)
	t.mu.Unlock()
}
