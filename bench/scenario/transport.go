package scenario

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
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
	c    net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	idle time.Time // when it went back to the pool
}

// idleLimit is how long a pooled connection is kept: less than hello's IdleTimeout (2 min),
// after which hello closes it and a request sent on it would fail.
const idleLimit = 100 * time.Second

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
	for n := len(t.idle); n > 0; n-- {
		rc := t.idle[n-1]
		t.idle = t.idle[:n-1]
		if time.Since(rc.idle) < idleLimit {
			t.mu.Unlock()
			return rc, nil
		}
		_ = rc.c.Close()
	}
	t.mu.Unlock()
	return t.dialConn(ctx)
}

func (t *connTransport) dialConn(ctx context.Context) (*rawConn, error) {
	c, err := t.dial.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c)}, nil
}

// open dials n connections into the pool, each with one request to probe: hello closes a
// connection that sends no request within its ReadHeaderTimeout, and only then applies its
// IdleTimeout (a load balancer's health checks keep its connections alive the same way).
func (t *connTransport) open(ctx context.Context, base, probe string, n int) error {
	for range n {
		rc, err := t.dialConn(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+probe, nil)
		if err != nil {
			return err
		}
		dl, _ := ctx.Deadline()
		resp, err := rc.exchange(req, dl)
		if err != nil {
			return fmt.Errorf("probing a new connection: %w", err)
		}
		_ = resp.Body.Close() // read in full already
		if resp.Close {
			return fmt.Errorf("probing a new connection: %s closed it", probe)
		}
		t.put(rc)
	}
	return nil
}

func (t *connTransport) put(rc *rawConn) {
	rc.idle = time.Now()
	t.mu.Lock()
	t.idle = append(t.idle, rc)
	t.mu.Unlock()
}
