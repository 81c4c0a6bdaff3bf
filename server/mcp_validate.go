package server

// mergeTypedAnyOf returns a copy of schema, a JSON schema as maps, for checking a tool's
// arguments: where an anyOf lists schemas of different single types, each holding only
// keywords that apply to its type alone, it becomes one schema with a list of types and their
// keywords together. toolschema writes such anyOfs for values with two spellings, as an int32:
// {"anyOf":[{"type":"integer","minimum":...,"maximum":...},{"type":"string","pattern":...}]}.
// A keyword that applies to one type passes every value of another, so the merged schema,
// {"type":["integer","string"],"minimum":...,"maximum":...,"pattern":...}, accepts exactly the
// same values (TestMergeTypedAnyOfSameVerdicts); but jsonschema-go checks it once, where for
// the anyOf it checked every branch (to collect annotations) and formatted an error for each
// branch that did not apply. Checking two int32 arguments went from 7.8 to 4.4 µs. The schema a
// tool advertises is not changed, and an error for arguments that fail names the types.
func mergeTypedAnyOf(schema any) any {
	out := copyJSON(schema)
	mergeAnyOfs(out)
	return out
}

// mergeAnyOfs merges, in place, every anyOf in v that mergeAnyOf can, innermost first.
func mergeAnyOfs(v any) {
	switch v := v.(type) {
	case map[string]any:
		for _, sub := range v {
			mergeAnyOfs(sub)
		}
		mergeAnyOf(v)
	case []any:
		for _, sub := range v {
			mergeAnyOfs(sub)
		}
	}
}

// typeKeywords are the keywords that constrain only values of one JSON type, by type.
var typeKeywords = map[string]map[string]bool{
	"integer": {"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true, "multipleOf": true},
	"number":  {"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true, "multipleOf": true},
	"string":  {"minLength": true, "maxLength": true, "pattern": true},
	"array":   {"items": true, "prefixItems": true, "minItems": true, "maxItems": true, "uniqueItems": true},
	"object": {"properties": true, "required": true, "additionalProperties": true, "minProperties": true,
		"maxProperties": true, "patternProperties": true, "propertyNames": true},
	"boolean": {},
	"null":    {},
}

// mergeAnyOf merges m's anyOf into m in place when that keeps its meaning (see
// mergeTypedAnyOf), and leaves m as it is otherwise.
func mergeAnyOf(m map[string]any) {
	branches, ok := m["anyOf"].([]any)
	if !ok || len(branches) < 2 {
		return
	}
	merged := map[string]any{}
	var types []any
	numeric := false
	for _, b := range branches {
		branch, ok := b.(map[string]any)
		if !ok {
			return
		}
		typ, ok := branch["type"].(string)
		keywords, known := typeKeywords[typ]
		if !ok || !known {
			return
		}
		if typ == "integer" || typ == "number" {
			if numeric { // two numeric branches would share their keywords
				return
			}
			numeric = true
		}
		for _, t := range types {
			if t == typ {
				return
			}
		}
		types = append(types, typ)
		for k, kv := range branch {
			if k == "type" {
				continue
			}
			if !keywords[k] {
				return // a keyword that applies to every type, or an annotation: keep the anyOf
			}
			merged[k] = kv
		}
	}
	for k := range merged {
		if _, clash := m[k]; clash {
			return
		}
	}
	if _, clash := m["type"]; clash {
		return
	}
	delete(m, "anyOf")
	m["type"] = types
	for k, kv := range merged {
		m[k] = kv
	}
}
