package rescp

// Background calls (Guard's Records and Reports), each in its own goroutine, grouped per lane
// (a breaker) and bounded in number. The hot path waits for a lane to drain before its next
// Allow on that breaker, which is what keeps the client's own order; Close waits for all of
// them, then cuts them off through the client's life context and waits again.

import (
	"context"
	"sync"
	"sync/atomic"
)

type lane struct {
	calls   int
	drained chan struct{} // closed when calls drops to 0
}

type lanes struct {
	mu       sync.Mutex
	byKey    map[string]*lane
	inFlight int
	max      int
	dropped  atomic.Uint64
}

func newLanes(max int) *lanes { return &lanes{byKey: map[string]*lane{}, max: max} }

// start runs call in the background on key's lane; false (and counted as dropped) when too
// many are in flight already.
func (l *lanes) start(key string, call func() error) bool {
	l.mu.Lock()
	if l.inFlight >= l.max {
		l.mu.Unlock()
		l.dropped.Add(1)
		return false
	}
	current := l.byKey[key]
	if current == nil {
		current = &lane{drained: make(chan struct{})}
		l.byKey[key] = current
	}
	current.calls++
	l.inFlight++
	l.mu.Unlock()
	go func() {
		if call() != nil {
			l.dropped.Add(1)
		}
		l.finish(key, current)
	}()
	return true
}

func (l *lanes) finish(key string, done *lane) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	done.calls--
	if done.calls == 0 {
		close(done.drained)
		delete(l.byKey, key)
	}
}

// settle waits until key's lane has drained, or ctx ends.
func (l *lanes) settle(ctx context.Context, key string) error {
	l.mu.Lock()
	current := l.byKey[key]
	l.mu.Unlock()
	if current == nil {
		return nil
	}
	select {
	case <-current.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settleAll waits until every background call started before it has returned, or ctx ends.
func (l *lanes) settleAll(ctx context.Context) error {
	l.mu.Lock()
	pending := make([]*lane, 0, len(l.byKey))
	for _, current := range l.byKey {
		pending = append(pending, current)
	}
	l.mu.Unlock()
	for _, current := range pending {
		select {
		case <-current.drained:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (l *lanes) droppedCount() uint64 { return l.dropped.Load() }
