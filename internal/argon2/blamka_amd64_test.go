//go:build amd64 && gc && !purego

package argon2

import "testing"

// TestVectorsWithoutSSE4 runs the vectors through the fallback a CPU without SSE4.1 takes.
func TestVectorsWithoutSSE4(t *testing.T) {
	defer func(sse4 bool) { useSSE4 = sse4 }(useSSE4)
	useSSE4 = false
	checkVectors(t)
}
