package toolschema_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"buf.build/go/protovalidate"
	"github.com/google/jsonschema-go/jsonschema"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

// relation is what a case expects of the input schema and the server's decoding (protojson,
// then protovalidate).
type relation int

const (
	// agree: the schema accepts the arguments exactly when the server does.
	agree relation = iota
	// stricter: the schema rejects arguments the server accepts; each such case is a deliberate,
	// documented choice (see the package documentation).
	stricter
	// looser: the server rejects arguments the schema accepts, because JSON Schema cannot see
	// the reason (an Any's type must be registered with the server).
	looser
	// formatOnly: a string format that jsonschema-go treats as an annotation rejects the
	// arguments; Ajv with ajv-formats enforces it. The field's schema must carry the format.
	formatOnly
	// described: a rule JSON Schema cannot state rejects the arguments; the field's
	// description must state it.
	described
)

func (r relation) String() string {
	return [...]string{"agree", "stricter", "looser", "formatOnly", "described"}[r]
}

type exactCase struct {
	name string
	root protoreflect.MessageDescriptor // SchemaProbe when nil
	args string
	rel  relation
	// For formatOnly and described: the property path to the field and a word its schema must
	// carry (the format, or a phrase of the description).
	path, mention string
}

var probe = (&testingv1.SchemaProbe{}).ProtoReflect().Descriptor()

