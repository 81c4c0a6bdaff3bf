package toolschema

import (
	"math/big"

	"google.golang.org/protobuf/reflect/protoreflect"
)

const (
	anyName       protoreflect.FullName = "google.protobuf.Any"
	durationName  protoreflect.FullName = "google.protobuf.Duration"
	emptyName     protoreflect.FullName = "google.protobuf.Empty"
	fieldMaskName protoreflect.FullName = "google.protobuf.FieldMask"
	listValueName protoreflect.FullName = "google.protobuf.ListValue"
	nullValueName protoreflect.FullName = "google.protobuf.NullValue"
	structName    protoreflect.FullName = "google.protobuf.Struct"
	timestampName protoreflect.FullName = "google.protobuf.Timestamp"
	valueName     protoreflect.FullName = "google.protobuf.Value"
)

// isWellKnown reports whether protojson gives the message a JSON form of its own.
func isWellKnown(name protoreflect.FullName) bool {
	switch name {
	case anyName, durationName, emptyName, fieldMaskName, listValueName, structName, timestampName, valueName:
		return true
	}
	return isWrapper(name)
}

func isWrapper(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.BoolValue", "google.protobuf.BytesValue", "google.protobuf.DoubleValue",
		"google.protobuf.FloatValue", "google.protobuf.Int32Value", "google.protobuf.Int64Value",
		"google.protobuf.StringValue", "google.protobuf.UInt32Value", "google.protobuf.UInt64Value":
		return true
	}
	return false
}

// Timestamps as protojson reads them: RFC 3339 with a "T", two-digit hours and a zone ("Z" or an
// offset), up to nine fractional digits, real calendar dates (February 29 in leap years only),
// years 0001 to 9999. Years 0001 and 9999 must use "Z", so that no offset moves the instant out
// of protobuf's range.
const (
	tsYear       = `(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])`
	tsLeapYear   = `(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)`
	tsMonthDay   = `(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))`
	tsTime       = `T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?`
	tsZone       = `(?:Z|[+\-](?:[01][0-9]|2[0-4]):[0-5][0-9])`
	timestampIn  = `^(?:(?:` + tsYear + `-` + tsMonthDay + `|` + tsLeapYear + `-02-29)` + tsTime + tsZone + `|(?:0001|9999)-` + tsMonthDay + tsTime + `Z)$`
	timestampOut = `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3}|\.[0-9]{6}|\.[0-9]{9})?Z$`
	// Field masks: comma-separated paths of dot-separated lowerCamelCase field names.
	fieldMaskSegment = `[A-Za-z][A-Za-z0-9]*`
	fieldMaskPath    = fieldMaskSegment + `(?:\.` + fieldMaskSegment + `)*`
	fieldMaskPattern = `^(?:` + fieldMaskPath + `(?:,` + fieldMaskPath + `)*)?$`
	durationOut      = `^-?(?:0|[1-9][0-9]*)(?:\.[0-9]{3}|\.[0-9]{6}|\.[0-9]{9})?s$`
)

// maxDurationSeconds is protobuf's limit on a Duration: 10,000 years.
const maxDurationSeconds = 315576000000

// durationIn is a Duration as protojson reads it: an optional sign, whole seconds up to the
// limit without leading zeros, up to nine fractional digits, and an "s".
var durationIn = func() string {
	whole := decimalAlternatives(big.NewInt(0), big.NewInt(maxDurationSeconds))
	return `^[+\-]?(?:` + group(whole) + `(?:\.[0-9]{0,9})?|\.[0-9]{0,9})s$`
}()

// wellKnown returns the schema of a well-known type's JSON form, with a short description of the
// form where the type alone does not say it.
func (b *builder) wellKnown(md protoreflect.MessageDescriptor, r *fieldRules) map[string]any {
	switch name := md.FullName(); {
	case name == timestampName:
		p := timestampOut
		if b.input {
			p = timestampIn
		}
		return map[string]any{"type": "string", "format": "date-time", "pattern": p,
			"description": "An RFC 3339 date-time with a zone, such as 2024-05-01T12:30:00Z."}
	case name == durationName:
		p := durationOut
		if b.input {
			p = durationIn
		}
		return map[string]any{"type": "string", "pattern": p,
			"description": "A duration in seconds with up to nine decimal places and an s suffix, such as 90s or 1.5s."}
	case name == fieldMaskName:
		return map[string]any{"type": "string", "pattern": fieldMaskPattern,
			"description": "Comma-separated field paths in lowerCamelCase, such as name,address.city."}
	case name == structName:
		return map[string]any{"type": "object", "description": "A JSON object with any properties."}
	case name == valueName:
		return map[string]any{"description": "Any JSON value."}
	case name == listValueName:
		return map[string]any{"type": "array", "description": "A JSON array of any values."}
	case name == emptyName:
		return map[string]any{"type": "object", "properties": map[string]any{}, "additionalProperties": false}
	case name == anyName:
		s := map[string]any{
			"type": "object",
			"properties": map[string]any{"@type": map[string]any{
				"type":        "string",
				"description": "The type URL of the message, such as type.googleapis.com/google.protobuf.Duration.",
			}},
			// protojson reads {} as an empty Any; any other object needs @type. ("required" would
			// be simpler, but Ajv's strict mode rejects it in a subschema.)
			"not": map[string]any{"minProperties": 1, "properties": map[string]any{"@type": false}},
			"description": "A message of any type: @type names the type, the other properties are the message's fields, " +
				"or value holds its JSON when that is not an object.",
		}
		return s
	case isWrapper(name):
		s, _ := b.scalar(md.Fields().ByNumber(1), r)
		return s
	}
	return b.object(md)
}
