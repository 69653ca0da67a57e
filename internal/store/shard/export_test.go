package shard

import "context"

// StaleLease makes an Admin skip its lease checks, as a mover that lost the lease without
// knowing it yet: only the fencing in the databases stops it.
func StaleLease(o AdminOptions) AdminOptions {
	o.staleLease = true
	return o
}

// DuringLease takes a's move lease and runs f as a move's verification runs: with the lease
// renewed while f runs.
func DuringLease(ctx context.Context, a *Admin, f func(context.Context) error) error {
	lease, _, err := a.acquire(ctx)
	if err != nil {
		return err
	}
	defer lease.release()
	return lease.during(ctx, f)
}
