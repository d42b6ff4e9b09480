package rescp_test

// The scenario suite (clients/scenarios/*.json) played with the Go client, each against a
// fresh `rescp serve`. The format is in clients/scenarios/README.md; Python and TypeScript play
// the same files. Decoding is strict: an unknown op, or a key an op does not take, fails the
// scenario, so a typo never turns a check into nothing.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rescp/rescp/clients/go"
)

type scenario struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Client      clientSpec        `json:"client"`
	Steps       []json.RawMessage `json:"steps"`
}

type clientSpec struct {
	OnUnavailable  string `json:"on_unavailable"`
	AllowTimeoutMs *int   `json:"allow_timeout_ms"`
}

// strict decodes raw into v, refusing keys v does not have.
func strict(raw []byte, v any) error {
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.DisallowUnknownFields()
	return decoder.Decode(v)
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repo, "clients", "scenarios", "*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("scenarios missing (%d found): %v", len(files), err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var s scenario
			if err := strict(raw, &s); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if s.Name != name {
				t.Fatalf("%s: name %q is not the file's name", file, s.Name)
			}
			play(t, s)
		})
	}
}

func play(t *testing.T, s scenario) {
	srv := startServer(t)
	options := []rescp.Option{rescp.WithAllowTimeout(50 * time.Millisecond)}
	if s.Client.AllowTimeoutMs != nil {
		options[0] = rescp.WithAllowTimeout(time.Duration(*s.Client.AllowTimeoutMs) * time.Millisecond)
	}
	switch s.Client.OnUnavailable {
	case "", "allow":
	case "deny":
		options = append(options, rescp.WithOnUnavailable(rescp.Deny))
	default:
		t.Fatalf("unknown on_unavailable %q", s.Client.OnUnavailable)
	}
	c, err := rescp.Dial(srv.target, options...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); _ = c.Close() }()
	p := &player{c: c, srv: srv, ctx: ctx}
	for index, raw := range s.Steps {
		if err := p.play(raw); err != nil {
			t.Fatalf("step %d %s: %v", index, raw, err)
		}
	}
}

type player struct {
	c      *rescp.Client
	srv    *server
	ctx    context.Context
	permit *rescp.Decision
	events chan rescp.BreakerTransition
}

func (p *player) play(raw json.RawMessage) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return err
	}
	var name string
	if err := json.Unmarshal(keys["op"], &name); err != nil {
		return fmt.Errorf("no op: %w", err)
	}
	known, err := lookup(ops, "op", name)
	if err != nil {
		return err
	}
	for key := range keys {
		if key != "op" && !contains(known.keys, key) {
			return fmt.Errorf("op %q takes no key %q", name, key)
		}
	}
	var s step
	if err := strict(raw, &s); err != nil {
		return err
	}
	return known.run(p, s)
}

func contains(list []string, item string) bool {
	for _, each := range list {
		if each == item {
			return true
		}
	}
	return false
}

// op is what a step does, and the keys it takes (besides "op").
type op struct {
	run  func(*player, step) error
	keys []string
}

var ops = map[string]op{
	"put_breaker":   {(*player).putBreaker, []string{"name", "config"}},
	"put_limit":     {(*player).putLimit, []string{"name", "algorithm", "max_requests", "window_s"}},
	"put_feature":   {(*player).putFeature, []string{"name", "breakers", "degraded_message", "fallback_available"}},
	"transition":    {(*player).transition, []string{"name", "state"}},
	"guard":         {(*player).guard, []string{"call", "body", "expect"}},
	"allow":         {(*player).allow, []string{"call", "expect"}},
	"record":        {(*player).record, []string{"breaker", "outcome"}},
	"report":        {(*player).report, []string{"error", "options", "expect"}},
	"breaker_state": {(*player).breakerState, []string{"name", "expect"}},
	"watch_start":   {(*player).watchStart, []string{"types"}},
	"watch_expect":  {(*player).watchExpect, []string{"within_ms", "event"}},
	"server":        {(*player).server, []string{"action"}},
	"sleep":         {(*player).sleep, []string{"ms"}},
}

// lookup is a scenario's word looked up in a table, or an error naming what it was.
func lookup[V any](table map[string]V, what, word string) (V, error) {
	value, ok := table[word]
	if !ok {
		return value, fmt.Errorf("unknown %s %q", what, word)
	}
	return value, nil
}

func (p *player) sleep(s step) error {
	time.Sleep(time.Duration(s.Ms) * time.Millisecond)
	return nil
}

func (p *player) server(s step) error {
	sig, err := lookup(map[string]syscall.Signal{
		"hang": syscall.SIGSTOP, "resume": syscall.SIGCONT, "kill": syscall.SIGKILL},
		"server action", s.Action)
	if err != nil {
		return err
	}
	p.srv.signal(sig)
	return nil
}

// errBody is what a "fail" body returns; "failed" means this very value came back.
var errBody = errors.New("scenario body failed")

func (p *player) guard(s step) error {
	var want guardExpect
	if err := strict(s.Expect, &want); err != nil {
		return err
	}
	ran := false
	started := time.Now()
	got := p.c.Guard(p.ctx, s.Call.call(), func(context.Context) error {
		ran = true
		if s.Body == "fail" {
			return errBody
		}
		return nil
	})
	took := time.Since(started)
	if err := checkResult(want, got, ran); err != nil {
		return err
	}
	if want.MaxMs != nil && took > time.Duration(*want.MaxMs)*time.Millisecond {
		return fmt.Errorf("took %s, more than %d ms", took, *want.MaxMs)
	}
	return nil
}

func checkResult(want guardExpect, got error, ran bool) error {
	var open *rescp.BreakerOpenError
	var limited *rescp.RateLimitedError
	var down *rescp.UnavailableError
	switch want.Result {
	case "ran":
		if got != nil || !ran {
			return fmt.Errorf("expected ran, got %v (ran %t)", got, ran)
		}
		return nil
	case "failed":
		if got != errBody || !ran { //nolint:errorlint // the very value, unchanged
			return fmt.Errorf("expected the body's own error, got %v (ran %t)", got, ran)
		}
		return nil
	case "breaker_open", "rate_limited", "unavailable":
	default:
		return fmt.Errorf("unknown result %q", want.Result)
	}
	if ran {
		return fmt.Errorf("the body ran; expected %s", want.Result)
	}
	switch {
	case want.Result == "breaker_open" && errors.As(got, &open):
		return want.retryAfter.check(open.RetryAfter)
	case want.Result == "rate_limited" && errors.As(got, &limited):
		return want.retryAfter.check(limited.RetryAfter)
	case want.Result == "unavailable" && errors.As(got, &down):
		return nil
	}
	return fmt.Errorf("expected %s, got %T %v", want.Result, got, got)
}

func (b retryAfter) check(got time.Duration) error {
	low, high := 0.0, 1e18
	if b.Min != nil {
		low = *b.Min
	}
	if b.Max != nil {
		high = *b.Max
	}
	if seconds := got.Seconds(); seconds < low || seconds > high {
		return fmt.Errorf("retry_after %s not in [%g s, %g s]", got, low, high)
	}
	return nil
}
