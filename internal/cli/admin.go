package cli

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/guard"
)

// adminHandler is the admin listener: GET /metrics for every scraper; with HELLO_ADMIN_TOKEN
// set, also net/http/pprof and the guard's status/unlock endpoints, each behind the token
// (deployments expose this listener for /metrics, so nothing else may be open there).
func adminHandler(reg *prometheus.Registry, token string, g *guard.Guard, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if token == "" {
		return mux
	}
	want := sha256.Sum256([]byte(token))
	auth := func(h http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(got)) // equal lengths: the comparison leaks nothing
			if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				adminJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated", "message": "Authorization: Bearer <HELLO_ADMIN_TOKEN> required"})
				return
			}
			h(w, r)
		})
	}
	mux.Handle("GET /debug/pprof/", auth(pprof.Index))
	mux.Handle("GET /debug/pprof/cmdline", auth(pprof.Cmdline))
	mux.Handle("GET /debug/pprof/profile", auth(pprof.Profile))
	mux.Handle("GET /debug/pprof/symbol", auth(pprof.Symbol))
	mux.Handle("GET /debug/pprof/trace", auth(pprof.Trace))
	mux.Handle("GET /admin/guard/status", auth(func(w http.ResponseWriter, r *http.Request) {
		name, ok := adminName(w, r)
		if !ok {
			return
		}
		st, err := g.Status(r.Context(), name)
		if err != nil {
			adminJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "storage_unavailable", "message": err.Error()})
			return
		}
		adminJSON(w, http.StatusOK, statusJSON(name, st))
	}))
	mux.Handle("POST /admin/guard/unlock", auth(func(w http.ResponseWriter, r *http.Request) {
		name, ok := adminName(w, r)
		if !ok {
			return
		}
		if err := g.Unlock(r.Context(), name); err != nil {
			adminJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "storage_unavailable", "message": err.Error()})
			return
		}
		log.Warn("guard unlock", "username", name, "via", "admin listener", "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusNoContent)
	}))
	return mux
}

// adminName reads and normalises ?name=.
func adminName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name, err := account.NormalizeUsername(r.URL.Query().Get("name"))
	if err != nil {
		adminJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "message": "?name= must be a valid username"})
		return "", false
	}
	return name, true
}

// nameStatus is the JSON of a name's guard status.
type nameStatus struct {
	Username    string     `json:"username"`
	Failures    int        `json:"failures"`
	Locked      bool       `json:"locked"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
}

func statusJSON(name string, st guard.NameStatus) nameStatus {
	out := nameStatus{Username: name, Failures: st.Failures, Locked: !st.LockedUntil.IsZero()}
	if out.Locked {
		t := st.LockedUntil.UTC().Truncate(time.Second)
		out.LockedUntil = &t
	}
	return out
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
