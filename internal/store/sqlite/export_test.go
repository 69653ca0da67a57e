package sqlite

import "time"

// OpenEvery is Open with another checkpoint interval.
func OpenEvery(path string, every time.Duration) (*Store, error) { return open(path, every) }
