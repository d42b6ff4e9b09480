package rescp

// The outbox: reports that could not be delivered yet, oldest first, bounded. One goroutine
// delivers them in order while there are any; when rescp cannot be reached it waits a backoff
// (0.5 s doubling to 5 s) and tries the oldest again, so reports arrive in the order they were
// made. Each report carries the time it was made (ReportRequest.time) and an idempotency key
// fixed when it was first built, so a retry after a lost answer is stored once. When the outbox
// is full the oldest report is dropped and counted; a report rescp refuses (not a transport
// failure) is dropped and counted too, since sending it again cannot succeed.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/rescp/rescp/clients/go/rescpv1"
)

const (
	firstRetry = 500 * time.Millisecond
	lastRetry  = 5 * time.Second
)

type outbox struct {
	mu       sync.Mutex
	queue    []*pb.ReportRequest
	size     int
	running  bool
	emptied  chan struct{} // closed when the queue empties; replaced when it fills again
	stopping chan struct{}
	stopped  sync.WaitGroup
	send     func(*pb.ReportRequest) error
	dropped  atomic.Uint64
}

func newOutbox(size int, send func(*pb.ReportRequest) error) *outbox {
	emptied := make(chan struct{})
	close(emptied)
	return &outbox{size: size, send: send, emptied: emptied, stopping: make(chan struct{})}
}

// add queues a report and makes sure the deliverer runs.
func (o *outbox) add(request *pb.ReportRequest) {
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-o.stopping:
		o.dropped.Add(1)
		return
	default:
	}
	if len(o.queue) == 0 {
		o.emptied = make(chan struct{})
	}
	if len(o.queue) == o.size {
		o.queue[0] = nil
		o.queue = o.queue[1:]
		o.dropped.Add(1)
	}
	o.queue = append(o.queue, request)
	if !o.running {
		o.running = true
		o.stopped.Add(1)
		go o.deliver()
	}
}

// deliver sends the oldest report until none is left or the outbox stops.
func (o *outbox) deliver() {
	defer o.stopped.Done()
	wait := firstRetry
	for {
		o.mu.Lock()
		if len(o.queue) == 0 {
			o.running = false
			close(o.emptied)
			o.mu.Unlock()
			return
		}
		head := o.queue[0]
		o.mu.Unlock()
		err := o.send(head)
		var down *UnavailableError
		if errors.As(err, &down) {
			select {
			case <-time.After(wait):
				wait = min(2*wait, lastRetry)
				continue
			case <-o.stopping:
				return
			}
		}
		if err != nil {
			o.dropped.Add(1)
		}
		wait = firstRetry
		o.pop(head)
	}
}

func (o *outbox) pop(head *pb.ReportRequest) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) > 0 && o.queue[0] == head { // not already dropped by a full outbox
		o.queue[0] = nil
		o.queue = o.queue[1:]
	}
}

// flush waits until the outbox is empty, or ctx ends.
func (o *outbox) flush(ctx context.Context) error {
	o.mu.Lock()
	emptied := o.emptied
	o.mu.Unlock()
	select {
	case <-emptied:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends delivery; what is still queued is dropped and counted.
func (o *outbox) stop() {
	o.mu.Lock()
	select {
	case <-o.stopping:
	default:
		close(o.stopping)
	}
	o.dropped.Add(uint64(len(o.queue)))
	o.queue = nil
	o.mu.Unlock()
	o.stopped.Wait()
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-o.emptied:
	default:
		close(o.emptied) // the deliverer was cut off: nothing is left to wait for
	}
}

func (o *outbox) droppedCount() uint64 { return o.dropped.Load() }

// send delivers one queued report; the client's life context cuts it off on Close.
func (c *Client) send(request *pb.ReportRequest) error {
	ctx, cancel := c.bounded(c.life)
	defer cancel()
	_, err := c.guard.Report(ctx, request)
	return err
}
