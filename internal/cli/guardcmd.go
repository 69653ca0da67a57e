package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellosvc/hello/internal/account"
	"github.com/hellosvc/hello/internal/config"
)

// guardCommand runs `hello guard status NAME` and `hello guard unlock NAME`: against the shared
// Redis store directly when HELLO_REDIS_URL is set, else through the running service's admin
// listener (HELLO_ADMIN_ADDR, HELLO_ADMIN_TOKEN), whose in-process store holds the logs.
func guardCommand(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) < 2 || (args[0] != "status" && args[0] != "unlock") {
		return fmt.Errorf("%w: usage: hello guard status|unlock NAME", config.ErrUsage)
	}
	op := args[0]
	name, err := account.NormalizeUsername(args[1])
	if err != nil {
		return fmt.Errorf("%w: %q is not a valid username", config.ErrUsage, args[1])
	}
	cfg, log, err := loadConfig(args[2:], environ, stdout)
	if err != nil {
		return err
	}
	if cfg.Guard.RedisURL == "" {
		return guardViaAdmin(ctx, cfg, op, name, stdout)
	}
	cfg.Guard.RedisFailure = "deny" // an answer from a local fallback would mean nothing here
	prot, err := newProtection(ctx, cfg, log, prometheus.NewRegistry())
	if err != nil {
		return err
	}
	defer func() { _ = prot.close() }()
	if op == "unlock" {
		if err := prot.guard.Unlock(ctx, name); err != nil {
			return err
		}
		log.Warn("guard unlock", "username", name, "via", "redis")
		return nil
	}
	st, err := prot.guard.Status(ctx, name)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(statusJSON(name, st))
}

func guardViaAdmin(ctx context.Context, cfg *config.Config, op, name string, stdout io.Writer) error {
	if cfg.AdminAddr == "" || cfg.AdminToken == "" {
		return fmt.Errorf("%w: without HELLO_REDIS_URL the name's log is in the service: set HELLO_ADMIN_ADDR and HELLO_ADMIN_TOKEN to reach its admin listener", config.ErrUsage)
	}
	host, port, err := net.SplitHostPort(cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("%w: HELLO_ADMIN_ADDR: %w", config.ErrUsage, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	method := http.MethodGet
	if op == "unlock" {
		method = http.MethodPost
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := "http://" + net.JoinHostPort(host, port) + "/admin/guard/" + op + "?name=" + url.QueryEscape(name)
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.AdminToken.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("admin listener answered %s: %s", resp.Status, body)
	}
	_, err = stdout.Write(body)
	return err
}