// exactCases are argument objects for the SchemaProbe tool (unless root says otherwise), each
// checked against the input schema and against protojson plus protovalidate.
var exactCases = []exactCase{
	// Objects, unknown fields and the two documented strictnesses.
	{name: "empty object", args: `{}`},
	{name: "unknown top-level field", args: `{"bogus": 1}`},
	{name: "unknown nested field", args: `{"scalars": {"nope": 1}}`},
	{name: "arguments not an object", args: `[]`},
	{name: "proto name alias", args: `{"well_known": {}}`, rel: stricter},
	{name: "null field", args: `{"scalars": null}`, rel: stricter},
	{name: "null scalar", args: `{"scalars": {"i32": null}}`, rel: stricter},

	// Scalars.
	{name: "all scalars", args: `{"scalars": {"i32": 1, "i64": "2", "u32": 3, "u64": "4", "s32": -5, "s64": "-6",
		"f32": 7, "f64": "8", "sf32": -9, "sf64": "-10", "fl": 1.5, "db": 2.5, "flag": true, "text": "hi",
		"raw": "aGk=", "shade": "SCHEMA_SHADE_DARK"}}`},
	{name: "int32 as string", args: `{"scalars": {"i32": "42"}}`},
	{name: "int32 negative zero string", args: `{"scalars": {"i32": "-0"}}`},
	{name: "int32 max", args: `{"scalars": {"i32": 2147483647}}`},
	{name: "int32 min", args: `{"scalars": {"i32": -2147483648}}`},
	{name: "int32 min as string", args: `{"scalars": {"i32": "-2147483648"}}`},
	{name: "int32 above max", args: `{"scalars": {"i32": 2147483648}}`},
	{name: "int32 above max as string", args: `{"scalars": {"i32": "2147483648"}}`},
	{name: "int32 below min as string", args: `{"scalars": {"i32": "-2147483649"}}`},
	{name: "int32 fraction", args: `{"scalars": {"i32": 1.5}}`},
	{name: "int32 integral fraction", args: `{"scalars": {"i32": 1.0}}`},
	{name: "int32 exponent number", args: `{"scalars": {"i32": 1e2}}`},
	{name: "int32 exponent in string", args: `{"scalars": {"i32": "1e2"}}`, rel: stricter},
	{name: "int32 fraction in string", args: `{"scalars": {"i32": "1.5"}}`},
	{name: "int32 leading space", args: `{"scalars": {"i32": " 1"}}`},
	{name: "int32 leading zero", args: `{"scalars": {"i32": "01"}}`},
	{name: "int32 plus sign", args: `{"scalars": {"i32": "+1"}}`},
	{name: "int32 bool", args: `{"scalars": {"i32": true}}`},
	{name: "int32 word", args: `{"scalars": {"i32": "abc"}}`},
	{name: "uint32 negative", args: `{"scalars": {"u32": -1}}`},
	{name: "uint32 max as string", args: `{"scalars": {"u32": "4294967295"}}`},
	{name: "uint32 above max", args: `{"scalars": {"u32": 4294967296}}`},
	{name: "uint32 negative zero string", args: `{"scalars": {"u32": "-0"}}`},
	{name: "fixed32 max", args: `{"scalars": {"f32": 4294967295}}`},
	{name: "sint32 as string", args: `{"scalars": {"s32": "-7"}}`},
	{name: "sfixed32 below min", args: `{"scalars": {"sf32": -2147483649}}`},
	{name: "int64 as number", args: `{"scalars": {"i64": 123}}`},
	{name: "int64 as string", args: `{"scalars": {"i64": "-123"}}`},
	{name: "int64 max as string", args: `{"scalars": {"i64": "9223372036854775807"}}`},
	{name: "int64 min as string", args: `{"scalars": {"i64": "-9223372036854775808"}}`},
	{name: "int64 above max as string", args: `{"scalars": {"i64": "9223372036854775808"}}`},
	{name: "int64 far above max as number", args: `{"scalars": {"i64": 1e19}}`},
	{name: "int64 fraction in string", args: `{"scalars": {"i64": "1.5"}}`},
	{name: "int64 word", args: `{"scalars": {"i64": "twelve"}}`},
	{name: "uint64 max as string", args: `{"scalars": {"u64": "18446744073709551615"}}`},
	{name: "uint64 above max as string", args: `{"scalars": {"u64": "18446744073709551616"}}`},
	{name: "uint64 negative string", args: `{"scalars": {"u64": "-1"}}`},
	{name: "uint64 negative number", args: `{"scalars": {"u64": -1}}`},
	{name: "fixed64 as number", args: `{"scalars": {"f64": 42}}`},
	{name: "sint64 min as string", args: `{"scalars": {"s64": "-9223372036854775808"}}`},
	{name: "sfixed64 above max", args: `{"scalars": {"sf64": "9223372036854775808"}}`},
	{name: "float NaN", args: `{"scalars": {"fl": "NaN"}}`},
	{name: "float Infinity", args: `{"scalars": {"fl": "Infinity"}}`},
	{name: "double minus Infinity", args: `{"scalars": {"db": "-Infinity"}}`},
	{name: "float lower-case nan", args: `{"scalars": {"fl": "nan"}}`},
	{name: "float overflow", args: `{"scalars": {"fl": 1e39}}`},
	{name: "float near max", args: `{"scalars": {"fl": 3.4e38}}`},
	{name: "float numeric string", args: `{"scalars": {"fl": "1.5"}}`},
	{name: "float overflow string", args: `{"scalars": {"fl": "1e39"}}`},
	{name: "double numeric string with exponent", args: `{"scalars": {"db": "2.5e10"}}`},
	{name: "double numeric string, exponent of three digits", args: `{"scalars": {"db": "1e300"}}`, rel: stricter},
	{name: "double overflow string", args: `{"scalars": {"db": "1e400"}}`},
	{name: "double bad numeric string", args: `{"scalars": {"db": "1.5.5"}}`},
	{name: "double bool", args: `{"scalars": {"db": false}}`},
	{name: "bool as string", args: `{"scalars": {"flag": "true"}}`},
	{name: "string as number", args: `{"scalars": {"text": 5}}`},
	{name: "bytes unpadded", args: `{"scalars": {"raw": "aGk"}}`},
	{name: "bytes url-safe", args: `{"scalars": {"raw": "-_8"}}`},
	{name: "bytes url-safe padded", args: `{"scalars": {"raw": "-_-_"}}`},
	{name: "bytes one char", args: `{"scalars": {"raw": "a"}}`},
	{name: "bytes too much padding", args: `{"scalars": {"raw": "aGk=="}}`},
	{name: "bytes mixed alphabets", args: `{"scalars": {"raw": "a+_b"}}`},
	{name: "bytes with newline", args: `{"scalars": {"raw": "aGlh\naGlh"}}`, rel: stricter},
	{name: "enum by name", args: `{"scalars": {"shade": "SCHEMA_SHADE_LIGHT"}}`},
	{name: "enum by number", args: `{"scalars": {"shade": 1}}`},
	{name: "enum by undefined number", args: `{"scalars": {"shade": 99}}`},
	{name: "enum bad name", args: `{"scalars": {"shade": "BOGUS"}}`},
	{name: "enum number in string", args: `{"scalars": {"shade": "1"}}`},
	{name: "enum fraction", args: `{"scalars": {"shade": 1.5}}`},
	{name: "enum out of int32", args: `{"scalars": {"shade": 2147483648}}`},

	// Well-known types.
	{name: "timestamp utc", args: `{"wellKnown": {"at": "2024-05-01T12:30:00Z"}}`},
	{name: "timestamp offset", args: `{"wellKnown": {"at": "2024-05-01T12:30:00+02:00"}}`},
	{name: "timestamp nanos", args: `{"wellKnown": {"at": "2024-05-01T12:30:00.123456789Z"}}`},
	{name: "timestamp ten fraction digits", args: `{"wellKnown": {"at": "2024-05-01T12:30:00.1234567891Z"}}`},
	{name: "timestamp leap day", args: `{"wellKnown": {"at": "2024-02-29T00:00:00Z"}}`},
	{name: "timestamp leap day of 2000", args: `{"wellKnown": {"at": "2000-02-29T00:00:00Z"}}`},
	{name: "timestamp no leap day in 1900", args: `{"wellKnown": {"at": "1900-02-29T00:00:00Z"}}`},
	{name: "timestamp no leap day in 2023", args: `{"wellKnown": {"at": "2023-02-29T00:00:00Z"}}`},
	{name: "timestamp april 31", args: `{"wellKnown": {"at": "2024-04-31T00:00:00Z"}}`},
	{name: "timestamp hour 24", args: `{"wellKnown": {"at": "2024-05-01T24:00:00Z"}}`},
	{name: "timestamp leap second", args: `{"wellKnown": {"at": "2024-06-30T23:59:60Z"}}`},
	{name: "timestamp space", args: `{"wellKnown": {"at": "2024-05-01 12:30:00Z"}}`},
	{name: "timestamp no zone", args: `{"wellKnown": {"at": "2024-05-01T12:30:00"}}`},
	{name: "timestamp lower-case t", args: `{"wellKnown": {"at": "2024-05-01t12:30:00Z"}}`},
	{name: "timestamp offset without colon", args: `{"wellKnown": {"at": "2024-05-01T12:30:00+0200"}}`},
	{name: "timestamp first", args: `{"wellKnown": {"at": "0001-01-01T00:00:00Z"}}`},
	{name: "timestamp last", args: `{"wellKnown": {"at": "9999-12-31T23:59:59.999999999Z"}}`},
	{name: "timestamp year 0", args: `{"wellKnown": {"at": "0000-12-31T00:00:00Z"}}`},
	{name: "timestamp one-digit hour", args: `{"wellKnown": {"at": "2024-05-01T1:30:00Z"}}`, rel: stricter},
	{name: "timestamp comma fraction", args: `{"wellKnown": {"at": "2024-05-01T12:30:00,5Z"}}`, rel: stricter},
	{name: "timestamp year 1 with offset", args: `{"wellKnown": {"at": "0001-06-01T00:00:00+01:00"}}`, rel: stricter},
	{name: "timestamp number", args: `{"wellKnown": {"at": 1714566600}}`},
	{name: "duration", args: `{"wellKnown": {"took": "1.5s"}}`},
	{name: "duration negative nanosecond", args: `{"wellKnown": {"took": "-0.000000001s"}}`},
	{name: "duration plus sign", args: `{"wellKnown": {"took": "+1s"}}`},
	{name: "duration fraction only", args: `{"wellKnown": {"took": ".5s"}}`},
	{name: "duration trailing dot", args: `{"wellKnown": {"took": "1.s"}}`},
	{name: "duration max", args: `{"wellKnown": {"took": "315576000000.999999999s"}}`},
	{name: "duration above max", args: `{"wellKnown": {"took": "315576000001s"}}`},
	{name: "duration no unit", args: `{"wellKnown": {"took": "1"}}`},
	{name: "duration minutes", args: `{"wellKnown": {"took": "1m"}}`},
	{name: "duration ten fraction digits", args: `{"wellKnown": {"took": "1.0000000001s"}}`},
	{name: "duration leading zero", args: `{"wellKnown": {"took": "01s"}}`},
	{name: "wrappers", args: `{"wellKnown": {"boolValue": true, "int32Value": "5", "int64Value": 5, "uint32Value": 6,
		"uint64Value": "18446744073709551615", "floatValue": "NaN", "doubleValue": 0.5, "stringValue": "s",
		"bytesValue": "aGk="}}`},
	{name: "wrapper as object", args: `{"wellKnown": {"int32Value": {"value": 5}}}`},
	{name: "bool wrapper string", args: `{"wellKnown": {"boolValue": "x"}}`},
	{name: "int32 wrapper overflow", args: `{"wellKnown": {"int32Value": 2147483648}}`},
	{name: "struct", args: `{"wellKnown": {"attributes": {"a": 1, "b": [null, {"c": "d"}]}}}`},
	{name: "struct not object", args: `{"wellKnown": {"attributes": "str"}}`},
	{name: "value number", args: `{"wellKnown": {"anything": 5}}`},
	{name: "value object", args: `{"wellKnown": {"anything": {"x": [1, true]}}}`},
	{name: "value null is a value", args: `{"wellKnown": {"anything": null}}`},
	{name: "list value", args: `{"wellKnown": {"list": [1, "a", null]}}`},
	{name: "list value not array", args: `{"wellKnown": {"list": {}}}`},
	{name: "field mask", args: `{"wellKnown": {"mask": "a.bC,d"}}`},
	{name: "field mask empty", args: `{"wellKnown": {"mask": ""}}`},
	{name: "field mask snake case", args: `{"wellKnown": {"mask": "a_b"}}`},
	{name: "field mask empty path", args: `{"wellKnown": {"mask": "a,,b"}}`},
	{name: "field mask digit first", args: `{"wellKnown": {"mask": "1a"}}`},
	{name: "field mask surrounding space", args: `{"wellKnown": {"mask": " a"}}`, rel: stricter},
	{name: "any of a well-known type", args: `{"wellKnown": {"detail": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1s"}}}`},
	{name: "any of a message", args: `{"wellKnown": {"detail": {"@type": "type.googleapis.com/agentbridge.testing.v1.SchemaNode", "name": "n"}}}`},
	{name: "any empty", args: `{"wellKnown": {"detail": {}}}`},
	{name: "any with fields but no type", args: `{"wellKnown": {"detail": {"name": "n"}}}`},
	{name: "any of an unknown type", args: `{"wellKnown": {"detail": {"@type": "type.googleapis.com/nope.Nope"}}}`, rel: looser},
	{name: "empty", args: `{"wellKnown": {"nothing": {}}}`},
	{name: "empty with field", args: `{"wellKnown": {"nothing": {"a": 1}}}`},
	{name: "null value null", args: `{"wellKnown": {"null": null}}`},
	{name: "null value name", args: `{"wellKnown": {"null": "NULL_VALUE"}}`},
	{name: "null value number", args: `{"wellKnown": {"null": 0}}`},
	{name: "null value word", args: `{"wellKnown": {"null": "x"}}`},
	{name: "second timestamp", args: `{"wellKnown": {"updatedAt": "2024-05-01T12:30:00Z"}}`},

	// Recursion.
	{name: "tree five levels deep", args: `{"tree": {"name": "1", "children": [{"name": "2", "first": {"name": "3",
		"children": [{"name": "4", "children": [{"name": "5"}]}]}}]}}`},
	{name: "tree bad name four levels deep", args: `{"tree": {"children": [{"first": {"children": [{"name": 4}]}}]}}`},
	{name: "tree unknown field deep", args: `{"tree": {"children": [{"first": {"children": [{"nope": 4}]}}]}}`},
	{name: "other tree", args: `{"otherTree": {"name": "o"}}`},
	{name: "ping pong deep", args: `{"ping": {"depth": 1, "pong": {"depth": 2, "ping": {"depth": 3, "pong": {"depth": 4,
		"ping": {"depth": 5}}}}}}`},
	{name: "ping pong bad depth deep", args: `{"ping": {"pong": {"ping": {"pong": {"depth": "x"}}}}}`},

	// Containers.
	{name: "repeated int64 mixed forms", args: `{"containers": {"ids": ["1", 2, "-3"]}}`},
	{name: "repeated int64 fraction", args: `{"containers": {"ids": [1.5]}}`},
	{name: "repeated not array", args: `{"containers": {"ids": "1"}}`},
	{name: "repeated enums", args: `{"containers": {"shades": ["SCHEMA_SHADE_DARK", 1]}}`},
	{name: "repeated messages", args: `{"containers": {"pings": [{"depth": 1}, {"pong": {}}]}}`},
	{name: "repeated messages bad item", args: `{"containers": {"pings": [{"depth": "x"}]}}`},
	{name: "map string keys", args: `{"containers": {"byName": {"a": 1, "": 2}}}`},
	{name: "map bad value", args: `{"containers": {"byName": {"a": "x"}}}`},
	{name: "map int32 keys", args: `{"containers": {"byInt32": {"1": "a", "-5": "b"}}}`},
	{name: "map int32 key plus sign", args: `{"containers": {"byInt32": {"+5": "a"}}}`},
	{name: "map int32 key leading zeros", args: `{"containers": {"byInt32": {"007": "a"}}}`},
	{name: "map int32 key negative zero", args: `{"containers": {"byInt32": {"-0": "a"}}}`},
	{name: "map int32 key word", args: `{"containers": {"byInt32": {"a": "x"}}}`},
	{name: "map int32 key overflow", args: `{"containers": {"byInt32": {"2147483648": "x"}}}`},
	{name: "map int32 key min", args: `{"containers": {"byInt32": {"-2147483648": "x"}}}`},
	{name: "map int32 key fraction", args: `{"containers": {"byInt32": {"1.0": "x"}}}`},
	{name: "map int32 key space", args: `{"containers": {"byInt32": {" 1": "x"}}}`},
	{name: "map int64 keys with message values", args: `{"containers": {"byInt64": {"-9223372036854775808": {"name": "n"}}}}`},
	{name: "map int64 key overflow", args: `{"containers": {"byInt64": {"9223372036854775808": {}}}}`},
	{name: "map uint32 key negative", args: `{"containers": {"byUint32": {"-1": "x"}}}`},
	{name: "map uint32 key plus sign", args: `{"containers": {"byUint32": {"+1": "x"}}}`},
	{name: "map uint32 key leading zeros", args: `{"containers": {"byUint32": {"0004294967295": "x"}}}`},
	{name: "map uint64 key max", args: `{"containers": {"byUint64": {"18446744073709551615": "1"}}}`},
	{name: "map bool keys", args: `{"containers": {"byBool": {"true": "a", "false": "b"}}}`},
	{name: "map bool key capitalised", args: `{"containers": {"byBool": {"True": "a"}}}`},
	{name: "map bool key number", args: `{"containers": {"byBool": {"1": "a"}}}`},
	{name: "map enum values", args: `{"containers": {"shadeByName": {"x": "SCHEMA_SHADE_LIGHT", "y": 2}}}`},
	{name: "map enum bad value", args: `{"containers": {"shadeByName": {"x": "NOPE"}}}`},
	{name: "repeated bytes", args: `{"containers": {"blobs": ["aGk=", ""]}}`},
	{name: "repeated timestamps", args: `{"containers": {"times": ["2024-01-01T00:00:00Z"]}}`},
	{name: "repeated bad timestamp", args: `{"containers": {"times": ["nope"]}}`},
	{name: "repeated doubles", args: `{"containers": {"values": [1, "NaN", "-1.5"]}}`},

	// Oneof and optional.
	{name: "oneof email", args: `{"email": "a@b.c"}`},
	{name: "oneof phone as string", args: `{"phone": "123"}`},
	{name: "oneof node", args: `{"node": {}}`},
	{name: "oneof two at once", args: `{"email": "a", "phone": 1}`},
	{name: "oneof three at once", args: `{"email": "a", "phone": 1, "node": {}}`},
	{name: "optional empty string", args: `{"nickname": ""}`},
	{name: "optional enum", args: `{"optionalShade": "SCHEMA_SHADE_DARK"}`},
	{name: "plain zero", args: `{"plain": 0}`},

	// Validation rules.
	{name: "string len and pattern", args: `{"rules": {"code": "ABC"}}`},
	{name: "string too short for len", args: `{"rules": {"code": "AB"}}`},
	{name: "string not matching pattern", args: `{"rules": {"code": "abc"}}`},
	{name: "string min and max length", args: `{"rules": {"name": "ab"}}`},
	{name: "string below min length", args: `{"rules": {"name": "a"}}`},
	{name: "string above max length", args: `{"rules": {"name": "abcdefghijk"}}`},
	{name: "string length counts code points", args: `{"rules": {"name": "ééé😀"}}`},
	{name: "string prefix suffix contains", args: `{"rules": {"tag": "x-mid-y"}}`},
	{name: "string without suffix", args: `{"rules": {"tag": "x-mid"}}`},
	{name: "string with forbidden part", args: `{"rules": {"tag": "x-midbad-y"}}`},
	{name: "string without prefix", args: `{"rules": {"tag": "y-mid-y"}}`},
	{name: "string in", args: `{"rules": {"kind": "a"}}`},
	{name: "string not in list", args: `{"rules": {"kind": "c"}}`},
	{name: "string not_in allowed", args: `{"rules": {"notZ": "y"}}`},
	{name: "string not_in rejected", args: `{"rules": {"notZ": "z"}}`},
	{name: "string const", args: `{"rules": {"fixed": "k"}}`},
	{name: "string const other", args: `{"rules": {"fixed": "j"}}`},
	{name: "email", args: `{"rules": {"email": "a.b+c@example.co"}}`},
	{name: "email without domain dot", args: `{"rules": {"email": "a@localhost"}}`},
	{name: "email without at", args: `{"rules": {"email": "nope"}}`},
	{name: "email empty", args: `{"rules": {"email": ""}}`},
	{name: "hostname", args: `{"rules": {"hostname": "example.com"}}`},
	{name: "hostname with final dot", args: `{"rules": {"hostname": "example.com."}}`},
	{name: "hostname leading hyphen", args: `{"rules": {"hostname": "-bad.com"}}`},
	{name: "hostname all digits", args: `{"rules": {"hostname": "123"}}`},
	{name: "hostname empty label", args: `{"rules": {"hostname": "a..b"}}`},
	{name: "hostname long label", args: `{"rules": {"hostname": "` + strings.Repeat("a", 64) + `.com"}}`},
	{name: "hostname 253 characters", args: `{"rules": {"hostname": "` + strings.Repeat("a.", 126) + `a"}}`},
	{name: "hostname 255 characters", args: `{"rules": {"hostname": "` + strings.Repeat("a.", 127) + `a"}}`},
	{name: "uri", args: `{"rules": {"uri": "https://example.com/x?y=1#z"}}`},
	{name: "uri with space", args: `{"rules": {"uri": "not a uri"}}`, rel: formatOnly, path: "rules.uri", mention: "uri"},
	{name: "uuid", args: `{"rules": {"uuid": "123e4567-e89b-12d3-a456-426614174000"}}`},
	{name: "uuid short", args: `{"rules": {"uuid": "123e4567"}}`},
	{name: "ipv4", args: `{"rules": {"ipv4": "192.168.0.1"}}`},
	{name: "ipv4 octet too big", args: `{"rules": {"ipv4": "256.1.1.1"}}`},
	{name: "ipv4 leading zero", args: `{"rules": {"ipv4": "01.1.1.1"}}`},
	{name: "ipv6", args: `{"rules": {"ipv6": "2001:db8::1"}}`},
	{name: "ipv6 bad digits", args: `{"rules": {"ipv6": "zz::1"}}`, rel: formatOnly, path: "rules.ipv6", mention: "ipv6"},
	{name: "ip", args: `{"rules": {"ip": "10.0.0.1"}}`},
	{name: "ip word", args: `{"rules": {"ip": "nope"}}`, rel: formatOnly, path: "rules.ip", mention: "ipv4"},
	{name: "uri reference", args: `{"rules": {"uriRef": "./x?y"}}`},
	{name: "uri reference bad escape", args: `{"rules": {"uriRef": "%zz"}}`, rel: described, path: "rules.uriRef", mention: "URI reference"},
	{name: "case-insensitive pattern", args: `{"rules": {"word": "HELLO \t World"}}`},
	{name: "case-insensitive pattern mismatch", args: `{"rules": {"word": "hello"}}`},
	{name: "multi-line pattern", args: `{"rules": {"line": "x\nok"}}`},
	{name: "multi-line pattern mismatch", args: `{"rules": {"line": "nope"}}`, rel: described, path: "rules.line", mention: "(?m)^ok$"},
	{name: "max bytes", args: `{"rules": {"shortBytes": "abcd"}}`},
	{name: "max bytes exceeded", args: `{"rules": {"shortBytes": "ééé"}}`, rel: described, path: "rules.shortBytes", mention: "at most 4 bytes"},
	{name: "int32 gt lte", args: `{"rules": {"count": 1}}`},
	{name: "int32 gt violated", args: `{"rules": {"count": 0}}`},
	{name: "int32 lte edge", args: `{"rules": {"count": 100}}`},
	{name: "int32 lte violated", args: `{"rules": {"count": 101}}`},
	{name: "int32 rule on string form", args: `{"rules": {"count": "50"}}`},
	{name: "int32 rule violated on string form", args: `{"rules": {"count": "101"}}`},
	{name: "int32 rule violated on zero string", args: `{"rules": {"count": "0"}}`},
	{name: "int64 gte", args: `{"rules": {"big": "-5"}}`},
	{name: "int64 gte violated", args: `{"rules": {"big": -6}}`},
	{name: "int64 lt edge", args: `{"rules": {"big": "999999999999"}}`},
	{name: "int64 lt violated", args: `{"rules": {"big": "1000000000000"}}`},
	{name: "int64 lt edge as number", args: `{"rules": {"big": 999999999999}}`},
	{name: "uint64 in", args: `{"rules": {"pick": "18446744073709551615"}}`},
	{name: "uint64 in small", args: `{"rules": {"pick": 2}}`},
	{name: "uint64 not in list", args: `{"rules": {"pick": 3}}`},
	{name: "uint64 not in list as string", args: `{"rules": {"pick": "3"}}`},
	{name: "sint32 not_in", args: `{"rules": {"lucky": 12}}`},
	{name: "sint32 not_in violated", args: `{"rules": {"lucky": 13}}`},
	{name: "sint32 not_in violated as string", args: `{"rules": {"lucky": "13"}}`},
	{name: "fixed32 const", args: `{"rules": {"seven": 7}}`},
	{name: "fixed32 const as string", args: `{"rules": {"seven": "7"}}`},
	{name: "fixed32 const violated", args: `{"rules": {"seven": 8}}`},
	{name: "reversed range below", args: `{"rules": {"outside": "9"}}`},
	{name: "reversed range above", args: `{"rules": {"outside": 21}}`},
	{name: "reversed range inside", args: `{"rules": {"outside": "15"}}`},
	{name: "reversed range lower edge", args: `{"rules": {"outside": 10}}`},
	{name: "reversed range upper edge", args: `{"rules": {"outside": "20"}}`},
	{name: "reversed range min", args: `{"rules": {"outside": "-9223372036854775808"}}`},
	{name: "double range", args: `{"rules": {"ratio": 0.5}}`},
	{name: "double range violated", args: `{"rules": {"ratio": 1.5}}`},
	{name: "double range negative", args: `{"rules": {"ratio": -0.1}}`},
	{name: "double range NaN", args: `{"rules": {"ratio": "NaN"}}`},
	{name: "double range numeric string", args: `{"rules": {"ratio": "0.5"}}`, rel: stricter},
	{name: "float finite", args: `{"rules": {"finite": 1}}`},
	{name: "float finite Infinity", args: `{"rules": {"finite": "Infinity"}}`},
	{name: "float finite NaN", args: `{"rules": {"finite": "NaN"}}`},
	{name: "double gt Infinity", args: `{"rules": {"positive": "Infinity"}}`},
	{name: "double gt zero", args: `{"rules": {"positive": 0}}`},
	{name: "double gt minus Infinity", args: `{"rules": {"positive": "-Infinity"}}`},
	{name: "double gt NaN", args: `{"rules": {"positive": "NaN"}}`},
	{name: "double gt tiny", args: `{"rules": {"positive": 1e-300}}`},
	{name: "bool const", args: `{"rules": {"yes": true}}`},
	{name: "bool const violated", args: `{"rules": {"yes": false}}`},
	{name: "bytes length", args: `{"rules": {"blob": "AQID"}}`},
	{name: "bytes too short", args: `{"rules": {"blob": ""}}`, rel: described, path: "rules.blob", mention: "at least 1 byte"},
	{name: "bytes too long", args: `{"rules": {"blob": "AQIDBAU="}}`, rel: described, path: "rules.blob", mention: "at most 4 bytes"},
	{name: "enum defined only", args: `{"rules": {"defined": "SCHEMA_SHADE_LIGHT"}}`},
	{name: "enum defined only by number", args: `{"rules": {"defined": 2}}`},
	{name: "enum defined only violated", args: `{"rules": {"defined": 5}}`},
	{name: "enum in", args: `{"rules": {"shadeIn": "SCHEMA_SHADE_LIGHT"}}`},
	{name: "enum in violated by number", args: `{"rules": {"shadeIn": 0}}`},
	{name: "enum in violated by name", args: `{"rules": {"shadeIn": "SCHEMA_SHADE_UNSPECIFIED"}}`},
	{name: "enum in violated by undefined number", args: `{"rules": {"shadeIn": 7}}`},
	{name: "enum not_in violated", args: `{"rules": {"shadeNotIn": 0}}`},
	{name: "enum not_in", args: `{"rules": {"shadeNotIn": 1}}`},
	{name: "enum not_in undefined number", args: `{"rules": {"shadeNotIn": 9}}`},
	{name: "repeated items", args: `{"rules": {"tags": ["ab", "cd"]}}`},
	{name: "repeated not unique", args: `{"rules": {"tags": ["ab", "ab"]}}`},
	{name: "repeated item too short", args: `{"rules": {"tags": ["a"]}}`},
	{name: "repeated too many", args: `{"rules": {"tags": ["ab", "cd", "ef", "gh"]}}`},
	{name: "map rules", args: `{"rules": {"scores": {"abc": 1}}}`},
	{name: "map key too long", args: `{"rules": {"scores": {"toolong": 1}}}`},
	{name: "map value negative", args: `{"rules": {"scores": {"a": -1}}}`},
	{name: "map too many pairs", args: `{"rules": {"scores": {"a": 1, "b": 2, "c": 3}}}`},
	{name: "map int keys in range", args: `{"rules": {"ports": {"80": "http", "+0443": "https"}}}`},
	{name: "map int key below range", args: `{"rules": {"ports": {"0": "x"}}}`},
	{name: "map int key above range", args: `{"rules": {"ports": {"1025": "x"}}}`},
	{name: "timestamp rule met", args: `{"rules": {"deadline": "2999-01-01T00:00:00Z"}}`},
	{name: "timestamp rule violated", args: `{"rules": {"deadline": "2000-01-01T00:00:00Z"}}`, rel: described, path: "rules.deadline", mention: "in the future"},
	{name: "duration rule met", args: `{"rules": {"ttl": "3600s"}}`},
	{name: "duration rule violated", args: `{"rules": {"ttl": "3601s"}}`, rel: described, path: "rules.ttl", mention: `at most "3600s"`},
	{name: "cel rule met", args: `{"rules": {"even": 2}}`},
	{name: "cel rule violated", args: `{"rules": {"even": 3}}`, rel: described, path: "rules.even", mention: "must be even"},
	{name: "ignore if zero empty", args: `{"rules": {"maybeCode": ""}}`},
	{name: "ignore if zero set", args: `{"rules": {"maybeCode": "abcd"}}`},
	{name: "ignore if zero violated", args: `{"rules": {"maybeCode": "abc"}}`},
	{name: "trimmed uuid", args: `{"rules": {"tuuid": "123e4567e89b12d3a456426614174000"}}`},
	{name: "trimmed uuid bad", args: `{"rules": {"tuuid": "xyz"}}`},
	{name: "ulid", args: `{"rules": {"ulid": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}}`},
	{name: "ulid bad first character", args: `{"rules": {"ulid": "81ARZ3NDEKTSV4RRFFQ69G5FAV"}}`},

	// Required fields, required oneofs and message rules.
	{name: "required all given", args: `{"required": {"name": "n", "sku": "A-100", "node": {}, "items": ["x"], "card": "1"}}`},
	{name: "required oneof member empty", args: `{"required": {"name": "n", "sku": "A-100", "node": {}, "items": ["x"], "account": ""}}`},
	{name: "required name missing", args: `{"required": {"sku": "A-100", "node": {}, "items": ["x"], "card": "1"}}`},
	{name: "required name empty", args: `{"required": {"name": "", "sku": "A-100", "node": {}, "items": ["x"], "card": "1"}}`},
	{name: "pattern makes sku required", args: `{"required": {"name": "n", "node": {}, "items": ["x"], "card": "1"}}`},
	{name: "required message missing", args: `{"required": {"name": "n", "sku": "A-100", "items": ["x"], "card": "1"}}`},
	{name: "min items makes list required", args: `{"required": {"name": "n", "sku": "A-100", "node": {}, "card": "1"}}`},
	{name: "min items violated", args: `{"required": {"name": "n", "sku": "A-100", "node": {}, "items": [], "card": "1"}}`},
	{name: "required oneof missing", args: `{"required": {"name": "n", "sku": "A-100", "node": {}, "items": ["x"]}}`},
	{name: "required oneof twice", args: `{"required": {"name": "n", "sku": "A-100", "node": {}, "items": ["x"], "card": "1", "account": "2"}}`},
	{name: "message rule violated", args: `{"required": {"name": "n", "sku": "A-100", "node": {}, "items": ["x"], "card": "1", "first": 5, "last": 1}}`,
		rel: described, path: "required", mention: "first must not be after last"},

	// The demo service's requests.
	{name: "GetItem", root: getItem, args: `{"sku": "A-100"}`},
	{name: "GetItem without sku", root: getItem, args: `{}`},
	{name: "GetItem bad sku", root: getItem, args: `{"sku": "a-100"}`},
	{name: "ListItems", root: listItems, args: `{"category": "tools"}`},
	{name: "ListItems without category", root: listItems, args: `{"maxResults": 5}`},
	{name: "ListItems too many results", root: listItems, args: `{"category": "tools", "maxResults": 101}`},
	{name: "ReserveItem", root: reserveItem, args: `{"sku": "A-100", "quantity": 1}`},
	{name: "ReserveItem zero quantity", root: reserveItem, args: `{"sku": "A-100", "quantity": 0}`},
	{name: "ReserveItem without quantity", root: reserveItem, args: `{"sku": "A-100"}`},
	{name: "ReserveItem long reference", root: reserveItem, args: `{"sku": "A-100", "quantity": 1, "customerRef": "` + strings.Repeat("r", 65) + `"}`},
}

