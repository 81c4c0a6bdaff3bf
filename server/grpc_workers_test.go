package server_test

import (
	"runtime"
	"testing"
	"time"
)

// TestCloseEndsGRPCWorkers checks that a server built and never served leaves no goroutine
// behind once closed: the gRPC server's stream workers, started when it is made, end with Close.
func TestCloseEndsGRPCWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := newGoInventory(t)
	if made := runtime.NumGoroutine(); made <= before {
		t.Fatalf("%d goroutines after New, %d before: expected the gRPC server's stream workers", made, before)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 10 s after Close, %d before New", runtime.NumGoroutine(), before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
