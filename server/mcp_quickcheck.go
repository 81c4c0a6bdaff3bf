package server

import (
	"math"
	"regexp"
	"unicode/utf8"
)

// quickSchema checks a tool's arguments against the common part of JSON Schema that tool input
// schemas use (types, properties, required, additionalProperties: false, numeric bounds, string
// length and pattern, items), compiled once. It answers only "valid":
// when it cannot say so, or the schema uses any other keyword, the arguments go to
// jsonschema-go, whose verdict and message stand. jsonschema-go compares every number as a
// big.Rat and formats an error for each failed branch, and was most of the MCP surface's own
// cost for a small call; the arguments of a well-formed call are checked here instead.
//
// It must never call valid what jsonschema-go refuses; TestQuickSchemaNeverLaxer checks that
// over the demo's and the test protos' input schemas with random arguments.
type quickSchema struct {
	types    uint8 // the allowed JSON types (typeBit); 0 allows any
	props    map[string]*quickSchema
	noExtra  bool // additionalProperties: false
	required []string

	min, max, exMin, exMax *float64
	minLen, maxLen         int // -1 when not set
	pattern                *regexp.Regexp

	items *quickSchema
}

const (
	qNull uint8 = 1 << iota
	qBool
	qInteger
	qNumber // numbers with a fraction; a "number" type allows integers too
	qString
	qArray
	qObject
)

// annotationKeywords change no verdict of jsonschema-go (it does not check "format").
var annotationKeywords = map[string]bool{
	"$schema": true, "description": true, "title": true, "format": true, "default": true,
	"examples": true, "$comment": true, "readOnly": true, "writeOnly": true, "deprecated": true,
}

// compileQuick compiles schema (decoded JSON), or returns nil when it uses a keyword or a form
// the quick check does not handle.
func compileQuick(schema any) *quickSchema {
	m, ok := schema.(map[string]any)
	if !ok {
		return nil
	}
	q := &quickSchema{minLen: -1, maxLen: -1}
	for k, v := range m {
		switch k {
		case "type":
			switch t := v.(type) {
			case string:
				b := typeBit(t)
				if b == 0 {
					return nil
				}
				q.types |= b
			case []any:
				if len(t) == 0 {
					return nil
				}
				for _, e := range t {
					s, _ := e.(string)
					b := typeBit(s)
					if b == 0 {
						return nil
					}
					q.types |= b
				}
			default:
				return nil
			}
		case "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			q.props = make(map[string]*quickSchema, len(props))
			for name, s := range props {
				if q.props[name] = compileQuick(s); q.props[name] == nil {
					return nil
				}
			}
		case "additionalProperties":
			if b, ok := v.(bool); !ok || b {
				return nil // a schema for the others, or true: left to jsonschema-go
			}
			q.noExtra = true
		case "required":
			list, ok := v.([]any)
			if !ok {
				return nil
			}
			for _, e := range list {
				s, ok := e.(string)
				if !ok {
					return nil
				}
				q.required = append(q.required, s)
			}
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			f, ok := v.(float64)
			if !ok {
				return nil
			}
			switch k {
			case "minimum":
				q.min = &f
			case "maximum":
				q.max = &f
			case "exclusiveMinimum":
				q.exMin = &f
			default:
				q.exMax = &f
			}
		case "minLength", "maxLength":
			f, ok := v.(float64)
			if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
				return nil
			}
			if k == "minLength" {
				q.minLen = int(f)
			} else {
				q.maxLen = int(f)
			}
		case "pattern":
			s, ok := v.(string)
			if !ok {
				return nil
			}
			re, err := regexp.Compile(s)
			if err != nil {
				return nil
			}
			q.pattern = re
		case "items":
			if q.items = compileQuick(v); q.items == nil {
				return nil
			}
		default:
			if !annotationKeywords[k] {
				return nil
			}
		}
	}
	return q
}

func typeBit(t string) uint8 {
	switch t {
	case "null":
		return qNull
	case "boolean":
		return qBool
	case "integer":
		return qInteger
	case "number":
		return qInteger | qNumber
	case "string":
		return qString
	case "array":
		return qArray
	case "object":
		return qObject
	}
	return 0
}

// valid reports whether v (decoded by encoding/json into any) is certainly valid; false means
// only "ask jsonschema-go".
func (q *quickSchema) valid(v any) bool {
	var bit uint8
	switch x := v.(type) {
	case nil:
		bit = qNull
	case bool:
		bit = qBool
	case float64:
		if _, f := math.Modf(x); f == 0 {
			bit = qInteger
		} else {
			bit = qNumber
		}
		if !q.numberValid(x) {
			return false
		}
	case string:
		bit = qString
		if !q.stringValid(x) {
			return false
		}
	case []any:
		bit = qArray
		if !q.arrayValid(x) {
			return false
		}
	case map[string]any:
		bit = qObject
		if !q.objectValid(x) {
			return false
		}
	default:
		return false
	}
	return q.types == 0 || q.types&bit != 0
}

func (q *quickSchema) numberValid(x float64) bool {
	return (q.min == nil || x >= *q.min) && (q.max == nil || x <= *q.max) &&
		(q.exMin == nil || x > *q.exMin) && (q.exMax == nil || x < *q.exMax)
}

func (q *quickSchema) stringValid(s string) bool {
	if q.minLen >= 0 || q.maxLen >= 0 {
		n := utf8.RuneCountInString(s)
		if q.minLen >= 0 && n < q.minLen || q.maxLen >= 0 && n > q.maxLen {
			return false
		}
	}
	return q.pattern == nil || q.pattern.MatchString(s)
}

func (q *quickSchema) arrayValid(a []any) bool {
	if q.items != nil {
		for _, e := range a {
			if !q.items.valid(e) {
				return false
			}
		}
	}
	return true
}

func (q *quickSchema) objectValid(m map[string]any) bool {
	for _, name := range q.required {
		if _, ok := m[name]; !ok {
			return false
		}
	}
	for name, v := range m {
		s, ok := q.props[name]
		if !ok {
			if q.noExtra {
				return false
			}
			continue
		}
		if !s.valid(v) {
			return false
		}
	}
	return true
}
