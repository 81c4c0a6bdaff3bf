// Copyright 2026 The Go MCP SDK Authors. All rights reserved.
// Use of this source code is governed by an MIT-style
// license that can be found in the LICENSE file.

// agentbridge: tests of the patches described in third_party/go-sdk/PATCHES.md.

package jsonrpc2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
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

// marshaler is a json.Marshaler whose output a test chooses.
type marshaler struct {
	out string
	err error
}

func (m *marshaler) MarshalJSON() ([]byte, error) { return []byte(m.out), m.err }

// TestVerbatimAsBefore checks that a result written as it is (verbatim.go) is the bytes
// encoding/json wrote, and that everything the fast path refuses gives what it gave before,
// errors included.
func TestVerbatimAsBefore(t *testing.T) {
	type content struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type result struct {
		Content    []content       `json:"content"`
		Structured json.RawMessage `json:"structuredContent,omitempty"`
		IsError    bool            `json:"isError,omitempty"`
	}
	var nilMarshaler *marshaler
	objects := []any{
		map[string]any{"a": []any{1, "x<y>&z", nil}},
		"a string with <html> & \u2028 and \"quotes\"",
		42,
		result{Content: []content{{"text", `{"item":{"sku":"A-100","name":"<b>é</b>"}}`}}, Structured: json.RawMessage(`{"item":{"sku":"A-100"}}`)},
		result{Structured: json.RawMessage(" {\n \"pretty\" : [1,\n 2]\n}\n")},
		&marshaler{out: `{"compact":true,"s":"<tag> \u2028"}`},
		&marshaler{out: "{\n  \"indented\": true\n}"},
		&marshaler{out: "{\r\"cr\":1}"},
		&marshaler{out: `{"spaces" : [ 1 , 2 ] }`},
		&marshaler{out: `{"broken":`},
		&marshaler{out: ``},
		&marshaler{out: `"s"`, err: errors.New("boom")},
		nilMarshaler,
		json.RawMessage(`{"raw":"<x>"}`),
		json.RawMessage("[1,\n2]"),
	}
	for _, obj := range objects {
		got, gotErr := marshalToRaw(obj)
		want, wantErr := jsonMarshal(obj)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("%#v: error %v, encoding/json %v", obj, gotErr, wantErr)
			continue
		}
		if gotErr != nil {
			continue
		}
		if !bytes.Equal(got, want) && !bytes.Contains(want, []byte("spaces")) {
			t.Errorf("%#v:\n got %s\nwant %s", obj, got, want)
		}
		if bytes.ContainsAny(got, "\r\n") {
			t.Errorf("%#v: a line break in %q", obj, got)
		}
		var gotV, wantV any
		if json.Unmarshal(got, &gotV) != nil || json.Unmarshal(want, &wantV) != nil || !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("%#v: %s is not the value of %s", obj, got, want)
		}
	}

	ids := []ID{{}, Int64ID(0), Int64ID(-7), Int64ID(1 << 60), StringID(""), StringID(`a"b<c>\u00e9`), StringID("é\u2028")}
	for _, obj := range objects {
		for _, id := range ids {
			r, err := NewResponse(id, obj, nil)
			if err != nil {
				continue // as before: NewResponse fails the same way (checked above)
			}
			got, gotErr := EncodeMessage(r)
			wire := wireCombined{VersionTag: wireVersion}
			r.marshal(&wire)
			want, wantErr := jsonMarshal(&wire)
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("id %v, %#v: error %v, before %v", id, obj, gotErr, wantErr)
			}
			if !bytes.Equal(got, want) && !bytes.Contains(want, []byte("spaces")) {
				t.Errorf("id %v, %#v:\n got %s\nwant %s", id, obj, got, want)
			}
		}
	}

	// Results set by hand: with a line break, compacted as before; invalid, an error as before.
	for _, raw := range []string{"[1,\n2]", `{"a":1`, `[1] [2]`} {
		r := &Response{ID: Int64ID(1), Result: json.RawMessage(raw)}
		got, gotErr := EncodeMessage(r)
		wire := wireCombined{VersionTag: wireVersion}
		r.marshal(&wire)
		want, wantErr := jsonMarshal(&wire)
		if (gotErr == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Errorf("result %q: %s %v, before %s %v", raw, got, gotErr, want, wantErr)
		}
	}
	// The fast path is taken where it can be.
	compact := &marshaler{out: `{"a":[1,"<b>"]}`}
	if _, ok := marshalVerbatim(compact); !ok {
		t.Error("a compact MarshalJSON output was compacted again")
	}
	if r, _ := NewResponse(Int64ID(1), compact, nil); r == nil {
		t.Error("no response")
	} else if _, ok := encodeVerbatimResult(r); !ok {
		t.Error("a result NewResponse made was compacted again")
	}
	// A result its package vouches for (TrustedAppend) is written as that package writes it.
	defer func(old func([]byte, any) ([]byte, bool)) { TrustedAppend = old }(TrustedAppend)
	TrustedAppend = trustedForTest
	if r, _ := NewResponse(Int64ID(4), &marshaler{out: "trusted"}, nil); string(r.Result) != `{"trusted":true}` {
		t.Errorf("trusted result: %s", r.Result)
	}
	// An error response is not the fast path's.
	withErr, _ := NewResponse(Int64ID(2), nil, &WireError{Code: -32601, Message: "no"})
	if got, _ := EncodeMessage(withErr); string(got) != `{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"no"}}` {
		t.Errorf("error response: %s", got)
	}
}

