package rescp

// The values the client hands out: plain structs and lower-case string constants, never raw
// protos (Admin() is the one door to the generated types). Enum-like values are the seed's
// lower-case words ("network", "open"); a proto enum value newer than the client reads
// "unknown". Each mapping is "PREFIX_" + upper case of the word and back.

import (
	"strings"
	"time"

	pb "github.com/rescp/rescp/clients/go/rescpv1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BreakerState is a breaker's state: "closed", "open", "half_open", "forced_open", "disabled";
// "" when no breaker was consulted.
type BreakerState string

// The breaker states.
const (
	StateClosed     BreakerState = "closed"
	StateOpen       BreakerState = "open"
	StateHalfOpen   BreakerState = "half_open"
	StateForcedOpen BreakerState = "forced_open"
	StateDisabled   BreakerState = "disabled"
)

// Verdict says why an Allow admitted or refused a call.
type Verdict string

// The verdicts.
const (
	VerdictAllowed     Verdict = "allowed"
	VerdictBreakerOpen Verdict = "breaker_open"
	VerdictRateLimited Verdict = "rate_limited"
)

// Category is an error's class, as the server classified it.
type Category string

// The categories.
const (
	CategoryNetwork    Category = "network"
	CategoryDatabase   Category = "database"
	CategoryAPI        Category = "api"
	CategoryRateLimit  Category = "rate_limit"
	CategoryValidation Category = "validation"
	CategoryProcessing Category = "processing"
	CategorySystem     Category = "system"
	CategoryUnknown    Category = "unknown"
)

// Severity is how bad an error is.
type Severity string

// The severities.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Outcome is what a guarded call's Record tells the breaker.
type Outcome int

// The outcomes: Ignored counts for nothing and gives back a half-open permit.
const (
	Success Outcome = iota + 1
	Failure
	Ignored
)

// Call names what a guarded call asks: a breaker, a limit (with its key and cost), or both.
// Operation and UserID describe the error reported when the call fails.
type Call struct {
	Breaker   string
	Limit     string
	Key       string
	Cost      int // 0 means 1; negative or above 2^32-1 is the client's own InvalidArgumentError
	Operation string
	UserID    string
}

// Decision is what an Allow answered. Checked is false when rescp could not answer within
// the allow timeout and WithOnUnavailable(Allow) let the call through unchecked.
type Decision struct {
	Allowed      bool
	Verdict      Verdict
	BreakerState BreakerState
	RetryAfter   time.Duration
	Remaining    int64 // tokens left for the key; -1 when no limit was consulted
	Permit       string
	Checked      bool
}

// RecoveryAction is what to do about an error: a machine-readable Type and a human Message.
type RecoveryAction struct {
	Type    string
	Message string
}

// ErrorRecord is a stored, classified, scrubbed error.
type ErrorRecord struct {
	ErrorID      string
	Operation    string
	ErrorType    string
	Message      string
	Category     Category
	Severity     Severity
	UserMessage  string
	Time         time.Time
	Acknowledged bool
	UserID       string
	Action       RecoveryAction
	Fingerprint  string
	Context      map[string]string
	Service      string
	Breaker      string
}

// word is the lower-case word of a proto enum name ("BREAKER_STATE_HALF_OPEN" -> "half_open").
func word(name, prefix string) string {
	if name == "" || strings.HasSuffix(name, "_UNSPECIFIED") {
		return ""
	}
	if !strings.HasPrefix(name, prefix) {
		return "unknown" // a number newer than this client
	}
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

func stateOf(s pb.BreakerState) BreakerState {
	return BreakerState(word(s.String(), "BREAKER_STATE_"))
}

func seconds(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}

func instant(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func decision(r *pb.AllowResponse) Decision {
	return Decision{
		Allowed: r.GetAllowed(), Verdict: Verdict(word(r.GetVerdict().String(), "VERDICT_")),
		BreakerState: stateOf(r.GetBreakerState()), RetryAfter: seconds(r.GetRetryAfter()),
		Remaining: r.GetRemaining(), Permit: r.GetPermit(), Checked: true,
	}
}

func errorRecord(r *pb.ErrorRecord) *ErrorRecord {
	if r == nil {
		return nil
	}
	return &ErrorRecord{
		ErrorID: r.GetErrorId(), Operation: r.GetOperation(), ErrorType: r.GetErrorType(),
		Message:     r.GetMessage(),
		Category:    Category(word(r.GetCategory().String(), "ERROR_CATEGORY_")),
		Severity:    Severity(word(r.GetSeverity().String(), "SEVERITY_")),
		UserMessage: r.GetUserMessage(), Time: instant(r.GetTime()),
		Acknowledged: r.GetAcknowledged(), UserID: r.GetUserId(),
		Action:      RecoveryAction{Type: r.GetAction().GetType(), Message: r.GetAction().GetMessage()},
		Fingerprint: r.GetFingerprint(), Context: r.GetContext(), Service: r.GetService(),
		Breaker: r.GetBreaker(),
	}
}
