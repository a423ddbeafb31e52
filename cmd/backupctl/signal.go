package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// withSignals returns a context that SIGINT or SIGTERM cancels, so that a
// command winds down cleanly, and a function that says which signal did
// it. After the first signal the default action is back: a second Ctrl-C
// stops a command that is slow to wind down at once.
func withSignals(parent context.Context) (context.Context, func() (syscall.Signal, bool)) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	got := make(chan syscall.Signal, 1)
	go func() {
		s := (<-ch).(syscall.Signal)
		signal.Stop(ch)
		got <- s
		cancel(context.Canceled)
	}()
	return ctx, func() (syscall.Signal, bool) {
		select {
		case s := <-got:
			return s, true
		default:
			return 0, false
		}
	}
}

// signalExit is the shell's convention for a process ended by sig: 128
// plus its number (130 for SIGINT, 143 for SIGTERM).
func signalExit(sig syscall.Signal) int { return 128 + int(sig) }

func sigName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "interrupted: SIGINT"
	case syscall.SIGTERM:
		return "stopped: SIGTERM"
	}
	return sig.String()
}
