package rescp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rescp/rescp/clients/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestErrorType(t *testing.T) {
	opError := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for err, want := range map[error]string{
		fmt.Errorf("fetching: %w", opError):                           "OpError",
		errors.New("plain"):                                           "error",
		namedError{"ValueError", "bad"}:                               "ValueError",
		fmt.Errorf("wrapped: %w", namedError{"TimeoutError", "slow"}): "TimeoutError",
	} {
		if got := rescp.ErrorType(err); got != want {
			t.Errorf("ErrorType(%v) = %q, want %q", err, got, want)
		}
	}
}

// How Go errors are described decides how rescp classifies them: the type, the gRPC code of a
// failed gRPC call, an HTTP status.
func TestReportDescribesGoErrors(t *testing.T) {
	c := dial(t, startServer(t).target)
	ctx := within(t, 10*time.Second)
	_, refused := net.Dial("tcp", nothing(t)) // "dial tcp ...: connect: connection refused"
	cases := []struct {
		err  error
		want rescp.Category
	}{
		{fmt.Errorf("quote: %w", status.Error(codes.Unavailable, "upstream gone")), rescp.CategoryNetwork},
		{fmt.Errorf("fetching quotes: %w", refused), rescp.CategoryNetwork},
		{httpError{429}, rescp.CategoryRateLimit},
		{namedError{"ValueError", "amount must be positive"}, rescp.CategoryValidation},
	}
	for _, tc := range cases {
		record, err := c.Report(ctx, tc.err, rescp.ReportOptions{Operation: "op"})
		if err != nil {
			t.Fatal(err)
		}
		if record.Category != tc.want || record.ErrorID == "" {
			t.Errorf("%v: %+v", tc.err, record)
		}
	}
}

type httpError struct{ code int }

func (e httpError) Error() string   { return fmt.Sprintf("the upstream answered %d", e.code) }
func (e httpError) HTTPStatus() int { return e.code }

// A report too long for the wire is cut to the declared limits, never refused.
func TestLongReportsAreCutNotLost(t *testing.T) {
	c := dial(t, startServer(t).target)
	context := map[string]string{}
	for i := range 100 {
		context[fmt.Sprintf("key%03d", i)] = strings.Repeat("v", 500)
	}
	message := strings.Repeat("é", 10_000) + "\xff"
	record, err := c.Report(within(t, 10*time.Second), errors.New(message),
		rescp.ReportOptions{Operation: strings.Repeat("o", 1000), Context: context})
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(record.Message); n != 4096 || len(record.Context) == 0 || len(record.Context) > 64 {
		t.Fatalf("message %d chars, %d context entries", n, len(record.Context))
	}
}

// The client's own order, many times over: two failures always open a threshold-2 breaker
// before the third call is let in, though the Records go out in the background.
func TestAllowNeverOvertakesOwnRecord(t *testing.T) {
	c := dial(t, startServer(t).target, rescp.WithAllowTimeout(2*time.Second))
	ctx := within(t, 30*time.Second)
	for i := range 20 {
		name := fmt.Sprintf("order%d", i)
		putBreaker(t, c, name, 2)
		for range 2 {
			_ = c.Guard(ctx, rescp.Call{Breaker: name}, func(context.Context) error { return errUpstream })
		}
		var open *rescp.BreakerOpenError
		if err := c.Guard(ctx, rescp.Call{Breaker: name}, func(context.Context) error { return nil }); !errors.As(err, &open) {
			t.Fatalf("%s: the third call got %v", name, err)
		}
	}
}
