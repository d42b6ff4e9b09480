package rescp

// Watch: the event log as an endless iter.Seq2 that rides out broken streams without gaps.
//
//   - Position: a watch keeps the sequence of the last event it yielded, and every
//     (re)subscription asks for the events after it. Started without AfterSequence it first
//     reads the current sequence (GetSystemHealth) when iteration begins: that is its "now".
//   - Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, RESOURCE_EXHAUSTED: this
//     reader fell too far behind) are retried after an exponential backoff with jitter, reset by
//     each successful subscription. A stream the server ends with OK counts as UNAVAILABLE.
//   - OUT_OF_RANGE (the server no longer retains the events after the position, or restarted
//     with a younger log), or a subscription whose `rescp-log-id` header names a different log
//     than the position counts in: the state is read afresh and yielded as a Snapshot event, and
//     the watch goes on after the smallest sequence of those reads, so an event may repeat what
//     the snapshot shows, but none is lost.
//   - Anything else is yielded once as its typed error, and the iteration ends; so does ctx
//     ending, Close, or the loop body breaking out (the stream is cancelled at once).

import (
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"time"

	pb "github.com/rescp/rescp/clients/go/rescpv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// logIDHeader is the Watch's initial metadata naming the log its sequences count in.
const logIDHeader = "rescp-log-id"

// WatchOptions select what a watch yields and where it starts.
type WatchOptions struct {
	Types         []EventType // empty: every type
	MinSeverity   Severity    // notifications only; "": all
	AfterSequence *uint64     // begin with the retained events after it; nil: from now on
}

type watcher struct {
	c       *Client
	request *pb.WatchRequest
	at      *uint64
	logID   string
	stale   bool
	backoff time.Duration
}

// Watch yields events as they happen, for ever (see the top of watch.go for how it resumes).
// Bad options are yielded as *InvalidArgumentError at once.
func (c *Client) Watch(ctx context.Context, options WatchOptions) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		request, err := watchRequest(options)
		if err != nil {
			yield(Event{}, err)
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(c.life, cancel)
		defer stop()
		w := &watcher{c: c, request: request, at: options.AfterSequence}
		w.run(ctx, yield)
	}
}

func (w *watcher) run(ctx context.Context, yield func(Event, error) bool) {
	for {
		more, err := w.subscribe(ctx, yield)
		if !more || ctx.Err() != nil {
			return
		}
		var st *StatusError
		if !errors.As(err, &st) || !retried(st.Code) {
			yield(Event{}, err)
			return
		}
		w.stale = w.stale || st.Code == codes.OutOfRange
		if !w.pause(ctx) {
			return
		}
	}
}

func retried(code codes.Code) bool {
	return transport(code) || code == codes.ResourceExhausted || code == codes.OutOfRange
}

// subscribe follows one stream: false when the consumer stopped; else why the stream ended.
func (w *watcher) subscribe(ctx context.Context, yield func(Event, error) bool) (bool, error) {
	if w.stale {
		snapshot, err := w.snapshot(ctx)
		if err != nil {
			return true, err
		}
		if !yield(snapshot, nil) {
			return false, nil
		}
	}
	if w.at == nil {
		health, err := w.c.admin.GetSystemHealth(ctx, &pb.GetSystemHealthRequest{})
		if err != nil {
			return true, err
		}
		w.at, w.logID = ptr(health.GetSequence()), health.GetLogId()
	}
	w.request.AfterSequence = ptr(*w.at)
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := w.c.events.Watch(streamCtx, w.request)
	if err != nil {
		return true, err
	}
	if err := w.subscribed(stream); err != nil {
		return true, err
	}
	for {
		response, err := stream.Recv()
		if err != nil {
			return true, endOf(err)
		}
		for _, message := range response.GetEvents() {
			w.at = ptr(message.GetSequence())
			if event, known := eventOf(message); known && !yield(event, nil) {
				return false, nil
			}
		}
	}
}

// subscribed waits for the stream's headers and checks it follows the position's log.
func (w *watcher) subscribed(stream grpc.ServerStreamingClient[pb.WatchResponse]) error {
	header, err := stream.Header()
	if err != nil {
		return typed(err)
	}
	served := header.Get(logIDHeader)
	if len(served) == 0 {
		return nil // ended before it began: Recv says why
	}
	if w.logID != "" && served[0] != w.logID {
		return &StatusError{Code: codes.OutOfRange,
			Message: "the server keeps a different event log now (it restarted)"}
	}
	w.logID = served[0]
	w.backoff = 0
	return nil
}

func endOf(err error) error {
	var st *StatusError
	if errors.As(err, &st) {
		return err
	}
	return unavailable(codes.Unavailable, "the stream ended")
}

// snapshot reads the state afresh; the watch goes on after the smallest sequence read.
func (w *watcher) snapshot(ctx context.Context) (Event, error) {
	breakers, err := w.c.admin.ListBreakers(ctx, &pb.ListBreakersRequest{})
	if err != nil {
		return Event{}, err
	}
	health, err := w.c.admin.GetSystemHealth(ctx, &pb.GetSystemHealthRequest{})
	if err != nil {
		return Event{}, err
	}
	degradation, err := w.c.admin.GetDegradation(ctx, &pb.GetDegradationRequest{})
	if err != nil {
		return Event{}, err
	}
	sequence := min(breakers.GetSequence(), health.GetSequence(), degradation.GetSequence())
	w.at, w.logID, w.stale = ptr(sequence), breakers.GetLogId(), false
	return Event{Type: SnapshotEvent, Sequence: sequence, Snapshot: &Snapshot{
		Breakers: breakers.GetBreakers(), Health: health, Degradation: degradation}}, nil
}

// pause sleeps the next backoff (0.5 s doubling to 10 s, with jitter); false when ctx ended.
func (w *watcher) pause(ctx context.Context) bool {
	w.backoff = min(max(2*w.backoff, 500*time.Millisecond), 10*time.Second)
	delay := w.backoff/2 + rand.N(w.backoff/2+1)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func ptr(v uint64) *uint64 { return &v }
