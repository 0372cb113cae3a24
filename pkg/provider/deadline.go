package provider

import (
	"context"
	"errors"
	"time"
)

// errTimedOut is the cause of a call's context that ran out of its time.
var errTimedOut = errors.New("the model server took too long")

// Deadline bounds one call to a model server in time: the whole call, or
// for a stream the wait for each next message (Progress pushes it back).
// Every client of a model server bounds its calls so.
type Deadline struct {
	// Ctx is the call's context: it ends when the time runs out.
	Ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer // streams: fires when no progress came for idle
	idle   time.Duration
}

// StartDeadline bounds a call under ctx to timeout (0: no bound).
func StartDeadline(ctx context.Context, timeout time.Duration, stream bool) *Deadline {
	d := &Deadline{idle: timeout}
	d.Ctx, d.cancel = context.WithCancelCause(ctx)
	if timeout > 0 {
		if stream {
			d.timer = time.AfterFunc(timeout, func() { d.cancel(errTimedOut) })
		} else {
			var stop context.CancelFunc
			d.Ctx, stop = context.WithTimeoutCause(d.Ctx, timeout, errTimedOut)
			cancel := d.cancel
			d.cancel = func(err error) { stop(); cancel(err) }
		}
	}
	return d
}

// Progress pushes a stream's deadline back: a message arrived.
func (d *Deadline) Progress() {
	if d.timer != nil {
		d.timer.Reset(d.idle)
	}
}

// Stop releases the call and returns the TimeoutError of host when its
// time ran out, nil otherwise.
func (d *Deadline) Stop(host string) *TimeoutError {
	if d.timer != nil {
		d.timer.Stop()
	}
	timedOut := errors.Is(context.Cause(d.Ctx), errTimedOut)
	d.cancel(context.Canceled)
	if !timedOut {
		return nil
	}
	return &TimeoutError{Host: host, After: d.idle, Stream: d.timer != nil}
}
