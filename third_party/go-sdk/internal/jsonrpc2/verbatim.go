// Copyright 2026 The Go MCP SDK Authors. All rights reserved.
// Use of this source code is governed by an MIT-style
// license that can be found in the LICENSE file.

// agentbridge patch (third_party/go-sdk/PATCHES.md): JSON that is already valid and compact is
// not compacted again.

package jsonrpc2

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"sync"

	segjson "github.com/segmentio/encoding/json"
)

// encoding/json re-reads the output of every json.Marshaler, a json.RawMessage included, to
// compact it, with a scanner that reads a byte at a time. A response's result is marshaled by
// NewResponse (compacting the output of the result's MarshalJSON) and then, as a
// json.RawMessage, compacted again by EncodeMessage: for a tool's result of a few tens of KB,
// most of the CPU of a call. The functions here write such JSON as it is when it is valid (a
// check several times faster than compacting) and holds no line break. Line breaks are all a
// compaction can remove that matters: JSON strings cannot hold a raw one, so any is whitespace
// between tokens, and a line break would end an SSE data line. JSON with other whitespace
// between tokens (spaces, tabs) is written with it: the same value. Anything else takes the
// long way, with the same result and the same errors as before.

// Verbatim reports whether data can be written as it is where encoding/json would compact it:
// it is valid JSON and holds no line break. (The mcp package uses it too.)
func Verbatim(data []byte) bool {
	return len(data) > 0 && bytes.IndexByte(data, '\n') < 0 && bytes.IndexByte(data, '\r') < 0 && segjson.Valid(data)
}

// TrustedAppend, when set, appends to dst the JSON of a result its package writes itself, when
// that package can vouch that it is what the result's MarshalJSON returns, valid, and free of
// line breaks; false otherwise. Package mcp sets it (for tool results) in an init function.
var TrustedAppend func(dst []byte, obj any) ([]byte, bool)

// marshalVerbatim returns the output of obj's MarshalJSON when obj is a json.Marshaler (not a
// nil pointer, which encoding/json writes as null without calling it) and the output can be
// written as it is. Otherwise it reports false, and the caller marshals obj the usual way.
func marshalVerbatim(obj any) (json.RawMessage, bool) {
	if TrustedAppend != nil {
		if data, ok := TrustedAppend(nil, obj); ok {
			return data, true
		}
	}
	m, ok := obj.(json.Marshaler)
	if !ok {
		return nil, false
	}
	if v := reflect.ValueOf(obj); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, false
	}
	data, err := m.MarshalJSON()
	if err != nil || !Verbatim(data) {
		return nil, false
	}
	return data, true
}

// writing holds the responses processResult is writing, from their making to the return of
// the connection's write, each with its encoding when processResult made it too (else nil).
// A result processResult makes can be written as it is: the output of marshalVerbatim,
// checked, or of encoding/json, which is compact and escapes line breaks. So EncodeMessage,
// which the transports call while writing, need not check it a second time, nor copy it into a
// message of its own when the message was written around it: for a tool's result of tens of
// KB, each as much as a copy of it costs. A response made or changed anywhere else is not in
// the set, and is checked.
var writing sync.Map // *Response → []byte

// newTrustedResponse makes the response to a call whose handler returned result, when
// TrustedAppend vouches for the result: the message is written whole, the result in place, and
// the response's Result is that part of it. Otherwise it reports false.
func newTrustedResponse(id ID, result any) (*Response, []byte, bool) {
	if TrustedAppend == nil {
		return nil, nil, false
	}
	prefix, ok := appendResultPrefix(make([]byte, 0, 64), id)
	if !ok {
		return nil, nil, false
	}
	data, ok := TrustedAppend(prefix, result)
	if !ok || len(data) == len(prefix) {
		return nil, nil, false
	}
	data = append(data, '}')
	end := len(data) - 1
	return &Response{ID: id, Result: data[len(prefix):end:end]}, data[:len(data):len(data)], true
}

// appendResultPrefix appends the start of a successful response, {"jsonrpc":"2.0","id":ID,"result":
// ("id" left out when the ID is not set), as EncodeMessage writes it. It reports false for an
// ID it does not write.
func appendResultPrefix(dst []byte, id ID) ([]byte, bool) {
	dst = append(dst, `{"jsonrpc":"2.0"`...)
	switch id := id.value.(type) {
	case nil:
	case int64:
		dst = append(dst, `,"id":`...)
		dst = strconv.AppendInt(dst, id, 10)
	case string:
		quoted, err := jsonMarshal(id)
		if err != nil {
			return dst, false
		}
		dst = append(dst, `,"id":`...)
		dst = append(dst, quoted...)
	default:
		return dst, false
	}
	return append(dst, `,"result":`...), true
}

// encodeVerbatimResult encodes a successful response whose result can be written as it is,
// with the same bytes as EncodeMessage: {"jsonrpc":"2.0","id":ID,"result":RESULT}, "id" left
// out when the ID is not set. Otherwise it reports false.
func encodeVerbatimResult(r *Response) ([]byte, bool) {
	if r.Error != nil || len(r.Result) == 0 {
		return nil, false
	}
	if v, ok := writing.Load(r); ok {
		if data, _ := v.([]byte); data != nil {
			return data, true
		}
	} else if !Verbatim(r.Result) {
		return nil, false
	}
	data, ok := appendResultPrefix(make([]byte, 0, len(r.Result)+48), r.ID)
	if !ok {
		return nil, false
	}
	data = append(data, r.Result...)
	return append(data, '}'), true
}
