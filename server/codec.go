package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/agentbridge/agentbridge/server/jsonplan"
	"github.com/agentbridge/agentbridge/server/wireplan"
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

// newJSONEncoder returns the encoder that writes jsonMarshal's form from plans, resolving Any
// types through types.
func newJSONEncoder(types detailTypes) *jsonplan.Encoder {
	o := jsonMarshal
	o.Resolver = types
	return jsonplan.New(o)
}

// jsonDecoder returns g's request decoder, or one made now for a generation built in part
// (tests).
func (g *generation) jsonDecoder() *jsonplan.Decoder {
	if g.jsonIn != nil {
		return g.jsonIn
	}
	return jsonplan.NewDecoder(jsonUnmarshal)
}

// jsonEncoder returns g's encoder, or one made now for a generation built in part (tests).
func (g *generation) jsonEncoder() *jsonplan.Encoder {
	if g.json != nil {
		return g.json
	}
	return jsonplan.New(jsonMarshal)
}

// jsonError turns a protojson error for data into a message that names the message type and
// the problem, without protojson's "proto:" prefix. A null that protojson refuses is explained
// by the field it is in (see refusedNull), the same on every surface.
func jsonError(msg proto.Message, data []byte, err error) error {
	md := msg.ProtoReflect().Descriptor()
	if why, ok := refusedNull(md, data, err); ok {
		return fmt.Errorf("invalid JSON for %s: %s", md.FullName(), why)
	}
	text := strings.TrimPrefix(err.Error(), "proto:")
	text = strings.TrimSpace(strings.ReplaceAll(text, "\u00a0", " "))
	return fmt.Errorf("invalid JSON for %s: %s", md.FullName(), text)
}

// gatewayJSON is grpc-gateway's JSONPb with the shared options and clearer decode errors,
// writing messages from the generation's plans.
type gatewayJSON struct {
	runtime.JSONPb
	plans *jsonplan.Encoder
	dec   *jsonplan.Decoder // UnmarshalOptions' reading, from plans
}

// newGatewayJSON returns the gateway's JSON form, resolving Any types (and the details of a
// streamed error) through types.
func newGatewayJSON(types detailTypes, plans *jsonplan.Encoder, dec *jsonplan.Decoder) *gatewayJSON {
	m, u := jsonMarshal, jsonUnmarshal
	m.Resolver, u.Resolver = types, types
	return &gatewayJSON{JSONPb: runtime.JSONPb{MarshalOptions: m, UnmarshalOptions: u}, plans: plans, dec: dec.WithOptions(u)}
}

// Marshal writes a message from its plan (the bytes JSONPb would write); anything else (a
// response_body field's Go value, a stream chunk) as JSONPb does.
func (j *gatewayJSON) Marshal(v any) ([]byte, error) {
	if m, ok := v.(proto.Message); ok && j.plans != nil {
		if _, wrapped := v.(interface{ XXX_ResponseBody() any }); !wrapped {
			return j.plans.Marshal(m)
		}
	}
	return j.JSONPb.Marshal(v)
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
			return jsonError(m, data, err)
		}
		return err
	}
	return nil
}

// NewDecoder decodes a message as runtime.JSONPb's decoder does (the next JSON value, then
// protojson), keeping the value's bytes for jsonError; other values (field bodies) go to
// JSONPb's own decoding of Go types, reading from the same stream.
func (j *gatewayJSON) NewDecoder(r io.Reader) runtime.Decoder {
	d := json.NewDecoder(r)
	inner := runtime.DecoderWrapper{Decoder: d, UnmarshalOptions: j.UnmarshalOptions}
	return runtime.DecoderFunc(func(v any) error {
		m, ok := v.(proto.Message)
		if !ok {
			return inner.Decode(v)
		}
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return err
			}
			return jsonError(m, nil, err)
		}
		if err := j.UnmarshalOptions.Unmarshal(raw, m); err != nil {
			return jsonError(m, raw, err)
		}
		return nil
	})
}

// wireEncoder returns g's binary encoder, or one made now for a generation built in part
// (tests).
func (g *generation) wireEncoder() *wireplan.Encoder {
	if g != nil && g.wire != nil {
		return g.wire
	}
	return wireplan.New()
}

// marshalBinary writes m in the protobuf binary format from plans (wireplan: protobuf's
// deterministic bytes, without its reflective slow path for dynamic messages). A message type
// in which no message reachable has a required field (every proto3 type) is written without
// checking that required fields are set: for a dynamic message (a contract loaded at run time)
// that check walks every value of the reply through reflection to find nothing. A type with
// required fields is checked first, and a missing one is protobuf's error, as before.
func (g *generation) marshalBinary(m proto.Message) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	md := m.ProtoReflect().Descriptor()
	cache := &noRequired
	if g != nil {
		cache = &g.noRequired
	}
	partial, ok := cache.Load(md)
	if !ok {
		partial = !jsonplan.ReachesRequired(md)
		cache.Store(md, partial)
	}
	if !partial.(bool) {
		if err := proto.CheckInitialized(m); err != nil {
			return nil, err
		}
	}
	return g.wireEncoder().Marshal(m)
}

// noRequired caches jsonplan.ReachesRequired's answer by message descriptor, for a generation
// built in part (tests); a served generation keeps its own, which goes with it at a reload.
var noRequired sync.Map
