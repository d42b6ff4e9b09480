package rescp

// From a Go error to what rescp is told about it. Report sends the ReportRequest built here and
// Guard attaches the very same request to its Record, so an error is described one way
// whichever path it takes. The server classifies it from the type name, the message, the gRPC
// code and the HTTP status, so those are taken from wherever Go code keeps them: an
// ErrorType() method or the error's own type, a gRPC status anywhere in the chain, an
// HTTPStatus() or StatusCode() method. Text is cut to the limits the protos declare (limits.go):
// a long message must never turn a report into INVALID_ARGUMENT and lose the error. Each report
// is stamped with the time it was made and an idempotency key when it is built, so the outbox
// can deliver it late, or twice, and it is stored once, in its place.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"

	pb "github.com/rescp/rescp/clients/go/rescpv1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	maxText           = 4096
	maxShortText      = 256
	maxContextEntries = 64
	genericErrorType  = "error"
	maxHTTPStatus     = 599
	minHTTPStatus     = 100
)

// ReportOptions describe a reported error beyond the error itself.
type ReportOptions struct {
	Operation string
	UserID    string
	Context   map[string]string
	Service   string // default: WithService
	Breaker   string
}

// Report files an error: rescp classifies, scrubs and stores it, and returns the record. When
// rescp cannot be reached the report waits in the outbox (sent later, with its original time)
// and the error is *UnavailableError.
func (c *Client) Report(ctx context.Context, err error, options ReportOptions) (*ErrorRecord, error) {
	if err == nil {
		return nil, invalidArgument("error", "must not be nil")
	}
	request := c.reportRequest(err, options)
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	response, sendErr := c.guard.Report(ctx, request)
	var down *UnavailableError
	if errors.As(sendErr, &down) {
		c.outbox.add(request)
	}
	if sendErr != nil {
		return nil, sendErr
	}
	return errorRecord(response.GetRecord()), nil
}

func (c *Client) reportRequest(err error, o ReportOptions) *pb.ReportRequest {
	service := o.Service
	if service == "" {
		service = c.s.service
	}
	context := make(map[string]string, len(o.Context))
	for key, value := range o.Context {
		context[key] = value
	}
	request := &pb.ReportRequest{
		Operation: o.Operation, ErrorType: ErrorType(err), Message: err.Error(), UserId: o.UserID,
		GrpcCode: grpcCode(err), HttpStatus: httpStatus(err), Breaker: o.Breaker,
		Context: context, Service: service, Time: timestamppb.Now(), IdempotencyKey: newKey(),
	}
	fit(request)
	return request
}

// newKey is a random (version 4) UUID: the report's idempotency key.
func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ErrorType is the type name rescp is told for err: its ErrorType() method if it has one
// (anywhere in the chain), else the name of the most specific named type in the chain
// ("OpError" for a *net.OpError wrapped by fmt.Errorf), else "error".
func ErrorType(err error) string {
	var named interface{ ErrorType() string }
	if errors.As(err, &named) {
		return named.ErrorType()
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if name := typeName(e); name != "" {
			return name
		}
	}
	return genericErrorType
}

// typeName is an error's own type name, or "" for the standard library's anonymous wrappers.
func typeName(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := t.Name()
	switch name {
	case "", "errorString", "wrapError", "wrapErrors", "joinError":
		return ""
	}
	return name
}

func grpcCode(err error) int32 {
	if st, ok := status.FromError(err); ok {
		return int32(st.Code())
	}
	return 0
}

func httpStatus(err error) int32 {
	var withStatus interface{ HTTPStatus() int }
	var withCode interface{ StatusCode() int }
	value := 0
	if errors.As(err, &withStatus) {
		value = withStatus.HTTPStatus()
	} else if errors.As(err, &withCode) {
		value = withCode.StatusCode()
	}
	if value < minHTTPStatus || value > maxHTTPStatus {
		return 0
	}
	return int32(value)
}
