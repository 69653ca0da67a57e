package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/hellosvc/hello/internal/account"
)

// healthz answers 200 while the process runs: the liveness probe.
func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the service can serve: the readiness probe.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	rd := s.ready(ctx)
	if !rd.Ready {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"error": account.CodeNotReady, "message": "not ready to serve", "checks": rd.Checks,
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": rd.Status, "checks": rd.Checks})
}
