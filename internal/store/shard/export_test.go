package shard

// StaleLease makes an Admin skip its lease checks, as a mover that lost the lease without
// knowing it yet: only the fencing in the databases stops it.
func StaleLease(o AdminOptions) AdminOptions {
	o.staleLease = true
	return o
}
