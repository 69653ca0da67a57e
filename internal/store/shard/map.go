package shard

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Map is one version of the shard map: which physical shard serves each logical shard. It is
// stored (as JSON) in every database of the set; the highest version anywhere is current.
// A version, once written, never changes: a change writes version+1.
type Map struct {
	Version       int64      `json:"version"`
	LogicalShards int        `json:"logical_shards"`
	Shards        []MapShard `json:"shards"`
	// Assign[i] is the index in Shards of logical shard i's physical shard.
	Assign []int `json:"assign"`
}

// MapShard is a physical shard as the map records it. DSN is the DSN as configured, with
// ${VAR} references unexpanded (never a password): replicas that do not have the shard in
// their file (it was added later) connect with it, expanding the variables from their own
// environment.
type MapShard struct {
	Name string `json:"name"`
	DSN  string `json:"dsn"`
}

// RoundRobin is the initial map over shards: logical shard i goes to shards[i mod len(shards)].
func RoundRobin(moving int, shards []MapShard) *Map {
	m := &Map{Version: 1, LogicalShards: moving, Shards: slices.Clone(shards), Assign: make([]int, moving)}
	for logical := range m.Assign {
		m.Assign[logical] = logical % len(shards)
	}
	return m
}

// Owner returns the name of the physical shard that serves logical shard logical.
func (m *Map) Owner(logical int) string { return m.Shards[m.Assign[logical]].Name }

// Index returns the position of the physical shard name, or -1.
func (m *Map) Index(name string) int {
	return slices.IndexFunc(m.Shards, func(s MapShard) bool { return s.Name == name })
}

// Held returns the logical shards each physical shard serves, by name.
func (m *Map) Held() map[string][]int {
	out := make(map[string][]int, len(m.Shards))
	for _, s := range m.Shards {
		out[s.Name] = nil
	}
	for logical, i := range m.Assign {
		out[m.Shards[i].Name] = append(out[m.Shards[i].Name], logical)
	}
	return out
}

// next returns a copy of m as the following version.
func (m *Map) next() *Map {
	return &Map{Version: m.Version + 1, LogicalShards: m.LogicalShards, Shards: slices.Clone(m.Shards), Assign: slices.Clone(m.Assign)}
}

func (m *Map) encode() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // a Map always encodes
	}
	return b
}

func decodeMap(version int64, body []byte) (*Map, error) {
	var m Map
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("shard map version %d: %w", version, err)
	}
	m.Version = version
	if m.LogicalShards < 1 || len(m.Assign) != m.LogicalShards || len(m.Shards) == 0 {
		return nil, fmt.Errorf("shard map version %d is malformed", version)
	}
	for _, i := range m.Assign {
		if i < 0 || i >= len(m.Shards) {
			return nil, fmt.Errorf("shard map version %d assigns a logical shard to no physical shard", version)
		}
	}
	return &m, nil
}

// Move is one planned logical shard move.
type Move struct {
	Logical  int
	From, To string
}

// Plan returns the moves that give every physical shard an even share of the logical shards
// (the counts differ by at most one), moving as few as possible.
func Plan(m *Map) []Move {
	n, p := m.LogicalShards, len(m.Shards)
	held := make([][]int, p)
	for logical, i := range m.Assign {
		held[i] = append(held[i], logical)
	}
	// The shards holding the most keep the extra ones: fewer moves.
	order := make([]int, p)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(held[b]) - len(held[a]) })
	want := make([]int, p)
	for rank, i := range order {
		want[i] = n / p
		if rank < n%p {
			want[i]++
		}
	}
	var spare []Move
	for i := range held {
		for len(held[i]) > want[i] {
			logical := held[i][len(held[i])-1]
			held[i] = held[i][:len(held[i])-1]
			spare = append(spare, Move{Logical: logical, From: m.Shards[i].Name})
		}
	}
	var out []Move
	for i := range held {
		for c := len(held[i]); c < want[i]; c++ {
			mv := spare[0]
			spare = spare[1:]
			mv.To = m.Shards[i].Name
			out = append(out, mv)
		}
	}
	slices.SortFunc(out, func(a, b Move) int { return a.Logical - b.Logical })
	return out
}