var (
	getItem     = (&demov1.GetItemRequest{}).ProtoReflect().Descriptor()
	listItems   = (&demov1.ListItemsRequest{}).ProtoReflect().Descriptor()
	reserveItem = (&demov1.ReserveItemRequest{}).ProtoReflect().Descriptor()
)

// resolved compiles a schema with jsonschema-go, the validator of the MCP Go SDK.
func resolved(t testing.TB, schema map[string]any) *jsonschema.Resolved {
	t.Helper()
	b, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Resolve(nil)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	return rs
}

var inputSchemas sync.Map // protoreflect.FullName → *jsonschema.Resolved

func inputSchema(t testing.TB, md protoreflect.MessageDescriptor) (*jsonschema.Resolved, map[string]any) {
	t.Helper()
	s, err := toolschema.Input(md, options(t))
	if err != nil {
		t.Fatal(err)
	}
	if rs, ok := inputSchemas.Load(md.FullName()); ok {
		return rs.(*jsonschema.Resolved), s
	}
	rs := resolved(t, s)
	inputSchemas.Store(md.FullName(), rs)
	return rs, s
}

// serverAccepts decodes args as the server does: protojson into the request message, then
// protovalidate.
func serverAccepts(md protoreflect.MessageDescriptor, args string) error {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		return err
	}
	msg := mt.New().Interface()
	if err := protojson.Unmarshal([]byte(args), msg); err != nil {
		return err
	}
	return protovalidate.Validate(msg)
}

