// Package shardkey maps a username to its logical shard. The function is part of the stored
// data's format: every row records the logical shard computed here, and session tokens carry
// the username that is hashed again at every request. It may never change.
package shardkey

// DefaultLogicalShards is the number of logical shards of a single PostgreSQL database (and
// the recommended logical_shards of a shards file), so one database can later be split into
// shards without rewriting a row.
const DefaultLogicalShards = 1024

// Hash is the stable 64-bit hash of a normalised username: FNV-1a (64-bit) over its UTF-8
// bytes, followed by the MurmurHash3 64-bit finaliser (fmix64) so that every bit of the
// result depends on every input byte:
//
//	h = 0xcbf29ce484222325
//	for each byte b: h = (h XOR b) * 0x100000001b3
//	h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33
//
// It never allocates.
func Hash(username string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(username); i++ {
		h ^= uint64(username[i])
		h *= 0x100000001b3
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Logical returns the logical shard of a normalised username: Hash(username) mod n.
func Logical(username string, n int) int {
	return int(Hash(username) % uint64(n))
}
