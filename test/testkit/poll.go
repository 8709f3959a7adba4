package testkit

import (
	"testing"
	"time"
)

// pollEvery is how often Eventually tries its condition: often enough
// that in-process conditions are seen at once, rarely enough that a
// condition that runs a program or an HTTP request costs little.
const pollEvery = 10 * time.Millisecond

// Eventually polls cond until it holds, and fails the test when it has not
// within the given time (a bound for a loaded machine, not a speed target).
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(pollEvery)
	}
}