func TestInputMatchesProtojsonAndProtovalidate(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, tc := range exactCases {
		if names[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := tc.root
			if root == nil {
				root = probe
			}
			rs, schema := inputSchema(t, root)
			var instance any
			if err := json.Unmarshal([]byte(tc.args), &instance); err != nil {
				t.Fatalf("bad test JSON: %v", err)
			}
			schemaErr := rs.Validate(instance)
			serverErr := serverAccepts(root, tc.args)
			schemaOK, serverOK := schemaErr == nil, serverErr == nil
			var want [2]bool // schema, server
			switch tc.rel {
			case agree:
				want = [2]bool{serverOK, serverOK}
			case stricter:
				want = [2]bool{false, true}
			case looser, formatOnly, described:
				want = [2]bool{true, false}
			}
			if schemaOK != want[0] || serverOK != want[1] {
				t.Fatalf("%s: schema accepts = %v (%v), server accepts = %v (%v)",
					tc.rel, schemaOK, schemaErr, serverOK, serverErr)
			}
			switch tc.rel {
			case formatOnly:
				if got := find(schema, tc.path); !strings.Contains(mustJSON(t, got), `"format":"`+tc.mention+`"`) {
					t.Errorf("schema of %s has no format %q: %s", tc.path, tc.mention, mustJSON(t, got))
				}
			case described:
				got := find(schema, tc.path)
				if d, _ := got["description"].(string); !strings.Contains(d, tc.mention) {
					t.Errorf("description of %s does not mention %q: %q", tc.path, tc.mention, d)
				}
			}
		})
	}
}

// find returns the property schema at a dotted path of JSON names, following $refs.
func find(schema map[string]any, path string) map[string]any {
	cur := schema
	for _, name := range strings.Split(path, ".") {
		props, _ := cur["properties"].(map[string]any)
		next, _ := props[name].(map[string]any)
		if ref, ok := next["$ref"].(string); ok {
			defs, _ := schema["$defs"].(map[string]any)
			target, _ := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
			merged := map[string]any{}
			for k, v := range target {
				merged[k] = v
			}
			for k, v := range next {
				merged[k] = v
			}
			next = merged
		}
		cur = next
	}
	return cur
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
