package rescp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rescp/rescp/clients/go"
)

var errUpstream = errors.New("upstream failed")

func trip(t *testing.T, c *rescp.Client, breaker string) {
	t.Helper()
	putBreaker(t, c, breaker, 1)
	if err := c.Guard(within(t, 5*time.Second), rescp.Call{Breaker: breaker},
		func(context.Context) error { return errUpstream }); !errors.Is(err, errUpstream) {
		t.Fatalf("guard: %v", err)
	}
}

// next is the next event of a type, or a failure after 30 s (a restarted server takes a few
// seconds to come up on a loaded machine, and the watch backs off meanwhile).
func next(t *testing.T, events <-chan rescp.Event, kind rescp.EventType) rescp.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case event := <-events:
			if event.Type == kind {
				return event
			}
		case <-timeout:
			t.Fatalf("no %s event within 30 s", kind)
		}
	}
}

// A server restarted on the same port keeps a new log: the watch re-reads the state (a
// Snapshot), then carries on with the new server's events.
func TestWatchRidesOutARestart(t *testing.T) {
	first := startServer(t)
	c := dial(t, first.target, rescp.WithAllowTimeout(2*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan rescp.Event, 100)
	failed := make(chan error, 1)
	go func() {
		for event, err := range c.Watch(ctx, rescp.WatchOptions{}) {
			if err != nil {
				failed <- err
				return
			}
			events <- event
		}
	}()
	time.Sleep(300 * time.Millisecond) // the watch has fixed its "now" (nothing else happens)
	trip(t, c, "before")
	if got := next(t, events, rescp.BreakerTransitionEvent); got.Transition.Breaker != "before" ||
		got.Transition.From != rescp.StateClosed || got.Transition.To != rescp.StateOpen {
		t.Fatalf("got %+v", got.Transition)
	}
	first.stop()
	startServerAt(t, first.target)
	snapshot := next(t, events, rescp.SnapshotEvent)
	if snapshot.Snapshot == nil || len(snapshot.Snapshot.Breakers) != 0 {
		t.Fatalf("snapshot of the new server: %+v", snapshot.Snapshot)
	}
	trip(t, c, "after")
	if got := next(t, events, rescp.BreakerTransitionEvent); got.Transition.Breaker != "after" {
		t.Fatalf("got %+v", got.Transition)
	}
	select {
	case err := <-failed:
		t.Fatalf("the watch ended: %v", err)
	default:
	}
}

func TestWatchRefusesUnknownTypes(t *testing.T) {
	c := dial(t, nothing(t))
	for _, err := range c.Watch(context.Background(), rescp.WatchOptions{Types: []rescp.EventType{"nope"}}) {
		var invalid *rescp.InvalidArgumentError
		if !errors.As(err, &invalid) {
			t.Fatalf("got %T %v", err, err)
		}
		return
	}
	t.Fatal("the watch yielded nothing")
}
