package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hellosvc/hello/internal/config"
)

// healthcheckCommand is `hello healthcheck [URL] [--setting value ...]`, for images without
// curl. Without a URL it probes GET /healthz on the local listener (HELLO_ADDR: the image's
// HEALTHCHECK); with one it probes that URL, e.g. http://hello:80/readyz through a Service
// from another pod (the Helm chart's `helm test` hook), and needs no settings.
func healthcheckCommand(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if len(args) > 1 {
			return fmt.Errorf("%w: healthcheck takes one URL and no settings, got %q", config.ErrUsage, args)
		}
		u, err := url.Parse(args[0])
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: healthcheck URL %q: want http://host[:port]/path", config.ErrUsage, args[0])
		}
		return probe(ctx, u.String())
	}
	cfg, _, err := loadConfig(args, environ, stdout)
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("HELLO_ADDR: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return probe(ctx, "http://"+net.JoinHostPort(host, port)+"/healthz")
}

// probe GETs target and wants 200. A redirect is an answer, not a hop to follow: a probe
// must not end up checking another service.
func probe(ctx context.Context, target string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", target, resp.Status)
	}
	return nil
}
