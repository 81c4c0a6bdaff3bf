// Copyright 2026 The Go MCP SDK Authors. All rights reserved.
// Use of this source code is governed by an MIT-style
// license that can be found in the LICENSE file.

// agentbridge: tests of the patch described in third_party/go-sdk/PATCHES.md.

package json

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"
)

// TestUnmarshalAsDecoder checks that Unmarshal, which now parses in place, answers as the
// Decoder it replaced: the same value where both succeed, an error where the Decoder failed,
// and io.EOF for empty input.
func TestUnmarshalAsDecoder(t *testing.T) {
	type params struct {
		Name      string         `json:"name"`
		Arguments map[string]any `json:"arguments,omitempty"`
		Meta      map[string]any `json:"_meta,omitempty"`
		N         int            `json:"n"`
	}
	for _, in := range []string{
		``, `  `, "\n\t", `{}`, `{} trailing`, `{"name":"a"}{`, `[1,`, `nul`, `null`,
		`{"name":"GetItem","arguments":{"sku":"A-100"},"_meta":{"progressToken":7}}`,
		`{"Name":"case differs"}`, `{"n":"not a number"}`, `{"n":1e400}`, `"\ud800"`,
		`{"name":"\u00e9\ud83d\ude00"}`, `{"name":1}`, `[]`, `{"arguments":null}`,
	} {
		var got, want params
		gotErr := Unmarshal([]byte(in), &got)
		wantErr := NewDecoder(bytes.NewReader([]byte(in))).Decode(&want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%q: Unmarshal error %v, Decoder error %v", in, gotErr, wantErr)
			continue
		}
		if errors.Is(wantErr, io.EOF) != errors.Is(gotErr, io.EOF) {
			t.Errorf("%q: Unmarshal error %v, Decoder error %v: io.EOF differs", in, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%q: Unmarshal %+v, Decoder %+v", in, got, want)
		}
	}
}

// TestUnmarshalAllocatesLittle checks the point of the patch: a small message no longer costs a
// 32 KiB buffer.
func TestUnmarshalAllocatesLittle(t *testing.T) {
	data := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"GetItem","arguments":{"sku":"A-100"}}}`)
	var ms0, ms1 runtime.MemStats
	const n = 100
	runtime.ReadMemStats(&ms0)
	for range n {
		var v map[string]any
		if err := Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&ms1)
	if per := (ms1.TotalAlloc - ms0.TotalAlloc) / n; per > 8<<10 {
		t.Errorf("Unmarshal of %d bytes allocated %d bytes per call; want under 8 KiB", len(data), per)
	}
}
