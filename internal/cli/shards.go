package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hellosvc/hello/internal/config"
	"github.com/hellosvc/hello/internal/dsn"
	"github.com/hellosvc/hello/internal/store/shard"
)

// shardFlags are the options of `hello shards …`; everything else on the line is a setting.
var shardFlags = map[string]bool{"logical": true, "to": true, "name": true, "dsn": true}

// splitShardArgs separates `hello shards` options from settings flags.
func splitShardArgs(args []string) (opts map[string]string, rest []string, err error) {
	opts = map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		if name == a {
			rest = append(rest, a)
			continue
		}
		name, val, hasVal := strings.Cut(name, "=")
		if !shardFlags[name] {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("%w: --%s needs a value", config.ErrUsage, name)
			}
			i++
			val = args[i]
		}
		opts[name] = val
	}
	return opts, rest, nil
}

// shardsCommand runs `hello shards status|check|add|move|rebalance`.
func shardsCommand(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("%w: hello shards needs a command: status, check, add, move or rebalance", config.ErrUsage)
	}
	sub := args[0]
	opts, rest, err := splitShardArgs(args[1:])
	if err != nil {
		return err
	}
	cfg, log, err := loadConfig(rest, environ, stdout)
	if err != nil {
		return err
	}
	if cfg.DB.Kind != dsn.Shards {
		return fmt.Errorf("%w: hello shards needs HELLO_DB=shards:PATH (or shards: with HELLO_SHARDS), not %s", config.ErrUsage, cfg.DB)
	}
	// Administration copies whole logical shards: no statement timeout, no background polling.
	cfg.Storage.StatementTimeout = 0
	pgOpts, err := pgOptions(ctx, cfg)
	if err != nil {
		return err
	}
	st, err := openShards(ctx, cfg, pgOpts, -1, log)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	host, _ := os.Hostname()
	admin := shard.NewAdmin(st, shard.AdminOptions{Holder: fmt.Sprintf("%s pid %d: hello shards %s", host, os.Getpid(), sub)})

	switch sub {
	case "status":
		return shardsStatus(ctx, admin, stdout)
	case "check":
		return shardsCheck(ctx, admin, stdout)
	case "add":
		if opts["name"] == "" || opts["dsn"] == "" {
			return fmt.Errorf("%w: hello shards add needs --name NAME --dsn DSN", config.ErrUsage)
		}
		m, err := admin.Add(ctx, opts["name"], opts["dsn"])
		if err != nil {
			return fmt.Errorf("adding shard %s: %w", opts["name"], err)
		}
		log.Info("shard added", "shard", opts["name"], "map_version", m.Version,
			"next", "add it to the shards file, then run hello shards rebalance")
		return nil
	case "move":
		l, err := strconv.Atoi(opts["logical"])
		if err != nil || opts["to"] == "" {
			return fmt.Errorf("%w: hello shards move needs --logical N --to NAME", config.ErrUsage)
		}
		r, err := admin.Move(ctx, l, opts["to"])
		if err != nil {
			return fmt.Errorf("moving logical shard %d (safe to re-run): %w", l, err)
		}
		logMove(log, r)
		return nil
	case "rebalance":
		start := time.Now()
		moves, err := admin.Rebalance(ctx, func(r shard.MoveResult) { logMove(log, r) })
		if err != nil {
			return fmt.Errorf("rebalancing after %d moves (safe to re-run): %w", len(moves), err)
		}
		var longest time.Duration
		for _, r := range moves {
			longest = max(longest, r.Pause)
		}
		log.Info("rebalanced", "moves", len(moves), "longest_pause", longest.String(), "took", time.Since(start).String())
		return nil
	}
	return fmt.Errorf("%w: unknown shards command %q (status, check, add, move, rebalance)", config.ErrUsage, sub)
}

func logMove(log *slog.Logger, r shard.MoveResult) {
	log.Info("logical shard moved", "logical", r.Logical, "from", r.From, "to", r.To, "move", r.ID, "accounts", r.Accounts,
		"sessions", r.Sessions, "pause", r.Pause.String(), "copies", r.Copies, "took", r.Total.String(), "note", r.Note)
}

func shardsStatus(ctx context.Context, admin *shard.Admin, stdout io.Writer) error {
	m, status, err := admin.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "shard map version %d, %d logical shards\n", m.Version, m.LogicalShards)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tSTATE\tLOGICAL SHARDS\tACCOUNTS")
	down := 0
	for _, s := range status {
		state, accounts := "up", strconv.FormatInt(s.Accounts, 10)
		if !s.Reachable {
			state, accounts = "unreachable", "-"
			down++
		} else if s.Owned != s.Logical {
			state = fmt.Sprintf("up (serves %d: a move is unfinished, re-run it)", s.Owned)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", s.Name, state, s.Logical, accounts)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if down > 0 {
		return fmt.Errorf("%d of %d shards unreachable", down, len(status))
	}
	return nil
}

// shardsCheck prints the invariants' report; any problem is a non-zero exit.
func shardsCheck(ctx context.Context, admin *shard.Admin, stdout io.Writer) error {
	rep, err := admin.Check(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "shard map version %d, %d logical shards, %d physical shards, %d rows checked\n",
		rep.Version, rep.LogicalShards, rep.Shards, rep.Rows)
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, "PROBLEM:", p)
	}
	if !rep.OK() {
		return fmt.Errorf("shards check: %d problems", len(rep.Problems))
	}
	fmt.Fprintln(stdout, "ok: one owner per logical shard, every row on its owner in its hashed logical shard, map versions agree")
	return nil
}
