package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLazyDeadline(t *testing.T) {
	t.Run("it_ends_at_its_deadline", func(t *testing.T) {
		c := &lazyDeadline{Context: context.Background(), at: time.Now().Add(20 * time.Millisecond)}
		defer c.release()
		if at, ok := c.Deadline(); !ok || !at.Equal(c.at) {
			t.Fatal("no deadline")
		}
		if c.Err() != nil {
			t.Fatal("done early")
		}
		select {
		case <-c.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("never done")
		}
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Fatalf("%v", c.Err())
		}
		// A timeout is told apart from a client that went away.
		if !errors.Is(context.Cause(c), context.DeadlineExceeded) {
			t.Fatalf("cause %v", context.Cause(c))
		}
	})
	t.Run("it_ends_with_its_parent", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		c := &lazyDeadline{Context: parent, at: time.Now().Add(time.Hour)}
		defer c.release()
		done := c.Done()
		cancel()
		<-done
		if !errors.Is(c.Err(), context.Canceled) {
			t.Fatalf("%v", c.Err())
		}
	})
	t.Run("a_deadline_in_the_past_is_done_at_once", func(t *testing.T) {
		c := &lazyDeadline{Context: context.Background(), at: time.Now().Add(-time.Second)}
		defer c.release()
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Fatalf("%v", c.Err())
		}
	})
	t.Run("unused_it_makes_no_timer_and_is_done_after_the_request", func(t *testing.T) {
		type key struct{}
		c := &lazyDeadline{Context: context.WithValue(context.Background(), key{}, "v"), at: time.Now().Add(time.Hour)}
		if c.Value(key{}) != "v" {
			t.Fatal("values are lost")
		}
		c.release()
		if c.cancel != nil {
			t.Fatal("a timer was made")
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("not done after the request")
		}
	})
	t.Run("derived_contexts_follow_it", func(t *testing.T) {
		c := &lazyDeadline{Context: context.Background(), at: time.Now().Add(10 * time.Millisecond)}
		defer c.release()
		child, cancel := context.WithCancel(c)
		defer cancel()
		select {
		case <-child.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("the child outlived the deadline")
		}
	})
}
