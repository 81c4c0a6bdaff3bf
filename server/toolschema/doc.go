// Package toolschema writes the JSON Schemas (draft 2020-12) of the arguments and results of MCP
// tools from the protobuf messages of the RPCs behind them.
//
// A schema follows protojson exactly, as the server decodes arguments with protojson and then
// checks them with protovalidate:
//
//   - Fields by their JSON (lowerCamelCase) names; unknown fields are rejected
//     (additionalProperties: false), as protojson rejects them.
//   - 32-bit integers are integers within the type's range; protojson also reads them as
//     quoted decimals, so inputs accept those too. 64-bit integers are written as decimal
//     strings; inputs accept strings and numbers. Floating-point numbers are numbers, or the
//     strings "NaN", "Infinity" and "-Infinity"; inputs also accept numeric strings where no
//     rule bounds the value. Bytes are base64. Enums are their value names; protojson writes
//     the number for a value the enum does not define and reads numbers, so both forms are
//     allowed. Maps are objects whose property names follow the key type.
//   - Well-known types take their JSON forms: Timestamp (RFC 3339), Duration ("1.5s"),
//     wrappers (the wrapped scalar), Struct, Value, ListValue, FieldMask, Any and Empty.
//   - A string field that keeps an XSD type's lexical form (the agentbridge.v1.xml option's
//     xsd_type, such as "date") carries that type's lexical pattern and a description of the
//     form, in inputs and outputs; a field without presence may also be "", its zero value,
//     which the XML codec leaves out as "not given". protojson and protovalidate do not check
//     the form: the XML codec does, refusing a request value outside it with InvalidArgument
//     before it reaches the backend, so the schema states what a bound method checks.
//     A google.protobuf.NullValue field marked nil_of says in its description that null is the
//     nil (xsi:nil) of its sibling's element.
//   - A oneof allows at most one member; a message used by more than one field, or that
//     contains itself, is written once under $defs and referred to by $ref, with no depth limit.
//     So is the string form of a 64-bit integer that no rule narrows (agentbridge.int64-string,
//     agentbridge.uint64-string, and -key for map keys), whose exact-range pattern is long; the
//     hyphen keeps these names apart from message full names.
//   - Input schemas state buf.validate rules as keywords where JSON Schema can, and in the
//     description ("Must …") where it cannot. A field is required where protovalidate rejects
//     the message without it: fields marked required, and fields without presence whose zero
//     value breaks a rule; and where the server rejects it, (google.api.field_behavior) =
//     REQUIRED, with minItems or minProperties 1 for a list or map and a note that a scalar's
//     zero value counts as not set. Output schemas describe what protojson writes with
//     EmitDefaultValues: fields without presence are always present, and rules do not apply.
//
// Every schema compiles in Ajv's strict mode with ajv-formats: no type unions, no "required"
// inside subschemas, only formats ajv-formats knows, and patterns that mean the same in RE2
// (github.com/google/jsonschema-go, used by the MCP Go SDK) and in ECMAScript with the u flag.
// Formats are annotations to jsonschema-go, so where protovalidate's check is a regular
// grammar (email, hostname, IPv4, UUID) a pattern states it too.
//
// The schemas are deliberately stricter than protojson in these ways, so that an agent learns
// one spelling of each value:
//
//   - Only JSON names: protojson also accepts the proto field names (max_results for
//     maxResults); the MCP surface does not.
//   - No null: protojson reads null as "field not set"; the MCP surface rejects it. Where null
//     is itself the value (google.protobuf.Value, NullValue) it is allowed.
//   - Quoted numbers in canonical form only: protojson also reads "1e2" or "1.0" for an
//     integer, and numeric strings for floats with an exponent of three digits or more.
//     Numeric strings for floats are not accepted where rules bound the value.
//   - Timestamps with two-digit hours and a dot before fractional seconds, as RFC 3339 has it
//     (Go's time.Parse, which protojson uses, also reads "T1:30:00" and ",5"); in years 0001
//     and 9999 only with "Z", so that no offset moves the instant out of range.
//   - Base64 without line breaks, and field masks without surrounding spaces.
//
// And looser where JSON Schema cannot see the rule: an Any's @type must name a message type
// the server knows, a JSON object must not repeat a name, and map keys must stay distinct once
// read as numbers ("1" and "01"). Rules that JSON Schema cannot state (byte lengths, CEL
// expressions, URI references, timestamps relative to now) are stated in the description.
// JSON numbers beyond 2^53 lose precision in validators that read them as doubles; 64-bit
// values are best passed as strings.
//
// Hosts refuse some of this (anyOf at the top level, any anyOf, $ref, additionalProperties, or
// optional properties), so a tool's input schema is shown to a host in a [Profile]: [Advertise]
// makes the Portable, OpenAIStrict or Gemini schema from the exact one, saying less than the
// server checks (rules in words, one canonical spelling per value) but never something
// different. The server keeps checking arguments against the exact schema.
package toolschema
