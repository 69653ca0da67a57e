package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/config"
	"github.com/hellosvc/hello/internal/httpapi"
	"github.com/hellosvc/hello/internal/realip"
)

// serve runs the service until ctx is cancelled, then shuts down gracefully.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	log.Info("starting", append([]any{"version", Version()}, attrsToAny(cfg.Effective())...)...)

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing storage", "err", err)
		}
	}()
	if cfg.Storage.IAMAuth {
		// The application role has no DDL rights: `hello migrate` (the master user) runs them.
		log.Info("HELLO_DB_IAM_AUTH=on: not migrating at start; run hello migrate with the master credentials")
	} else if n, err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating storage: %w", err)
	} else if n > 0 {
		log.Info("migrations applied", "applied", n)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), newStorageUp(st))

	prot, err := newProtection(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	defer func() {
		if err := prot.close(); err != nil {
			log.Error("closing the limiter store", "err", err)
		}
	}()

	hasher := account.NewHasher(account.Argon2Params{
		MemoryKiB: cfg.Hash.MemoryKiB, Time: cfg.Hash.Time, Threads: cfg.Hash.Threads, SaltLen: 16, KeyLen: 32,
	}, cfg.Hash.Concurrency, cfg.Hash.Wait)
	if err := hasher.Register(reg); err != nil {
		return err
	}
	refusals, err := httpapi.NewRefusalLog(log, 10*time.Second, reg)
	if err != nil {
		return err
	}
	defer refusals.Flush()
	accounts, err := account.NewService(ctx, account.Options{Store: st, Hasher: hasher, SessionTTL: cfg.SessionTTL, Logger: log, Guard: prot.guard})
	if err != nil {
		return err
	}

	var draining atomic.Bool
	handler, err := httpapi.NewServer(httpapi.Deps{
		Accounts: accounts, Logger: log, Metrics: reg, Resolver: realip.New(cfg.TrustedProxies, cfg.ClientIPHeader),
		Guard: prot.guard, Captcha: prot.captcha,
		Ready:         readiness(st, prot.state, &draining, log),
		SecureCookies: cfg.Env != "development",
		Refusals:      refusals,
	})
	if err != nil {
		return err
	}

	public := newHTTPServer(handler, log)
	servers := []*namedServer{{name: "http", addr: cfg.Addr, srv: public}}
	if cfg.AdminAddr != "" {
		admin := adminHandler(reg, cfg.AdminToken.Reveal(), prot.guard, log)
		servers = append(servers, &namedServer{name: "admin", addr: cfg.AdminAddr, srv: newHTTPServer(admin, log)})
	}

	errc := make(chan error, len(servers))
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			shutdownAll(servers, time.Second, log)
			return fmt.Errorf("listening on %s (%s): %w", s.addr, s.name, err)
		}
		log.Info("listening", "listener", s.name, "addr", ln.Addr().String())
		go func() {
			if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s server: %w", s.name, err)
			}
		}()
	}

	janitorCtx, stopJanitor := context.WithCancel(ctx)
	defer stopJanitor()
	go purgeSessions(janitorCtx, accounts, log)

	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	case err := <-errc:
		shutdownAll(servers, cfg.ShutdownTimeout, log)
		return err
	}
	draining.Store(true)
	shutdownAll(servers, cfg.ShutdownTimeout, log)
	log.Info("stopped")
	return nil
}

type namedServer struct {
	name, addr string
	srv        *http.Server
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// shutdownAll stops accepting, waits up to timeout for in-flight requests, then closes what is left.
func shutdownAll(servers []*namedServer, timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, s := range servers {
		if err := s.srv.Shutdown(ctx); err != nil {
			log.Warn("in-flight requests did not finish in time; closing", "listener", s.name, "err", err)
			_ = s.srv.Close()
		}
	}
}

// purgeSessions deletes expired sessions every ten minutes, so the table does not grow forever.
func purgeSessions(ctx context.Context, accounts *account.Service, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := accounts.PurgeExpiredSessions(ctx); err != nil {
				log.Warn("purging expired sessions", "err", err)
			} else if n > 0 {
				log.Info("purged expired sessions", "count", n)
			}
		}
	}
}

func attrsToAny(attrs []slog.Attr) []any {
	out := make([]any, len(attrs))
	for i, a := range attrs {
		out[i] = a
	}
	return out
}
