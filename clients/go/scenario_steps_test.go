package rescp_test

// The steps of the scenario runner that configure, ask and watch (scenarios_test.go plays
// them): each decodes what its op takes, strictly, and checks what the client gives back.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rescp/rescp/clients/go"
	pb "github.com/rescp/rescp/clients/go/rescpv1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// step is the union of every op's keys; play has already checked which ones the op takes.
type step struct {
	Op                string          `json:"op"`
	Name              string          `json:"name"`
	Config            json.RawMessage `json:"config"`
	Algorithm         string          `json:"algorithm"`
	MaxRequests       uint64          `json:"max_requests"`
	WindowS           float64         `json:"window_s"`
	Breakers          []string        `json:"breakers"`
	DegradedMessage   string          `json:"degraded_message"`
	FallbackAvailable bool            `json:"fallback_available"`
	State             string          `json:"state"`
	Call              callSpec        `json:"call"`
	Body              string          `json:"body"`
	Expect            json.RawMessage `json:"expect"`
	Breaker           string          `json:"breaker"`
	Outcome           string          `json:"outcome"`
	Error             errorSpec       `json:"error"`
	Options           reportOptions   `json:"options"`
	Types             []string        `json:"types"`
	WithinMs          int             `json:"within_ms"`
	Event             transitionEvent `json:"event"`
	Action            string          `json:"action"`
	Ms                int             `json:"ms"`
}

type callSpec struct {
	Breaker string `json:"breaker"`
	Limit   string `json:"limit"`
	Key     string `json:"key"`
	Cost    int    `json:"cost"`
}

func (c callSpec) call() rescp.Call {
	return rescp.Call{Breaker: c.Breaker, Limit: c.Limit, Key: c.Key, Cost: c.Cost}
}

type retryAfter struct {
	Min *float64 `json:"retry_after_min_s"`
	Max *float64 `json:"retry_after_max_s"`
}

type guardExpect struct {
	Result string `json:"result"`
	MaxMs  *int   `json:"max_ms"`
	retryAfter
}

type allowExpect struct {
	Allowed      bool    `json:"allowed"`
	Verdict      *string `json:"verdict"`
	BreakerState *string `json:"breaker_state"`
	Remaining    *int64  `json:"remaining"`
	retryAfter
}

type errorSpec struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type reportOptions struct {
	Operation string `json:"operation"`
	UserID    string `json:"user_id"`
}

type reportExpect struct {
	Category        string   `json:"category"`
	Severity        string   `json:"severity"`
	MessageContains []string `json:"message_contains"`
	MessageExcludes []string `json:"message_excludes"`
}

type transitionEvent struct {
	Type    string `json:"type"`
	Breaker string `json:"breaker"`
	From    string `json:"from"`
	To      string `json:"to"`
}

type breakerConfig struct {
	FailureThreshold      uint32   `json:"failure_threshold"`
	FailureRateThreshold  float64  `json:"failure_rate_threshold"`
	SlowCallRateThreshold float64  `json:"slow_call_rate_threshold"`
	SlowCallDurationS     *float64 `json:"slow_call_duration_s"`
	WindowType            string   `json:"window_type"`
	WindowSize            uint32   `json:"window_size"`
	MinimumCalls          uint32   `json:"minimum_calls"`
	RecoveryTimeoutS      *float64 `json:"recovery_timeout_s"`
	HalfOpenPermits       uint32   `json:"half_open_permits"`
}

func enum(values map[string]int32, prefix, word string) (int32, error) {
	return lookup(values, "enum value", prefix+strings.ToUpper(word))
}

func duration(seconds *float64) *durationpb.Duration {
	if seconds == nil {
		return nil
	}
	return durationpb.New(time.Duration(*seconds * float64(time.Second)))
}

func (p *player) putBreaker(s step) error {
	var b breakerConfig
	if err := strict(s.Config, &b); err != nil {
		return err
	}
	config := &pb.BreakerConfig{FailureThreshold: b.FailureThreshold,
		FailureRateThreshold: b.FailureRateThreshold, SlowCallRateThreshold: b.SlowCallRateThreshold,
		SlowCallDuration: duration(b.SlowCallDurationS), WindowSize: b.WindowSize,
		MinimumCalls: b.MinimumCalls, RecoveryTimeout: duration(b.RecoveryTimeoutS),
		HalfOpenPermits: b.HalfOpenPermits}
	if b.WindowType != "" {
		value, err := enum(pb.WindowType_value, "WINDOW_TYPE_", b.WindowType)
		if err != nil {
			return err
		}
		config.WindowType = pb.WindowType(value)
	}
	_, err := p.c.Admin().PutBreaker(p.ctx, &pb.PutBreakerRequest{Name: s.Name, Config: config})
	return err
}

func (p *player) putLimit(s step) error {
	algorithm, err := enum(pb.Algorithm_value, "ALGORITHM_", s.Algorithm)
	if err != nil {
		return err
	}
	window := s.WindowS
	_, err = p.c.Admin().PutLimit(p.ctx, &pb.PutLimitRequest{Limit: &pb.Limit{Name: s.Name,
		Algorithm: pb.Algorithm(algorithm), MaxRequests: s.MaxRequests, Window: duration(&window)}})
	return err
}

