//go:build race

package hostile_test

// raceEnabled: the race detector multiplies memory use (shadow memory for
// every goroutine and allocation), so memory bounds are scaled.
const raceEnabled = true
