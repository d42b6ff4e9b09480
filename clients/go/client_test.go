package rescp_test

// What the scenario suite does not show: typed errors, the client's own invalid arguments,
// fail-open and deny against nothing listening, the outbox delivering late, a watch riding out
// a server restart, and how Go errors are described. Every test talks to a real rescp serve.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rescp/rescp/clients/go"
	pb "github.com/rescp/rescp/clients/go/rescpv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func dial(t *testing.T, target string, options ...rescp.Option) *rescp.Client {
	t.Helper()
	c, err := rescp.Dial(target, options...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func putBreaker(t *testing.T, c *rescp.Client, name string, threshold uint32) {
	t.Helper()
	_, err := c.Admin().PutBreaker(within(t, 5*time.Second), &pb.PutBreakerRequest{Name: name,
		Config: &pb.BreakerConfig{FailureThreshold: threshold, RecoveryTimeout: durationpb.New(30 * time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestServerErrorsAreTyped(t *testing.T) {
	c := dial(t, startServer(t).target, rescp.WithAllowTimeout(2*time.Second))
	ctx := within(t, 10*time.Second)
	_, err := c.Admin().GetBreaker(ctx, &pb.GetBreakerRequest{Name: "nope"})
	var missing *rescp.NotFoundError
	var base *rescp.StatusError
	if !errors.As(err, &missing) || !errors.As(err, &base) {
		t.Fatalf("got %T %v", err, err)
	}
	if base.Code != codes.NotFound || base.Reason != "BREAKER_NOT_FOUND" || missing.ResourceName != "nope" ||
		status.Code(err) != codes.NotFound {
		t.Fatalf("got %+v %+v", base, missing)
	}
	_, err = c.Admin().PutLimit(ctx, &pb.PutLimitRequest{Limit: &pb.Limit{Name: "bad name!"}})
	var invalid *rescp.InvalidArgumentError
	if !errors.As(err, &invalid) || invalid.Reason != "INVALID_FIELD" || len(invalid.FieldViolations) == 0 {
		t.Fatalf("got %T %v", err, err)
	}
	// the server's own answer on the hot path is an error, never a fail-open
	ran := false
	err = c.Guard(ctx, rescp.Call{Limit: "unknown", Key: "k"}, func(context.Context) error { ran = true; return nil })
	if !errors.As(err, &missing) || ran {
		t.Fatalf("got %T %v, ran %t", err, err, ran)
	}
}

// nothing is a target where nothing listens.
func nothing(t *testing.T) string {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	return listener.Addr().String()
}

func TestBadValuesAreRefusedBeforeSending(t *testing.T) {
	c := dial(t, nothing(t)) // fail-open would let anything through: these must not be
	ctx := within(t, 5*time.Second)
	for _, call := range []rescp.Call{{Limit: "l", Cost: -1}, {Limit: "l", Cost: 1 << 40},
		{Limit: "l", Key: strings.Repeat("k", 257)}} {
		ran := false
		err := c.Guard(ctx, call, func(context.Context) error { ran = true; return nil })
		var invalid *rescp.InvalidArgumentError
		if !errors.As(err, &invalid) || ran || invalid.Code != codes.InvalidArgument {
			t.Errorf("%+v: got %T %v, ran %t", call, err, err, ran)
		}
	}
	if err := c.Record(ctx, "b", "", rescp.Outcome(9), 0, nil); err == nil {
		t.Error("an unknown outcome was sent")
	}
}

func TestNothingListening(t *testing.T) {
	target := nothing(t)
	open := dial(t, target, rescp.WithAllowTimeout(100*time.Millisecond))
	closed := dial(t, target, rescp.WithAllowTimeout(100*time.Millisecond), rescp.WithOnUnavailable(rescp.Deny))
	ctx := within(t, 5*time.Second)
	started := time.Now()
	d, err := open.Allow(ctx, rescp.Call{Breaker: "b"})
	if err != nil || !d.Allowed || d.Checked {
		t.Fatalf("allow mode: %+v %v", d, err)
	}
	_, err = closed.Allow(ctx, rescp.Call{Breaker: "b"})
	var down *rescp.UnavailableError
	if !errors.As(err, &down) || !(down.Code == codes.Unavailable || down.Code == codes.DeadlineExceeded) {
		t.Fatalf("deny mode: %T %v", err, err)
	}
	if took := time.Since(started); took > time.Second {
		t.Fatalf("took %s", took)
	}
}

func TestOutboxDeliversWhenRescpIsBack(t *testing.T) {
	target := nothing(t)
	c := dial(t, target, rescp.WithOutboxSize(2), rescp.WithAllowTimeout(100*time.Millisecond))
	ctx := within(t, 30*time.Second)
	made := time.Now()
	for i := range 2 {
		_, err := c.Report(ctx, fmt.Errorf("report %d", i), rescp.ReportOptions{Operation: "op"})
		var down *rescp.UnavailableError
		if !errors.As(err, &down) {
			t.Fatalf("report %d: %T %v", i, err, err)
		}
	}
	failure := errors.New("report 2 (a guarded call that failed while rescp was down)")
	if err := c.Guard(ctx, rescp.Call{Breaker: "b"}, func(context.Context) error { return failure }); err != failure { //nolint:errorlint
		t.Fatalf("guard: %v", err)
	}
	if got := c.DroppedReports(); got != 1 {
		t.Fatalf("dropped %d, want 1 (the oldest)", got)
	}
	time.Sleep(300 * time.Millisecond)
	starting := time.Now() // records stamped by the server would be later than this
	srv := startServerAt(t, target)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	summary, err := c.Admin().GetErrorSummary(ctx, &pb.GetErrorSummaryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var messages []string
	for _, record := range summary.GetRecentErrors() {
		messages = append(messages, record.GetMessage())
		if at := record.GetTime().AsTime(); at.Before(made) || at.After(starting) {
			t.Errorf("%q kept no original time: %s (made %s)", record.GetMessage(), record.GetTime().AsTime(), made)
		}
	}
	if summary.GetTotalErrors() != 2 || strings.Contains(strings.Join(messages, "|"), "report 0") {
		t.Fatalf("on %s: total %d, messages %q", srv.target, summary.GetTotalErrors(), messages)
	}
}

// A failure whose Record could not be delivered (rescp hung after the Allow) is still reported,
// once: the outbox sends its report when rescp is back, and should the late Record land too,
// the idempotency key makes them one record.
func TestReportOfALostRecordIsKept(t *testing.T) {
	srv := startServer(t)
	c := dial(t, srv.target, rescp.WithAllowTimeout(2*time.Second), rescp.WithTimeout(300*time.Millisecond))
	putBreaker(t, c, "hung", 5)
	failure := errors.New("upstream failed while rescp hung")
	err := c.Guard(within(t, 5*time.Second), rescp.Call{Breaker: "hung"}, func(context.Context) error {
		srv.signal(syscall.SIGSTOP)
		return failure
	})
	if err != failure { //nolint:errorlint // the very value
		t.Fatalf("guard: %v", err)
	}
	time.Sleep(600 * time.Millisecond) // the Record's 300 ms deadline passes
	srv.signal(syscall.SIGCONT)
	ctx := within(t, 20*time.Second)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a late Record, if the server still runs it
	summary, err := c.Admin().GetErrorSummary(ctx, &pb.GetErrorSummaryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if summary.GetTotalErrors() != 1 || summary.GetRecentErrors()[0].GetMessage() != failure.Error() {
		t.Fatalf("total %d: %v", summary.GetTotalErrors(), summary.GetRecentErrors())
	}
}

// An Admin() call on a hung rescp ends with the client's timeout, typed, though ctx has none.
func TestAdminCallsAreBounded(t *testing.T) {
	srv := startServer(t)
	c := dial(t, srv.target, rescp.WithTimeout(300*time.Millisecond))
	putBreaker(t, c, "b", 1) // connected
	srv.signal(syscall.SIGSTOP)
	defer srv.signal(syscall.SIGCONT)
	started := time.Now()
	_, err := c.Admin().ListBreakers(context.Background(), &pb.ListBreakersRequest{})
	var down *rescp.UnavailableError
	if !errors.As(err, &down) || down.Code != codes.DeadlineExceeded || time.Since(started) > 2*time.Second {
		t.Fatalf("after %s: %T %v", time.Since(started), err, err)
	}
}
