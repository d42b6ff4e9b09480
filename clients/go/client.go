// Package rescp is the Go client of rescp, the resilience control plane.
//
// One Client holds one gRPC channel to one server. The hot path (Guard, Allow) never waits
// longer than the allow timeout and follows WithOnUnavailable when rescp is slow or down;
// Guard's Records and Reports go out in the background, but an Allow never overtakes this
// client's own earlier Record on the same breaker. Reports that cannot be delivered wait in a
// bounded outbox. Watch follows the event log for ever, resuming by sequence. Every error is
// typed (errors.As: *StatusError, *UnavailableError, *BreakerOpenError, ...); Admin() is the
// generated AdminServiceClient on the same channel, its errors typed too.
package rescp

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	pb "github.com/rescp/rescp/clients/go/rescpv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// OnUnavailable is what the hot path does when rescp cannot answer within the allow timeout.
type OnUnavailable int

const (
	// Allow lets the call through unchecked (the default).
	Allow OnUnavailable = iota
	// Deny refuses it with *UnavailableError.
	Deny
)

type settings struct {
	allowTimeout  time.Duration
	timeout       time.Duration
	closeTimeout  time.Duration
	onUnavailable OnUnavailable
	service       string
	maxPending    int
	outboxSize    int
	dialOptions   []grpc.DialOption
}

// Option configures Dial.
type Option func(*settings)

// WithAllowTimeout bounds the hot path (default 50 ms).
func WithAllowTimeout(d time.Duration) Option { return func(s *settings) { s.allowTimeout = d } }

// WithOnUnavailable chooses Allow (default) or Deny for when rescp cannot answer in time.
func WithOnUnavailable(m OnUnavailable) Option { return func(s *settings) { s.onUnavailable = m } }

// WithTimeout bounds every call that is not on the hot path, Admin() calls included, when ctx
// has no earlier deadline (default 5 s).
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithCloseTimeout is how long Close waits for background Records and the outbox (default 1 s).
func WithCloseTimeout(d time.Duration) Option { return func(s *settings) { s.closeTimeout = d } }

// WithService is the default `service` of reports.
func WithService(name string) Option { return func(s *settings) { s.service = name } }

// WithMaxPending caps background Records in flight; beyond it they are dropped and counted
// (default 1000).
func WithMaxPending(n int) Option { return func(s *settings) { s.maxPending = n } }

// WithOutboxSize caps the reports kept while rescp is unreachable (default 10,000); when full,
// the oldest is dropped and counted in DroppedReports.
func WithOutboxSize(n int) Option { return func(s *settings) { s.outboxSize = n } }

// WithDialOptions adds grpc dial options (TLS credentials, interceptors, ...).
func WithDialOptions(o ...grpc.DialOption) Option {
	return func(s *settings) { s.dialOptions = append(s.dialOptions, o...) }
}

// Client is a client of one rescp server; safe for concurrent use.
type Client struct {
	target  string
	s       settings
	conn    *grpc.ClientConn
	guard   pb.GuardServiceClient
	admin   pb.AdminServiceClient
	events  pb.EventServiceClient
	lanes   *lanes
	outbox  *outbox
	life    context.Context // cancelled by Close: ends background calls and watches
	end     context.CancelFunc
	closing sync.Once
}

// Dial makes a client of the server at target ("host:port"). It connects lazily: a server that
// is down now is no error here.
func Dial(target string, options ...Option) (*Client, error) {
	s := settings{allowTimeout: 50 * time.Millisecond, timeout: 5 * time.Second,
		closeTimeout: time.Second, maxPending: 1000, outboxSize: 10_000}
	for _, option := range options {
		option(&s)
	}
	if s.allowTimeout <= 0 || s.timeout <= 0 || s.maxPending <= 0 || s.outboxSize <= 0 {
		return nil, invalidArgument("options", "timeouts and sizes must be positive")
	}
	conn, err := grpc.NewClient(target, append(channelOptions(s.timeout), s.dialOptions...)...)
	if err != nil {
		return nil, typed(err)
	}
	life, end := context.WithCancel(context.Background())
	c := &Client{target: target, s: s, conn: conn, guard: pb.NewGuardServiceClient(conn),
		admin: pb.NewAdminServiceClient(conn), events: pb.NewEventServiceClient(conn),
		lanes: newLanes(s.maxPending), life: life, end: end}
	c.outbox = newOutbox(s.outboxSize, c.send)
	return c, nil
}

// channelOptions make a client heal by itself: reconnect attempts every 1-2 s whatever happened
// before (grpc's default backoff grows to 120 s), keepalive pings so a silently dropped
// connection is noticed; and every call, Admin() included, gets typed errors and, when its ctx
// has no deadline, the client's timeout (a hung rescp never blocks a caller for ever).
func channelOptions(timeout time.Duration) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: time.Second, Multiplier: 1.6, Jitter: 0.2,
				MaxDelay: 2 * time.Second},
			MinConnectTimeout: time.Second,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithChainUnaryInterceptor(typedUnary, deadline(timeout)),
		grpc.WithChainStreamInterceptor(typedStream),
	}
}

// Target is the address the client was dialed with.
func (c *Client) Target() string { return c.target }

// Admin is the generated AdminServiceClient on the client's channel; its errors are typed.
func (c *Client) Admin() pb.AdminServiceClient { return c.admin }

// DroppedRecords counts background Records lost: over WithMaxPending, failed, or cut off by
// Close.
func (c *Client) DroppedRecords() uint64 { return c.lanes.droppedCount() }

// DroppedReports counts reports the outbox dropped (full: the oldest go) or could not deliver
// (rescp refused them).
func (c *Client) DroppedReports() uint64 { return c.outbox.droppedCount() }

// Flush waits until this client's background Records are done and its outbox is delivered,
// or ctx ends (its error is returned).
func (c *Client) Flush(ctx context.Context) error {
	if err := c.lanes.settleAll(ctx); err != nil {
		return err
	}
	return c.outbox.flush(ctx)
}

// Close waits up to the close timeout for background Records and the outbox, cuts off what is
// left (counted as dropped), and closes the channel. Nothing of the client runs afterwards.
func (c *Client) Close() error {
	var err error
	c.closing.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.s.closeTimeout)
		_ = c.Flush(ctx)
		cancel()
		c.end()
		_ = c.lanes.settleAll(context.Background()) // cut off: they return at once
		c.outbox.stop()
		err = c.conn.Close()
	})
	return err
}

// bounded is ctx with the client's timeout, unless ctx already ends sooner.
func (c *Client) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.s.timeout)
}

// deadline bounds a unary call whose ctx has no deadline by timeout.
func deadline(timeout time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, set := ctx.Deadline(); !set {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

func typedUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return typed(invoker(ctx, method, req, reply, cc, opts...))
}

func typedStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	stream, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, typed(err)
	}
	return typedClientStream{stream}, nil
}

// typedClientStream types the errors of a stream's reads.
type typedClientStream struct{ grpc.ClientStream }

func (s typedClientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if errors.Is(err, io.EOF) {
		return err // the stream ended with OK
	}
	return typed(err)
}
