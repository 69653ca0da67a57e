package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hellosvc/hello/internal/testenv"
)

// Issue 10 (3): refused requests are not logged one line each (under a flood that log is itself
// a flood) but summed per policy, with the busiest senders, and counted in metrics.
func TestRefusalsAreSummarisedNotLoggedOneByOne(t *testing.T) {
	h := testenv.StartHello(t, map[string]string{"HELLO_SENDER_LIMIT": "5/1m"})
	c := testenv.NewClient(t, h.URL)
	refused := 0
	for range 30 {
		if c.Get("/api/hello").Status == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused != 25 {
		t.Fatalf("%d refused, want 25", refused)
	}
	m := testenv.NewClient(t, h.AdminURL).Get("/metrics")
	if want := `hello_guard_refusals_logged_total{policy="sender"} 25`; !contains(m.Body, want) {
		t.Errorf("metrics lack %s", want)
	}
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	perRequest, summarised := 0, 0.0
	for _, r := range h.Logs.Records() {
		switch r["msg"] {
		case "request":
			if r["status"] == float64(429) {
				perRequest++
			}
		case "requests refused":
			if r["policy"] == "sender" {
				summarised += r["count"].(float64)
				if top, _ := r["top_senders"].(map[string]any); top["127.0.0.1"] == nil {
					t.Errorf("summary %v does not name the sender", r)
				}
			}
		}
	}
	if perRequest != 0 || summarised != 25 {
		t.Fatalf("%d per-request lines for refusals and %v summarised, want 0 and 25", perRequest, summarised)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
