// Package peers holds the benchmarks that compare the guard's memory store with other Go
// rate limiters on the same key distribution. It has no code of its own.
package peers
