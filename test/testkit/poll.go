package testkit

import (
	"context"
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

// Background runs run in a goroutine until the test ends, then cancels its
// context and waits (at most 5 s) for it to return: a server or simulator
// that lives as long as the test. An error it returns fails the test.
func Background(t testing.TB, what string, run func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s did not return within 5s of cancel", what)
		}
	})
}
