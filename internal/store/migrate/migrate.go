// Package migrate loads versioned SQL migrations embedded in a store's binary. Each store
// applies them in its own dialect; the file naming and ordering rules live here, once.
package migrate

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema change, applied once, in Version order.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Load reads every "NNNN_name.sql" file at the root of fsys, sorted by version. Versions must
// be unique; gaps are allowed.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: name must look like 0001_description.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share version %d", prev, name, v)
		}
		seen[v] = name
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("reading migration %q: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Apply loads the migrations in dir of fsys and calls applyOne for each, in order, stopping at
// the first error. applyOne applies one migration unless the database already has it, and
// reports whether it did. Apply returns how many were applied.
func Apply(ctx context.Context, fsys fs.FS, dir string, applyOne func(context.Context, Migration) (bool, error)) (int, error) {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return 0, err
	}
	migs, err := Load(sub)
	if err != nil {
		return 0, err
	}
	applied := 0
	for _, m := range migs {
		done, err := applyOne(ctx, m)
		if err != nil {
			return applied, err
		}
		if done {
			applied++
		}
	}
	return applied, nil
}
