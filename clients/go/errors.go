package rescp

// Every error the client returns, and the one function that types a gRPC error.
//
// A server status becomes a *StatusError carrying the code, the message and the rich details
// of grpc-status-details-bin (AIP-193: branch on Reason, not on the message). INVALID_ARGUMENT
// and NOT_FOUND get their own wrappers with the BadRequest / ResourceInfo fields unpacked;
// transport failures (nothing listening, a deadline, a cancelled call) are *UnavailableError.
// Each wrapper unwraps to its *StatusError, so errors.As finds either. Refusals are not RPC
// errors: they are answers, returned as *BreakerOpenError / *RateLimitedError with RetryAfter.

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// StatusError is an error status from rescp (or, as *UnavailableError, no answer in time).
type StatusError struct {
	Code     codes.Code
	Message  string
	Reason   string            // the ErrorInfo reason, e.g. "INVALID_FIELD", "BREAKER_NOT_FOUND"
	Metadata map[string]string // the ErrorInfo metadata
	Details  []proto.Message   // every detail decoded: ErrorInfo, BadRequest, ResourceInfo, ...
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return "rescp: " + e.Code.String()
	}
	return fmt.Sprintf("rescp: %s: %s", e.Code, e.Message)
}

// GRPCStatus lets status.FromError and status.Code see the original code.
func (e *StatusError) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// UnavailableError: rescp could not be reached, or did not answer within the time allowed.
type UnavailableError struct{ *StatusError }

func (e *UnavailableError) Unwrap() error { return e.StatusError }

// FieldViolation is one bad field of a request: its path and what is wrong with it.
type FieldViolation struct {
	Field       string
	Description string
}

// InvalidArgumentError: a bad request; FieldViolations names every bad field.
type InvalidArgumentError struct {
	*StatusError
	FieldViolations []FieldViolation
}

func (e *InvalidArgumentError) Unwrap() error { return e.StatusError }

// NotFoundError: an unknown breaker, limit, feature or error id.
type NotFoundError struct {
	*StatusError
	ResourceType string
	ResourceName string
}

func (e *NotFoundError) Unwrap() error { return e.StatusError }

// BreakerOpenError: the breaker refused the call (OPEN, FORCED_OPEN, or HALF_OPEN with no free
// trial); trying again after RetryAfter can succeed.
type BreakerOpenError struct {
	Breaker    string
	State      BreakerState
	RetryAfter time.Duration
}

func (e *BreakerOpenError) Error() string {
	return fmt.Sprintf("rescp: breaker %q is %s; retry in %s", e.Breaker, e.State, e.RetryAfter)
}

// RateLimitedError: the limit refused the call for this key.
type RateLimitedError struct {
	Limit      string
	Key        string
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rescp: limit %q refused key %q; retry in %s", e.Limit, e.Key, e.RetryAfter)
}

// transport reports whether a code says rescp could not be reached in time, not that it said no.
func transport(code codes.Code) bool {
	return code == codes.Unavailable || code == codes.DeadlineExceeded || code == codes.Canceled
}

// invalidArgument is the client's own error for a value the wire cannot carry, made before
// anything is sent; it has the shape the server's would have.
func invalidArgument(field, description string) error {
	violation := &errdetails.BadRequest_FieldViolation{Field: field, Description: description}
	return &InvalidArgumentError{
		StatusError: &StatusError{
			Code: codes.InvalidArgument, Message: field + ": " + description,
			Reason: "INVALID_FIELD", Metadata: map[string]string{"fields": field},
			Details: []proto.Message{&errdetails.BadRequest{
				FieldViolations: []*errdetails.BadRequest_FieldViolation{violation}}},
		},
		FieldViolations: []FieldViolation{{Field: field, Description: description}},
	}
}

// unavailable is the client's own UnavailableError (a budget spent before any call was made).
func unavailable(code codes.Code, message string) *UnavailableError {
	return &UnavailableError{&StatusError{Code: code, Message: message}}
}

// typed turns any error of a gRPC call into the client's typed error; errors that are already
// typed, and nil, pass through unchanged.
func typed(err error) error {
	if err == nil {
		return nil
	}
	var known *StatusError
	if errors.As(err, &known) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return &UnavailableError{&StatusError{Code: codes.Unavailable, Message: err.Error()}}
	}
	base := &StatusError{Code: st.Code(), Message: st.Message()}
	for _, detail := range st.Details() {
		if message, ok := detail.(proto.Message); ok {
			base.Details = append(base.Details, message)
		}
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			base.Reason, base.Metadata = info.GetReason(), info.GetMetadata()
		}
	}
	return wrap(base)
}

// wrap picks the wrapper for a status's code.
func wrap(base *StatusError) error {
	switch {
	case transport(base.Code):
		return &UnavailableError{base}
	case base.Code == codes.InvalidArgument:
		out := &InvalidArgumentError{StatusError: base}
		for _, detail := range base.Details {
			if request, ok := detail.(*errdetails.BadRequest); ok {
				for _, v := range request.GetFieldViolations() {
					out.FieldViolations = append(out.FieldViolations,
						FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
				}
			}
		}
		return out
	case base.Code == codes.NotFound:
		out := &NotFoundError{StatusError: base}
		for _, detail := range base.Details {
			if info, ok := detail.(*errdetails.ResourceInfo); ok {
				out.ResourceType, out.ResourceName = info.GetResourceType(), info.GetResourceName()
			}
		}
		return out
	}
	return base
}