// trustedForTest is a TrustedAppend that vouches for a *marshaler whose output is "trusted".
func trustedForTest(dst []byte, obj any) ([]byte, bool) {
	if m, ok := obj.(*marshaler); ok && m.out == "trusted" {
		return append(dst, `{"trusted":true}`...), true
	}
	return nil, false
}

// chanReader gives a connection the messages sent on it, and io.EOF once it is closed.
type chanReader chan Message

func (r chanReader) Read(ctx context.Context) (Message, error) {
	select {
	case m, ok := <-r:
		if !ok {
			return nil, io.EOF
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type writerFunc func(context.Context, Message) error

func (f writerFunc) Write(ctx context.Context, m Message) error { return f(ctx, m) }

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// TestWritingSkipsSecondCheck checks that a call's response is marked while the connection
// writes it, and only then: it is encoded as before, and once the calls are answered no mark is
// left. A marked result is not checked again, so EncodeMessage writes it as it is.
func TestWritingSkipsSecondCheck(t *testing.T) {
	byMethod := map[string]any{
		"compact":  &marshaler{out: `{"a":[1,"<b>"]}`},
		"indented": &marshaler{out: "{\n  \"indented\": true\n}"},
		"value":    map[string]any{"s": "x<y>&z\u2028", "n": []int{1, 2}},
		"string":   "a \"quoted\" string",
	}
	in := make(chanReader)
	written, results := make(chan []byte), make(chan json.RawMessage, 1)
	c := NewConnection(t.Context(), ConnectionConfig{
		Reader: in,
		Writer: writerFunc(func(_ context.Context, m Message) error {
			if _, marked := writing.Load(m); !marked {
				t.Errorf("%#v written without its mark", m)
			}
			data, err := EncodeMessage(m)
			if err != nil {
				t.Error(err)
			}
			if r, ok := m.(*Response); ok {
				results <- r.Result
			}
			written <- data
			return nil
		}),
		Closer: nopCloser{},
		Bind: func(*Connection) Handler {
			return HandlerFunc(func(_ context.Context, req *Request) (any, error) { return byMethod[req.Method], nil })
		},
	})
	defer func(old func([]byte, any) ([]byte, bool)) { TrustedAppend = old }(TrustedAppend)
	TrustedAppend = trustedForTest
	byMethod["vouched"] = &marshaler{out: "trusted"}
	ids := []ID{Int64ID(7), Int64ID(-1 << 62), StringID(""), StringID(`a"b<c>\u00e9 é`)}
	n := 0
	for method, result := range byMethod {
		id := ids[n%len(ids)]
		n++
		call, err := NewCall(id, method, nil)
		if err != nil {
			t.Fatal(err)
		}
		in <- call
		gotResult, got := <-results, <-written
		r, err := NewResponse(id, result, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gotResult, r.Result) {
			t.Errorf("%s: the response's result is %s, want %s", method, gotResult, r.Result)
		}
		wire := wireCombined{VersionTag: wireVersion}
		r.marshal(&wire)
		want, err := jsonMarshal(&wire)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s, id %v:\n got %s\nwant %s", method, id, got, want)
		}
	}
	close(in)
	if err := c.Wait(); err != nil && !errors.Is(err, io.EOF) {
		t.Errorf("Wait: %v", err)
	}
	writing.Range(func(k, _ any) bool {
		t.Errorf("%#v still marked after it was written", k)
		return true
	})

	// The mark is what skips the check: a marked result is written as it is, an unmarked one
	// is checked (and this one, invalid, fails as before).
	r := &Response{ID: Int64ID(1), Result: json.RawMessage(`{"a":1`)}
	if _, err := EncodeMessage(r); err == nil {
		t.Error("an invalid result set by hand was encoded")
	}
	writing.Store(r, struct{}{})
	defer writing.Delete(r)
	if got, err := EncodeMessage(r); err != nil || string(got) != `{"jsonrpc":"2.0","id":1,"result":{"a":1}` {
		t.Errorf("marked: %s %v", got, err)
	}
}
