// Copyright 2026 The Go MCP SDK Authors. All rights reserved.
// Use of this source code is governed by an MIT-style
// license that can be found in the LICENSE file.

// agentbridge patch (third_party/go-sdk/PATCHES.md): request handlers run on reused goroutines.

package jsonrpc2

import (
	"sync/atomic"
	"time"
)

// goHandler runs f, a request's handler, on a goroutine of its own, as `go f()` would.
//
// A handler started on a new goroutine begins with a small stack and grows it, copying the stack
// each time it doubles, on every request: a tools/call through a server's middleware is deep
// enough to double it more than once. goHandler gives f to a worker goroutine that ran an earlier
// handler of this connection and is now waiting, so its stack has already grown, or else starts
// a new goroutine, which stays for later handlers. Handlers still run concurrently: a handler
// never waits for a busy worker.
//
// Workers belong to one connection, so they end with it (and a test's synctest bubble that made
// the connection has them too). A worker also leaves after handlerWorkerIdle without work, or
// after handlerWorkerTasks handlers so that no goroutine lives forever; the garbage collector
// shrinks a waiting worker's stack as it does any goroutine's.
func (c *Connection) goHandler(f func()) {
	select {
	case c.handlerWork <- f: // unbuffered: only a waiting worker takes it
	default:
		go c.handlerWorker(f)
	}
}

// handlerWorkerIdle is a time.Duration, a variable so that a test can shorten it.
var handlerWorkerIdle atomic.Int64

func init() { handlerWorkerIdle.Store(int64(2 * time.Second)) }

const handlerWorkerTasks = 1 << 16

func (c *Connection) handlerWorker(f func()) {
	f()
	idle := time.NewTimer(time.Duration(handlerWorkerIdle.Load()))
	defer idle.Stop()
	for range handlerWorkerTasks - 1 {
		select {
		case f = <-c.handlerWork:
			f()
			idle.Reset(time.Duration(handlerWorkerIdle.Load()))
		case <-idle.C:
			return
		case <-c.done:
			return
		}
	}
}
