package account

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// queued waits until n callers wait for a slot (they are goroutines of the test).
func queued(t *testing.T, s *slots, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		q := s.queued
		s.mu.Unlock()
		if q == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers queued, want %d", q, n)
		}
		runtime.Gosched()
	}
}

type outcome struct {
	class   HashClass
	err     error
	release func()
}

func take(s *slots, class HashClass, out chan<- outcome) {
	rel, err := s.acquire(context.Background(), class)
	out <- outcome{class, err, rel}
}

// Issue 10 (2): a full queue sheds the lowest class first, and a freed slot goes to the
// highest class waiting, so trusted logins are served before the flood.
func TestSlotsServeTheHighestClassFirstAndShedTheLowest(t *testing.T) {
	s := newSlots(1, time.Minute) // one slot, queue of 4
	hold, err := s.acquire(context.Background(), HashOther)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan outcome, 16)
	for i := range 4 {
		go take(s, HashOther, out)
		queued(t, s, i+1)
	}
	go take(s, HashClean, out)
	if o := <-out; o.class != HashOther || CodeOf(o.err) != CodeBusy {
		t.Fatalf("first outcome = %+v, want the newest 'other' waiter shed", o)
	}
	queued(t, s, 4)
	go take(s, HashTrusted, out)
	if o := <-out; o.class != HashOther || CodeOf(o.err) != CodeBusy {
		t.Fatalf("second outcome = %+v, want another 'other' waiter shed", o)
	}
	queued(t, s, 4)
	// The slot is freed: the trusted login gets it, then the clean one, then the others.
	hold()
	for _, want := range []HashClass{HashTrusted, HashClean, HashOther, HashOther} {
		o := <-out
		if o.err != nil || o.class != want {
			t.Fatalf("granted %+v, want class %s", o, want)
		}
		o.release()
	}
	if s.free != 1 || s.queued != 0 {
		t.Fatalf("after all: free %d, queued %d", s.free, s.queued)
	}
}

// A trusted login is shed only when the queue is full of trusted logins.
func TestTrustedIsShedOnlyAmongTrusted(t *testing.T) {
	s := newSlots(1, time.Minute)
	hold, _ := s.acquire(context.Background(), HashTrusted)
	defer hold()
	out := make(chan outcome, 8)
	for i := range 4 {
		go take(s, HashTrusted, out)
		queued(t, s, i+1)
	}
	if _, err := s.acquire(context.Background(), HashTrusted); CodeOf(err) != CodeBusy {
		t.Fatalf("trusted with a queue full of trusted = %v, want busy", err)
	}
	if _, err := s.acquire(context.Background(), HashOther); CodeOf(err) != CodeBusy {
		t.Fatalf("other with a full queue = %v, want busy", err)
	}
}

// A waiter past the wait bound leaves the queue with busy; a cancelled one with its context's error.
func TestSlotsWaitBound(t *testing.T) {
	s := newSlots(1, 20*time.Millisecond)
	hold, _ := s.acquire(context.Background(), HashOther)
	if _, err := s.acquire(context.Background(), HashTrusted); CodeOf(err) != CodeBusy {
		t.Fatalf("past the wait bound = %v, want busy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.acquire(ctx, HashTrusted); err == nil || CodeOf(err) == CodeBusy {
		t.Fatalf("cancelled = %v, want the context's error", err)
	}
	hold()
	if s.queued != 0 || s.free != 1 {
		t.Fatalf("free %d queued %d", s.free, s.queued)
	}
}

// Issue 10 (4): the flood's admitted hashes hold at most half the slots, so a trusted login
// finds one free instead of waiting for a whole hash of theirs to end.
func TestTheLowestClassHoldsAtMostHalfTheSlots(t *testing.T) {
	s := newSlots(2, time.Minute)
	other, err := s.acquire(context.Background(), HashOther)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan outcome, 4)
	go take(s, HashOther, out)
	queued(t, s, 1) // a slot is free, but not for a second 'other'
	trusted, err := s.acquire(context.Background(), HashTrusted)
	if err != nil {
		t.Fatalf("trusted with a slot free = %v, want it at once", err)
	}
	other() // the queued 'other' takes the slot its class gave back
	if o := <-out; o.err != nil || o.class != HashOther {
		t.Fatalf("granted %+v, want the waiting 'other'", o)
	} else {
		o.release()
	}
	trusted()
	if s.free != 2 || s.queued != 0 || s.held != [hashClasses]int{} {
		t.Fatalf("after all: free %d, queued %d, held %v", s.free, s.queued, s.held)
	}

	one := newSlots(1, time.Minute) // one slot: every class may use it
	release, err := one.acquire(context.Background(), HashOther)
	if err != nil {
		t.Fatalf("'other' with the only slot free = %v", err)
	}
	release()
}

// Issue 10 (2, 4): while trusted devices log in, the untrusted classes together leave them one
// slot: at the start of a flood from new addresses (the clean class) its guesses held both
// slots, a trusted login waited for one of their hashes to end, and with both cores hashing
// the requests being answered piled up as runnable goroutines. Before any trusted login, and a
// minute after the last one, untrusted logins may use every slot.
func TestUntrustedLeaveASlotWhileTrustedDevicesLogIn(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s := newSlots(2, time.Minute)
	s.now = func() time.Time { return now }
	a, errA := s.acquire(ctx, HashClean)
	b, errB := s.acquire(ctx, HashClean)
	if errA != nil || errB != nil {
		t.Fatalf("two clean logins before any trusted one = %v, %v; want both slots", errA, errB)
	}
	a()
	b()

	trusted, err := s.acquire(ctx, HashTrusted)
	if err != nil {
		t.Fatal(err)
	}
	trusted()
	clean, waited, err := s.acquireQueued(ctx, HashClean)
	if err != nil || waited {
		t.Fatalf("clean login with both slots free = waited %v, %v; want at once", waited, err)
	}
	out := make(chan outcome, 4)
	go take(s, HashClean, out)
	queued(t, s, 1) // a slot is free, but it is the trusted devices'
	if trusted, err = s.acquire(ctx, HashTrusted); err != nil {
		t.Fatalf("trusted with the flood holding a slot = %v, want the other at once", err)
	}
	clean() // the waiting clean login takes the slot its class gave back
	if o := <-out; o.err != nil || o.class != HashClean {
		t.Fatalf("granted %+v, want the waiting clean login", o)
	} else {
		o.release()
	}
	trusted()

	now = now.Add(trustedRecently + time.Second) // no trusted login for a minute
	a, errA = s.acquire(ctx, HashClean)
	b, errB = s.acquire(ctx, HashClean)
	if errA != nil || errB != nil {
		t.Fatalf("two clean logins a minute after the last trusted one = %v, %v; want both slots", errA, errB)
	}
	a()
	b()
	if s.free != 2 || s.queued != 0 || s.held != [hashClasses]int{} {
		t.Fatalf("after all: free %d, queued %d, held %v", s.free, s.queued, s.held)
	}
}
