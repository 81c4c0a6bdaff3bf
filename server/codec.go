package server

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The one JSON form every JSON surface (Connect, REST, MCP) speaks: protojson with lowerCamel
// names, zero values and empty lists written (an agent should see a 0, not guess at a missing
// field) but no nulls for unset messages (so results validate against their schemas), and
// unknown fields rejected (an agent's typo must not be silently dropped).
var (
	jsonMarshal   = protojson.MarshalOptions{EmitDefaultValues: true}
	jsonUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: false}
)

// jsonError turns a protojson error into a message that names the message type and the
// problem, without protojson's "proto:" prefix.
func jsonError(msg proto.Message, err error) error {
	text := strings.TrimPrefix(err.Error(), "proto:")
	text = strings.TrimSpace(strings.ReplaceAll(text, "\u00a0", " "))
	return fmt.Errorf("invalid JSON for %s: %s", msg.ProtoReflect().Descriptor().FullName(), text)
}

// gatewayJSON is grpc-gateway's JSONPb with the shared options and clearer decode errors.
type gatewayJSON struct {
	runtime.JSONPb
}

func newGatewayJSON() *gatewayJSON {
	return &gatewayJSON{runtime.JSONPb{MarshalOptions: jsonMarshal, UnmarshalOptions: jsonUnmarshal}}
}

// streamContentType is the content type of a server-streaming REST response: newline-delimited
// JSON, one {"result": …} or {"error": …} object per line, as grpc-gateway writes streams.
const streamContentType = "application/x-ndjson"

// StreamContentType labels a server-streaming REST response as what it is, one JSON object per
// line, rather than application/json, which a client would read as one document.
func (j *gatewayJSON) StreamContentType(any) string { return streamContentType }

func (j *gatewayJSON) Unmarshal(data []byte, v any) error {
	if err := j.JSONPb.Unmarshal(data, v); err != nil {
		if m, ok := v.(proto.Message); ok {
			return jsonError(m, err)
		}
		return err
	}
	return nil
}

func (j *gatewayJSON) NewDecoder(r io.Reader) runtime.Decoder {
	inner := j.JSONPb.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		if err := inner.Decode(v); err != nil {
			if m, ok := v.(proto.Message); ok && !errors.Is(err, io.EOF) {
				return jsonError(m, err)
			}
			return err
		}
		return nil
	})
}
