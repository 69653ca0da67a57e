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
	"golang.org/x/sync/errgroup"

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

	listeners := make([]net.Listener, len(servers))
	for i, srv := range servers {
		ln, err := net.Listen("tcp", srv.addr)
		if err != nil {
			for _, l := range listeners[:i] {
				_ = l.Close()
			}
			return fmt.Errorf("listening on %s (%s): %w", srv.addr, srv.name, err)
		}
		listeners[i] = ln
		log.Info("listening", "listener", srv.name, "addr", ln.Addr().String())
	}

	// Every goroutine serve starts belongs to this group and is waited for before the stores
	// (closed by the defers above) go away.
	g, gctx := errgroup.WithContext(ctx)
	for i, srv := range servers {
		g.Go(func() error {
			if err := srv.srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s server: %w", srv.name, err)
			}
			return nil
		})
	}
	g.Go(func() error { purgeSessions(gctx, accounts, log); return nil })
	g.Go(func() error {
		<-gctx.Done() // SIGTERM, or a server failed
		if ctx.Err() != nil {
			log.Info("shutting down", "drain", cfg.DrainTime.String(), "timeout", cfg.ShutdownTimeout.String())
			// Not ready first, still serving: load balancers see /readyz fail and stop sending
			// new requests before the listener closes.
			draining.Store(true)
			if cfg.DrainTime > 0 {
				t := time.NewTimer(cfg.DrainTime)
				<-t.C
			}
		}
		shutdownAll(servers, cfg.ShutdownTimeout, log)
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
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