func (p *player) putFeature(s step) error {
	_, err := p.c.Admin().PutFeature(p.ctx, &pb.PutFeatureRequest{Feature: &pb.Feature{
		Name: s.Name, Breakers: s.Breakers, DegradedMessage: s.DegradedMessage,
		FallbackAvailable: s.FallbackAvailable}})
	return err
}

func (p *player) transition(s step) error {
	state, err := enum(pb.BreakerState_value, "BREAKER_STATE_", s.State)
	if err != nil {
		return err
	}
	_, err = p.c.Admin().TransitionBreaker(p.ctx, &pb.TransitionBreakerRequest{
		Name: s.Name, State: pb.BreakerState(state)})
	return err
}

func (p *player) allow(s step) error {
	var want allowExpect
	if err := strict(s.Expect, &want); err != nil {
		return err
	}
	d, err := p.c.Allow(p.ctx, s.Call.call())
	if err != nil {
		return err
	}
	p.permit = &d
	var problems []string
	if !d.Checked {
		problems = append(problems, "rescp did not answer (let through unchecked)")
	}
	if d.Allowed != want.Allowed {
		problems = append(problems, fmt.Sprintf("allowed %t", d.Allowed))
	}
	if want.Verdict != nil && string(d.Verdict) != *want.Verdict {
		problems = append(problems, "verdict "+string(d.Verdict))
	}
	if want.BreakerState != nil && string(d.BreakerState) != *want.BreakerState {
		problems = append(problems, "breaker_state "+string(d.BreakerState))
	}
	if want.Remaining != nil && d.Remaining != *want.Remaining {
		problems = append(problems, fmt.Sprintf("remaining %d", d.Remaining))
	}
	if err := want.retryAfter.check(d.RetryAfter); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("got %+v: %s", d, strings.Join(problems, "; "))
	}
	return nil
}

func (p *player) record(s step) error {
	outcome, err := lookup(map[string]rescp.Outcome{
		"success": rescp.Success, "failure": rescp.Failure, "ignored": rescp.Ignored},
		"outcome", s.Outcome)
	if err != nil {
		return err
	}
	if p.permit == nil || !p.permit.Allowed {
		return errors.New("record: the last allow was not allowed")
	}
	permit := p.permit.Permit
	p.permit = nil
	return p.c.Record(p.ctx, s.Breaker, permit, outcome, time.Millisecond, nil)
}

// namedError is an application error whose type name rescp is told is its kind.
type namedError struct{ kind, message string }

func (e namedError) Error() string     { return e.message }
func (e namedError) ErrorType() string { return e.kind }

func (p *player) report(s step) error {
	var want reportExpect
	if err := strict(s.Expect, &want); err != nil {
		return err
	}
	record, err := p.c.Report(p.ctx, namedError{s.Error.Type, s.Error.Message},
		rescp.ReportOptions{Operation: s.Options.Operation, UserID: s.Options.UserID})
	if err != nil {
		return err
	}
	if string(record.Category) != want.Category || string(record.Severity) != want.Severity {
		return fmt.Errorf("classified %s/%s", record.Category, record.Severity)
	}
	for _, text := range want.MessageContains {
		if !strings.Contains(record.Message, text) {
			return fmt.Errorf("%q not in %q", text, record.Message)
		}
	}
	for _, text := range want.MessageExcludes {
		if strings.Contains(record.Message, text) {
			return fmt.Errorf("%q in %q", text, record.Message)
		}
	}
	return nil
}

func (p *player) breakerState(s step) error {
	var want string
	if err := strict(s.Expect, &want); err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		response, err := p.c.Admin().GetBreaker(p.ctx, &pb.GetBreakerRequest{Name: s.Name})
		if err != nil {
			return err
		}
		got := strings.ToLower(strings.TrimPrefix(response.GetBreaker().GetState().String(),
			"BREAKER_STATE_"))
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is %s, expected %s", s.Name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchStart fixes "now" (the current sequence) before it returns, then follows the watch.
func (p *player) watchStart(s step) error {
	health, err := p.c.Admin().GetSystemHealth(p.ctx, &pb.GetSystemHealthRequest{})
	if err != nil {
		return err
	}
	after := health.GetSequence()
	options := rescp.WatchOptions{AfterSequence: &after}
	for _, t := range s.Types {
		options.Types = append(options.Types, rescp.EventType(t))
	}
	p.events = make(chan rescp.BreakerTransition, 100)
	go func() {
		for event, err := range p.c.Watch(p.ctx, options) {
			if err != nil {
				return
			}
			if event.Transition == nil {
				continue
			}
			select {
			case p.events <- *event.Transition:
			case <-p.ctx.Done():
				return
			}
		}
	}()
	return nil
}

func (p *player) watchExpect(s step) error {
	if s.Event.Type != "breaker_transition" || p.events == nil {
		return fmt.Errorf("watch_expect %q without a watch_start, or of an unknown type", s.Event.Type)
	}
	timeout := time.After(time.Duration(s.WithinMs) * time.Millisecond)
	for {
		select {
		case got := <-p.events:
			if got.Breaker == s.Event.Breaker && string(got.From) == s.Event.From &&
				string(got.To) == s.Event.To {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("no %+v within %d ms", s.Event, s.WithinMs)
		}
	}
}
