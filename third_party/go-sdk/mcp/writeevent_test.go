// Copyright 2026 The Go MCP SDK Authors. All rights reserved.
// Use of this source code is governed by an MIT-style
// license that can be found in the LICENSE file.

// agentbridge: tests of the patch described in third_party/go-sdk/PATCHES.md (patch 6).

package mcp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"testing"
)

// writeEventRelease is writeEvent as the release has it.
func writeEventRelease(w http.ResponseWriter, evt Event) (int, error) {
	var b bytes.Buffer
	if evt.Name != "" {
		fmt.Fprintf(&b, "event: %s\n", evt.Name)
	}
	if evt.ID != "" {
		fmt.Fprintf(&b, "id: %s\n", evt.ID)
	}
	if evt.Retry != "" {
		fmt.Fprintf(&b, "retry: %s\n", evt.Retry)
	}
	b.Grow(len("data: \n\n") + len(evt.Data))
	b.WriteString("data: ")
	b.Write(evt.Data)
	b.WriteString("\n\n")
	n, err := w.Write(b.Bytes())
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	return n, err
}

// TestWriteEventAsRelease checks that writeEvent writes what the release writes, in one write
// with the same count, and flushes, for every combination of fields, with events of different
// sizes one after another (so that pooled buffers of every size are reused), one larger than
// the pool keeps among them.
func TestWriteEventAsRelease(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(' ' + rng.IntN(95))
		}
		return b
	}
	datas := [][]byte{nil, {}, []byte(`{"jsonrpc":"2.0","id":1,"result":{}}`), random(40 << 10), random(3), random(maxPooledEvent + 1), random(100)}
	var events []Event
	for _, name := range []string{"", "message", "é%s"} {
		for _, id := range []string{"", "0", "7_12", "%d"} {
			for _, retry := range []string{"", "1000"} {
				for _, data := range datas {
					events = append(events, Event{Name: name, ID: id, Retry: retry, Data: data})
				}
			}
		}
	}
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	for _, evt := range events {
		got, want := &recordingWriter{ResponseRecorder: httptest.NewRecorder()}, httptest.NewRecorder()
		gotN, gotErr := writeEvent(got, evt)
		wantN, wantErr := writeEventRelease(want, evt)
		if gotN != wantN || (gotErr == nil) != (wantErr == nil) || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Errorf("%q %q %q %d bytes: wrote %d %v %.80q, release %d %v %.80q", evt.Name, evt.ID, evt.Retry, len(evt.Data),
				gotN, gotErr, got.Body.Bytes(), wantN, wantErr, want.Body.Bytes())
		}
		if got.writes != 1 {
			t.Errorf("%q %q %q: %d writes", evt.Name, evt.ID, evt.Retry, got.writes)
		}
		if !got.Flushed {
			t.Errorf("%q %q %q: not flushed", evt.Name, evt.ID, evt.Retry)
		}
	}
}

// TestWriteEventReusesBuffer checks that events written one after another allocate no buffer
// of their size, where the release allocated one per event.
func TestWriteEventReusesBuffer(t *testing.T) {
	if raceEnabled() {
		t.Skip("the race detector drops pooled items at random")
	}
	evt := Event{Name: "message", ID: "7_12", Data: bytes.Repeat([]byte("x"), 40<<10)}
	if got := bytesPerRun(func() { _, _ = writeEvent(discardWriter{}, evt) }); got > 1<<10 {
		t.Errorf("%d bytes allocated per event of %d bytes", got, len(evt.Data))
	}
	if got := bytesPerRun(func() { _, _ = writeEventRelease(discardWriter{}, evt) }); got < len(evt.Data) {
		t.Errorf("the release allocated %d bytes per event of %d bytes: the test no longer measures what it did", got, len(evt.Data))
	}
}

// raceEnabled reports whether the test binary was built with -race, under which sync.Pool
// drops items at random and allocation counts do not hold.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// bytesPerRun is how many bytes f allocates, on average over 20 runs after a first one.
func bytesPerRun(f func()) int {
	var before, after runtime.MemStats
	f()
	runtime.ReadMemStats(&before)
	for range 20 {
		f()
	}
	runtime.ReadMemStats(&after)
	return int(after.TotalAlloc-before.TotalAlloc) / 20
}

// recordingWriter counts the writes to a ResponseRecorder.
type recordingWriter struct {
	*httptest.ResponseRecorder
	writes int
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.ResponseRecorder.Write(p)
}

// discardWriter is an http.ResponseWriter that keeps nothing.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}
