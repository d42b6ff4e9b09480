package rescp

// The hot path: Allow before a call, Record after it; Guard does both around a function.
//
// Budget: an Allow never takes longer than the allow timeout in all: first it waits for this
// client's own earlier background Records of the same breaker, then the RPC gets whatever is
// left as its deadline and fails fast when no connection is up. When the budget runs out or
// rescp cannot be reached, OnUnavailable decides: Allow lets the call through unchecked
// (Decision.Checked false), Deny returns *UnavailableError. Only transport failures count: the
// server's own answers (an unknown limit, a bad name) are returned as the typed errors they are.
// A call let through unchecked sends no Record (rescp never saw it); its failure still goes to
// the outbox as a report, and so does the report of a Record that could not be delivered, so
// nothing reported is lost while rescp is down (its idempotency key makes a duplicate harmless).

import (
	"context"
	"errors"
	"math"
	"time"

	pb "github.com/rescp/rescp/clients/go/rescpv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
)

var outcomes = map[Outcome]pb.Outcome{
	Success: pb.Outcome_OUTCOME_SUCCESS, Failure: pb.Outcome_OUTCOME_FAILURE,
	Ignored: pb.Outcome_OUTCOME_IGNORED,
}

// Allow asks rescp whether a call may run. A refusal is a Decision with Allowed false, not an
// error; errors are the server's own (typed) or, with Deny, *UnavailableError.
func (c *Client) Allow(ctx context.Context, call Call) (Decision, error) {
	request, err := allowRequest(call)
	if err != nil {
		return Decision{}, err
	}
	budget, cancel := context.WithTimeout(ctx, c.s.allowTimeout)
	defer cancel()
	if call.Breaker != "" {
		if err := c.lanes.settle(budget, call.Breaker); err != nil {
			return c.unavailable(ctx, unavailable(codes.DeadlineExceeded,
				"allow timeout spent waiting for earlier records of "+call.Breaker))
		}
	}
	response, err := c.guard.Allow(budget, request)
	if err != nil {
		var down *UnavailableError
		if errors.As(err, &down) {
			return c.unavailable(ctx, down)
		}
		return Decision{}, err
	}
	return decision(response), nil
}

// unavailable applies OnUnavailable, unless the caller's own ctx ended (its error wins).
func (c *Client) unavailable(ctx context.Context, down *UnavailableError) (Decision, error) {
	if ctx.Err() != nil {
		return Decision{}, ctx.Err()
	}
	if c.s.onUnavailable == Deny {
		return Decision{}, down
	}
	return Decision{Allowed: true, Verdict: VerdictAllowed, Remaining: -1}, nil
}

func allowRequest(call Call) (*pb.AllowRequest, error) {
	if call.Cost < 0 || call.Cost > math.MaxUint32 {
		return nil, invalidArgument("cost", "must be between 0 and 4294967295")
	}
	request := &pb.AllowRequest{Breaker: call.Breaker, Limit: call.Limit, Key: call.Key,
		Cost: uint32(call.Cost)}
	if err := overLimit(request); err != nil {
		return nil, err
	}
	return request, nil
}

// Record tells the breaker how a call it admitted went, with the Decision's Permit, and
// returns once rescp has it. callErr, when not nil, is reported in the same round trip. It comes
// after this client's own background Records of the breaker.
func (c *Client) Record(ctx context.Context, breaker, permit string, outcome Outcome,
	elapsed time.Duration, callErr error) error {
	request, err := c.recordRequest(breaker, permit, outcome, elapsed, callErr, ReportOptions{})
	if err != nil {
		return err
	}
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	if err := c.lanes.settle(ctx, breaker); err != nil {
		return unavailable(codes.DeadlineExceeded, "timed out waiting for earlier records")
	}
	_, err = c.guard.Record(ctx, request)
	return err
}

func (c *Client) recordRequest(breaker, permit string, outcome Outcome, elapsed time.Duration,
	callErr error, options ReportOptions) (*pb.RecordRequest, error) {
	value, ok := outcomes[outcome]
	if !ok {
		return nil, invalidArgument("outcome", "must be Success, Failure or Ignored")
	}
	if elapsed < 0 {
		return nil, invalidArgument("duration", "must not be negative")
	}
	request := &pb.RecordRequest{Breaker: breaker, Outcome: value, Permit: permit,
		Duration: durationpb.New(elapsed)}
	if callErr != nil {
		options.Breaker = breaker
		request.Error = c.reportRequest(callErr, options)
	}
	return request, nil
}

// Guard runs fn if rescp admits the call: Allow before, Record (with a report of fn's error)
// after, in the background. fn's own error comes back unchanged; a refusal is
// *BreakerOpenError or *RateLimitedError and fn does not run; with Deny, an unreachable rescp is
// *UnavailableError. A context.Canceled from fn is recorded as Ignored: it says nothing about
// the upstream's health.
func (c *Client) Guard(ctx context.Context, call Call, fn func(context.Context) error) error {
	d, err := c.Allow(ctx, call)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return refusal(call, d)
	}
	started := time.Now()
	callErr := fn(ctx)
	c.finish(call, d, time.Since(started), callErr)
	return callErr
}

func refusal(call Call, d Decision) error {
	if d.Verdict == VerdictRateLimited {
		return &RateLimitedError{Limit: call.Limit, Key: call.Key, RetryAfter: d.RetryAfter}
	}
	return &BreakerOpenError{Breaker: call.Breaker, State: d.BreakerState, RetryAfter: d.RetryAfter}
}

// finish sends what follows a guarded call, in the background; it never blocks.
func (c *Client) finish(call Call, d Decision, took time.Duration, callErr error) {
	outcome := Success
	if errors.Is(callErr, context.Canceled) {
		outcome = Ignored
	} else if callErr != nil {
		outcome = Failure
	}
	options := ReportOptions{Operation: call.Operation, UserID: call.UserID, Breaker: call.Breaker}
	if options.Operation == "" {
		options.Operation = call.Breaker
	}
	switch {
	case !d.Checked || call.Breaker == "":
		if outcome == Failure {
			c.outbox.add(c.reportRequest(callErr, options))
		}
	default:
		var report error
		if outcome == Failure {
			report = callErr
		}
		request, _ := c.recordRequest(call.Breaker, d.Permit, outcome, took, report, options)
		c.lanes.start(call.Breaker, func() error {
			ctx, cancel := c.bounded(c.life)
			defer cancel()
			_, err := c.guard.Record(ctx, request)
			var down *UnavailableError
			if request.GetError() != nil && errors.As(err, &down) {
				c.outbox.add(request.GetError()) // the outcome is lost, its report is not
			}
			return err
		})
	}
}
