// Copyright 2026 The Go MCP SDK Authors. All rights reserved.
// Use of this source code is governed by an MIT-style
// license that can be found in the LICENSE file.

// agentbridge patch (third_party/go-sdk/PATCHES.md): a tool result's content and structured
// content are not compacted again.

package mcp

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/internal/jsonrpc2"
)

// A result this file writes is valid JSON with no line break by construction (each part is
// checked, or written here), so the response that carries it need not check it again.
func init() {
	jsonrpc2.TrustedAppend = func(dst []byte, obj any) ([]byte, bool) {
		if x, ok := obj.(*CallToolResult); ok && x != nil {
			return x.appendVerbatim(dst)
		}
		return nil, false
	}
}

// marshalVerbatim writes the usual result of a tool call (no _meta, no input requests, no
// request state, no result type) with the same bytes as json.Marshal of CallToolResult's wire
// form: {"content":[...],"structuredContent":...,"isError":true}, the last two when set. It
// reports false for anything else, and the caller marshals the long way.
//
// json.Marshal re-reads the output of every json.Marshaler (each content item, a
// json.RawMessage of structured content) to compact it and escape HTML characters, a byte at
// a time: for a result of a few tens of KB, most of what marshaling it costs. Here that output
// is checked instead (valid JSON with no line break, with segmentio's Valid) and copied with
// the escaping json.Marshal applies: <, > and & and U+2028, U+2029, which valid JSON can only
// hold inside strings, as \u escapes. JSON with spaces or tabs between tokens, which
// compacting would remove, is copied with them: the same value.
func (x *CallToolResult) marshalVerbatim() ([]byte, bool) { return x.appendVerbatim(nil) }

// appendVerbatim is marshalVerbatim appending to dst, which it grows once, to the result's
// size. It reports false, with nothing to use, where marshalVerbatim does.
func (x *CallToolResult) appendVerbatim(dst []byte) ([]byte, bool) {
	if len(x.Meta) > 0 || x.InputRequests != nil || x.RequestState != "" || x.resultType != "" {
		return nil, false
	}
	var sdata []byte // the structured content's JSON, marshaled first to size the buffer
	if sc := x.StructuredContent; sc != nil {
		var err error
		if m, ok := sc.(json.Marshaler); ok {
			if isNilPointer(sc) {
				return nil, false
			}
			sdata, err = m.MarshalJSON()
		} else {
			sdata, err = json.Marshal(sc)
		}
		if err != nil {
			return nil, false
		}
	}
	// The buffer is sized so that it is not grown: a text's quotes and backslashes take two
	// bytes each (counting them costs a small part of a copy; a text of JSON has many), and the
	// other escapes, rare, get a little room.
	size := 64 + len(sdata) + len(sdata)/16
	for _, c := range x.Content {
		if tc, ok := c.(*TextContent); ok && tc != nil {
			size += 64 + len(tc.Text) + strings.Count(tc.Text, `"`) + strings.Count(tc.Text, `\`) + len(tc.Text)/64
		}
	}
	buf := slices.Grow(dst, size)
	buf = append(buf, `{"content":`...)
	if x.Content == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, '[')
		for i, c := range x.Content {
			if c == nil || isNilPointer(c) {
				return nil, false
			}
			if i > 0 {
				buf = append(buf, ',')
			}
			if tc, ok := c.(*TextContent); ok && len(tc.Meta) == 0 && tc.Annotations == nil {
				// As TextContent.MarshalJSON writes it, in one pass rather than three (marshal,
				// check, copy).
				buf = append(buf, `{"type":"text","text":`...)
				buf = append(appendString(buf, tc.Text), '}')
				continue
			}
			data, err := c.MarshalJSON()
			if err != nil {
				return nil, false
			}
			var ok bool
			if buf, ok = appendVerbatim(buf, data); !ok {
				return nil, false
			}
		}
		buf = append(buf, ']')
	}
	if x.StructuredContent != nil {
		buf = append(buf, `,"structuredContent":`...)
		var ok bool
		if buf, ok = appendVerbatim(buf, sdata); !ok {
			return nil, false
		}
	}
	if x.IsError {
		buf = append(buf, `,"isError":true`...)
	}
	return append(buf, '}'), true
}

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// appendVerbatim appends data, JSON, to buf as json.Marshal writes a json.Marshaler's output,
// and reports whether it could: data must be valid and hold no line break.
func appendVerbatim(buf, data []byte) ([]byte, bool) {
	if !jsonrpc2.Verbatim(data) {
		return buf, false
	}
	// Most JSON has none of the characters to escape: find the first, if any, at memchr speed.
	first := bytes.IndexAny(data, "<>&")
	if j := bytes.IndexByte(data, 0xE2); j >= 0 && (first < 0 || j < first) {
		first = j
	}
	if first < 0 {
		return append(buf, data...), true
	}
	const hex = "0123456789abcdef"
	start := 0
	for i := first; i < len(data); {
		c := data[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			buf = append(buf, data[start:i]...)
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			i++
			start = i
		case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && data[i+2]&^1 == 0xA8:
			// U+2028 or U+2029
			buf = append(buf, data[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[data[i+2]&0xF])
			i += 3
			start = i
		default:
			i++
		}
	}
	return append(buf, data[start:]...), true
}

// stringPlain marks the ASCII bytes json.Marshal writes as they are inside a string: all but
// the control characters, '"', '\\' and the HTML characters <, > and &.
var stringPlain = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string with json.Marshal's escaping: '"' and '\\' escaped,
// \b \f \n \r \t by their short escapes and the other control characters, <, > and & as \u00XX,
// each byte of invalid UTF-8 as \ufffd, and U+2028 and U+2029 as \u2028 and \u2029.
func appendString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if stringPlain[c] {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
