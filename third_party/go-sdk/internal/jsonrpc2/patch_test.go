// Copyright 2026 The Go MCP SDK Authors. All rights reserved.
// Use of this source code is governed by an MIT-style
// license that can be found in the LICENSE file.

// agentbridge: tests of the patches described in third_party/go-sdk/PATCHES.md.

package jsonrpc2

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// goroutineID is the running goroutine's id, from its stack header.
func goroutineID() uint64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(buf[:bytes.IndexByte(buf, ' ')]), 10, 64)
	return id
}

// TestGoHandlerReusesWorkers checks that handlers run one after another reuse a goroutine (a new
// goroutine always has a new id), that a busy worker never delays another handler, that idle
// workers leave, and that workers end with their connection.
func TestGoHandlerReusesWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	c := &Connection{done: make(chan struct{}), handlerWork: make(chan func())}
	handlerWorkerIdle.Store(int64(50 * time.Millisecond))
	t.Cleanup(func() { handlerWorkerIdle.Store(int64(2 * time.Second)) })

	seen := map[uint64]bool{}
	reused := false
	for range 1000 {
		ch := make(chan uint64)
		c.goHandler(func() { ch <- goroutineID() })
		id := <-ch
		if seen[id] {
			reused = true
			break
		}
		seen[id] = true
	}
	if !reused {
		t.Errorf("1000 handlers in turn ran on %d goroutines, none reused", len(seen))
	}

	// Handlers run concurrently: each of these waits until all have started.
	const n = 8
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	all := make(chan struct{})
	for range n {
		c.goHandler(func() {
			defer done.Done()
			started.Done()
			<-all
		})
	}
	waited := make(chan struct{})
	go func() { started.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("handlers did not all start while the first ones were busy")
	}
	close(all)
	done.Wait()

	waitGoroutines := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines, %d before: %s", runtime.NumGoroutine(), before, what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitGoroutines("idle workers did not leave")

	// Workers end with the connection, idle or not.
	handlerWorkerIdle.Store(int64(time.Hour))
	for range 4 {
		c.goHandler(func() {})
	}
	close(c.done)
	waitGoroutines("workers outlived their connection")
}
