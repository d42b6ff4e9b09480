package rescp

// The events Watch yields: one Event struct whose Type says which payload field is set.

import (
	"strings"
	"time"

	pb "github.com/rescp/rescp/clients/go/rescpv1"
)

// EventType names a kind of event, as WatchOptions.Types selects it.
type EventType string

// The event types; SnapshotEvent is the client's own (the state re-read, see Watch).
const (
	BreakerTransitionEvent EventType = "breaker_transition"
	NotificationEvent      EventType = "notification"
	DegradationChangeEvent EventType = "degradation_change"
	HealthChangeEvent      EventType = "health_change"
	RateLimitExceededEvent EventType = "rate_limit_exceeded"
	SnapshotEvent          EventType = "snapshot"
)

// Event is one entry of the event log; the payload field named by Type is set.
type Event struct {
	Type     EventType
	Sequence uint64
	Time     time.Time

	Transition   *BreakerTransition
	Notification *pb.Notification
	Degradation  *pb.DegradationChange
	Health       *HealthChange
	RateLimit    *pb.RateLimitExceeded
	Snapshot     *Snapshot
}

// BreakerTransition: a breaker changed state; Reason is e.g. "failure_threshold",
// "recovery_timeout", "trial_failed" or "manual".
type BreakerTransition struct {
	Breaker string
	From    BreakerState
	To      BreakerState
	Reason  string
}

// HealthChange: the system's health changed ("healthy" | "warning" | "critical").
type HealthChange struct {
	From string
	To   string
}

// Snapshot is the state re-read when a watch could not resume where it was; the watch goes on
// after Event.Sequence, the smallest sequence of these reads.
type Snapshot struct {
	Breakers    []*pb.Breaker
	Health      *pb.GetSystemHealthResponse
	Degradation *pb.GetDegradationResponse
}

// eventOf converts one event; false for a payload this client does not know (a type added to
// the protocol later), whose sequence still counts.
func eventOf(m *pb.Event) (Event, bool) {
	e := Event{Sequence: m.GetSequence(), Time: instant(m.GetTime())}
	switch p := m.GetPayload().(type) {
	case *pb.Event_BreakerTransition:
		t := p.BreakerTransition
		e.Type, e.Transition = BreakerTransitionEvent, &BreakerTransition{Breaker: t.GetBreaker(),
			From: stateOf(t.GetFromState()), To: stateOf(t.GetToState()), Reason: t.GetReason()}
	case *pb.Event_Notification:
		e.Type, e.Notification = NotificationEvent, p.Notification
	case *pb.Event_DegradationChange:
		e.Type, e.Degradation = DegradationChangeEvent, p.DegradationChange
	case *pb.Event_HealthChange:
		h := p.HealthChange
		e.Type, e.Health = HealthChangeEvent, &HealthChange{
			From: word(h.GetFromHealth().String(), "HEALTH_"), To: word(h.GetToHealth().String(), "HEALTH_")}
	case *pb.Event_RateLimitExceeded:
		e.Type, e.RateLimit = RateLimitExceededEvent, p.RateLimitExceeded
	default:
		return Event{}, false
	}
	return e, true
}

func watchRequest(o WatchOptions) (*pb.WatchRequest, error) {
	request := &pb.WatchRequest{}
	for _, t := range o.Types {
		value, ok := pb.EventType_value["EVENT_TYPE_"+strings.ToUpper(string(t))]
		if !ok || t == SnapshotEvent || t == "" {
			return nil, invalidArgument("types", "unknown event type "+string(t))
		}
		request.Types = append(request.Types, pb.EventType(value))
	}
	if o.MinSeverity != "" {
		value, ok := pb.Severity_value["SEVERITY_"+strings.ToUpper(string(o.MinSeverity))]
		if !ok {
			return nil, invalidArgument("min_severity", "must be low, medium, high or critical")
		}
		request.MinSeverity = pb.Severity(value)
	}
	return request, nil
}
