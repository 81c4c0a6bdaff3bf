// Copyright 2026 The Go MCP SDK Authors. All rights reserved.
// Use of this source code is governed by an MIT-style
// license that can be found in the LICENSE file.

// agentbridge: tests of the patch described in third_party/go-sdk/PATCHES.md (patch 4).

package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/internal/jsonrpc2"
)

// releaseMarshal is CallToolResult.MarshalJSON as the release has it.
func releaseMarshal(x *CallToolResult) ([]byte, error) {
	type res CallToolResult
	type wire struct {
		res
		ResultType    resultType      `json:"resultType,omitempty"`
		InputRequests json.RawMessage `json:"inputRequests,omitempty"`
	}
	w := wire{res: res(*x), ResultType: x.resultType}
	if x.InputRequests != nil {
		ir, err := json.Marshal(x.InputRequests)
		if err != nil {
			return nil, err
		}
		w.InputRequests = ir
	}
	return json.Marshal(w)
}

// failing is structured content whose MarshalJSON fails or gives what a test chooses.
type failing struct {
	out string
	err error
}

func (f *failing) MarshalJSON() ([]byte, error) { return []byte(f.out), f.err }

// TestMarshalVerbatimAsRelease checks that CallToolResult.MarshalJSON gives the release's bytes
// (or, where the input has spaces between tokens, the same value), and the release's errors.
func TestMarshalVerbatimAsRelease(t *testing.T) {
	var nilFailing *failing
	item := `{"item":{"sku":"A-100","name":"Drill <b>&</b> \u2028 \u2029 é \"q\"","n":[1,2.5,null,true]}}`
	results := []*CallToolResult{
		{},
		{Content: []Content{}},
		{Content: []Content{&TextContent{Text: item}}, StructuredContent: json.RawMessage(item)},
		{Content: []Content{&TextContent{Text: "a\nb\tc"}, &TextContent{Text: "<>&"}}, IsError: true},
		{StructuredContent: json.RawMessage(`{ "spaced" : [ 1 , 2 ] }`)},
		{StructuredContent: json.RawMessage("{\n\"indented\": true\n}")},
		{StructuredContent: json.RawMessage(`{"broken":`)},
		{StructuredContent: map[string]any{"z": "<x>", "a": []any{1, "\u2028"}}},
		{StructuredContent: struct {
			A string `json:"a"`
		}{"&"}},
		{StructuredContent: &failing{out: `{"x":"<y>"}`}},
		{StructuredContent: &failing{err: errors.New("boom")}},
		{StructuredContent: nilFailing},
		{Content: []Content{nil}},
		{Content: []Content{&TextContent{Text: "t", Meta: Meta{"k": "v"}}}},
		{Meta: Meta{"m": 1}, Content: []Content{&TextContent{Text: "t"}}},
		{Content: []Content{&TextContent{Text: "t"}}, RequestState: "s"},
		{Content: []Content{&TextContent{Text: "t"}}, resultType: resultTypeComplete},
		{Content: []Content{&ImageContent{Data: []byte{1, 2, 3}, MIMEType: "image/png"}}},
		{Content: []Content{&TextContent{Text: "ctl \x00\x01\b\f\n\r\t\x1f\x7f q\" b\\ <>& \u2028\u2029 \ufffd é 😀 bad \xff\xc3 end"}}},
		{Content: []Content{&TextContent{Text: ""}, &TextContent{Text: "x", Annotations: &Annotations{Priority: 1}}, &ImageContent{Data: []byte{9}}}},
		{Content: []Content{&TextContent{Text: strings.Repeat("<long \u2028 é \"text\">", 2000)}}, StructuredContent: json.RawMessage(item)},
	}
	for i, x := range results {
		got, gotErr := x.MarshalJSON()
		want, wantErr := releaseMarshal(x)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("%d: error %v, release %v", i, gotErr, wantErr)
			continue
		}
		if gotErr != nil {
			continue
		}
		if bytes.ContainsAny(got, "\r\n") {
			t.Errorf("%d: a line break in %q", i, got)
		}
		if bytes.Equal(got, want) {
			continue
		}
		var gotV, wantV any
		if !bytes.Contains(want, []byte("spaced")) || json.Unmarshal(got, &gotV) != nil || json.Unmarshal(want, &wantV) != nil || !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("%d:\n got %s\nwant %s", i, got, want)
		}
	}
	// The fast path is taken for the usual result, and vouched for to jsonrpc2.
	if _, ok := results[2].marshalVerbatim(); !ok {
		t.Error("a text and structured result was marshaled the long way")
	}
	if data, ok := jsonrpc2.TrustedAppend(nil, results[2]); !ok || !bytes.Equal(data, resultJSON(t, results[2])) {
		t.Errorf("TrustedAppend of a tool result: %s, %v", data, ok)
	}
	prefix := []byte(`{"jsonrpc":"2.0","id":1,"result":`)
	if data, ok := jsonrpc2.TrustedAppend(prefix[:len(prefix):len(prefix)], results[2]); !ok || !bytes.Equal(data, append(prefix, resultJSON(t, results[2])...)) {
		t.Errorf("TrustedAppend of a tool result after a prefix: %s, %v", data, ok)
	}
}

// TestAppendStringAsMarshal: appendString writes every string as json.Marshal does, on strings
// of bytes drawn mostly from the ones that are escaped, and every one-byte and some two-byte
// strings.
func TestAppendStringAsMarshal(t *testing.T) {
	check := func(s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
	for b := range 256 {
		check(string([]byte{byte(b)}))
		check("a" + string([]byte{byte(b), 0x80}) + "z")
	}
	alphabet := []string{"a", " ", "\"", "\\", "<", ">", "&", "\n", "\x00", "\x1f", "\x7f", "é", "\u2028", "\u2029", "\ufffd", "😀", "\xe2", "\x80", "\xa8", "\xff", "\xc3", "\xed\xa0\x80"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var sb strings.Builder
		for range rng.IntN(24) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		check(sb.String())
	}
}

func resultJSON(t *testing.T, x *CallToolResult) []byte {
	t.Helper()
	data, err := x.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestMarshalVerbatimOneBuffer checks that a tool result of JSON, as text and as structured
// content, is written into one buffer that is not grown: the sizing counts the quotes and
// backslashes of the text, which take two bytes each.
func TestMarshalVerbatimOneBuffer(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"orders":[`)
	for i := range 200 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"orderId":"O-`)
		b.WriteString(strings.Repeat("7", i%9+1))
		b.WriteString(`","customer":"C \"quoted\" \\ name","status":"OPEN","total":12.5}`)
	}
	b.WriteString(`]}`)
	data := json.RawMessage(b.String())
	x := &CallToolResult{Content: []Content{&TextContent{Text: string(data)}}, StructuredContent: data}
	want, err := releaseMarshal(x)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	allocs := testing.AllocsPerRun(10, func() {
		var ok bool
		if got, ok = x.marshalVerbatim(); !ok {
			t.Fatal("not written verbatim")
		}
	})
	if !bytes.Equal(got, want) {
		t.Errorf("got %.200s\nwant %.200s", got, want)
	}
	if allocs != 1 && !raceEnabled() {
		t.Errorf("%v allocations, want 1: the buffer was grown", allocs)
	}
}
