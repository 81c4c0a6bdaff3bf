// Copyright 2026 The Go MCP SDK Authors. All rights reserved.
// Use of this source code is governed by an MIT-style
// license that can be found in the LICENSE file.

// agentbridge: tests of the patch described in third_party/go-sdk/PATCHES.md (patch 5).

package mcp

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	internaljson "github.com/modelcontextprotocol/go-sdk/internal/json"
	"github.com/modelcontextprotocol/go-sdk/internal/jsonrpc2"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// readBatchRelease is readBatch as v1.8.0 has it.
func readBatchRelease(data []byte) (msgs []jsonrpc.Message, isBatch bool, _ error) {
	var rawBatch []json.RawMessage
	if err := internaljson.Unmarshal(data, &rawBatch); err == nil {
		if len(rawBatch) == 0 {
			return nil, true, fmt.Errorf("empty batch")
		}
		for _, raw := range rawBatch {
			msg, err := jsonrpc2.DecodeMessage(raw)
			if err != nil {
				return nil, true, err
			}
			msgs = append(msgs, msg)
		}
		return msgs, true, nil
	}
	msg, err := jsonrpc2.DecodeMessage(data)
	return []jsonrpc.Message{msg}, false, err
}

// TestReadBatchAsRelease: readBatch reads every input as the release did (the same messages,
// batch or not, the same error), messages, batches and what is neither.
func TestReadBatchAsRelease(t *testing.T) {
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1}}}`
	note := `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`
	for _, in := range []string{
		call, note, " \t\r\n" + call, "[" + call + "," + note + "]", " [" + call + "]", "[]", "null", " null",
		"nul", "nonsense", "", " ", "{", "[", `"text"`, "42", "true", `{"jsonrpc":"2.0"}`, "[1]", call + " trailing",
		`{"jsonrpc":"2.0","id":"x","result":{}}`, `{"jsonrpc":"2.0","id":2,"error":{"code":-32600,"message":"m"}}`,
	} {
		msgs, batch, err := readBatch([]byte(in))
		wantMsgs, wantBatch, wantErr := readBatchRelease([]byte(in))
		if batch != wantBatch || (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Errorf("%q: batch %v, error %v; the release: %v, %v", in, batch, err, wantBatch, wantErr)
			continue
		}
		if !reflect.DeepEqual(msgs, wantMsgs) {
			t.Errorf("%q: messages %+v; the release: %+v", in, msgs, wantMsgs)
		}
	}
}
