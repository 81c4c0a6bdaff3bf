package xmlcodec

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// XSD's bounded integer types have no proto type of their own: xsd:short and xsd:byte are
// int32 values, xsd:unsignedShort and xsd:unsignedByte uint32 values. Without xsd_type the codec
// checks only the proto type's range, so 40000 in an xsd:short element would reach the agent,
// and an agent's 40000 the backend, which its XSD refuses. xsd_type on an integer field names
// the XSD type, and the codec checks its range in both directions.

// intBounds is the value range of an XSD integer type: lo to hi, both inclusive. lo is never
// above 0 and hi never below it, which every XSD bounded integer type satisfies.
type intBounds struct {
	name string
	lo   int64
	hi   uint64
}

// integerBounds are the XSD types xsd_type may name on an integer field, by name.
var integerBounds = map[string]intBounds{
	"long":          {"long", math.MinInt64, math.MaxInt64},
	"int":           {"int", math.MinInt32, math.MaxInt32},
	"short":         {"short", math.MinInt16, math.MaxInt16},
	"byte":          {"byte", math.MinInt8, math.MaxInt8},
	"unsignedLong":  {"unsignedLong", 0, math.MaxUint64},
	"unsignedInt":   {"unsignedInt", 0, math.MaxUint32},
	"unsignedShort": {"unsignedShort", 0, math.MaxUint16},
	"unsignedByte":  {"unsignedByte", 0, math.MaxUint8},
}

// kindBounds is the range of a proto integer kind, and false for other kinds.
func kindBounds(kind protoreflect.Kind) (intBounds, bool) {
	switch kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return intBounds{kind.String(), math.MinInt32, math.MaxInt32}, true
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return intBounds{kind.String(), math.MinInt64, math.MaxInt64}, true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return intBounds{kind.String(), 0, math.MaxUint32}, true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return intBounds{kind.String(), 0, math.MaxUint64}, true
	}
	return intBounds{}, false
}

// within reports whether the bounds b hold every value of o.
func (b intBounds) within(o intBounds) bool { return b.lo <= o.lo && b.hi >= o.hi }

// check reports an error when an integer value of a field of the given kind lies outside b.
func (b intBounds) check(kind protoreflect.Kind, v protoreflect.Value) error {
	var in bool
	var text string
	switch kind {
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n := v.Uint()
		in, text = n <= b.hi, fmt.Sprint(n)
	default:
		n := v.Int()
		in, text = n >= b.lo && (n < 0 || uint64(n) <= b.hi), fmt.Sprint(n)
	}
	if in {
		return nil
	}
	return fmt.Errorf("%s is outside xsd:%s, %d to %d", text, b.name, b.lo, b.hi)
}
