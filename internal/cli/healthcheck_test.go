package cli_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hellosvc/hello/internal/cli"
	"github.com/hellosvc/hello/internal/testenv"
)

// TestHealthcheckURL: `hello healthcheck URL` is what the Helm chart's `helm test` hook runs
// from its own pod against /readyz through the Service; without a URL the command still
// probes the local /healthz (the image's HEALTHCHECK).
func TestHealthcheckURL(t *testing.T) {
	h := testenv.StartHello(t, nil)
	status := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if code == http.StatusFound {
				http.Redirect(w, r, h.URL+"/readyz", code) // a redirect to a healthy service
				return
			}
			w.WriteHeader(code)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()

	tests := []struct {
		name string
		args []string
		env  []string
		exit int
	}{
		{"readyz of a running service", []string{h.URL + "/readyz"}, nil, 0},
		{"readyz answering 503 not_ready", []string{status(http.StatusServiceUnavailable) + "/readyz"}, nil, 1},
		{"a redirect is not followed", []string{status(http.StatusFound) + "/readyz"}, nil, 1},
		{"nothing listening", []string{closed + "/readyz"}, nil, 1},
		{"the URL wins over settings that would fail", []string{h.URL + "/healthz"}, []string{"HELLO_SESSION_TTL=1s"}, 0},
		{"not an HTTP URL", []string{"ftp://hello/readyz"}, nil, 2},
		{"a host is required", []string{"http:///readyz"}, nil, 2},
		{"one URL only", []string{h.URL + "/readyz", h.URL + "/healthz"}, nil, 2},
		{"no URL: local /healthz from HELLO_ADDR", nil, []string{"HELLO_ADDR=" + strings.TrimPrefix(h.URL, "http://")}, 0},
		{"no URL: local /healthz from the flag", []string{"--addr", strings.TrimPrefix(h.URL, "http://")}, nil, 0},
		{"no URL: nothing local", nil, []string{"HELLO_ADDR=" + strings.TrimPrefix(closed, "http://")}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cli.Run(context.Background(), append([]string{"healthcheck"}, tt.args...), tt.env, io.Discard)
			if got := cli.ExitCode(err); got != tt.exit {
				t.Errorf("hello healthcheck %q: exit %d (%v), want %d", tt.args, got, err, tt.exit)
			}
		})
	}
}
