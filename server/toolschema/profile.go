package toolschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
)

// Profile names the shape of the input schema a host is shown. The server checks arguments
// against the exact schema whatever the profile: a profile may say less than the server checks
// (a rule moved into the description, one canonical spelling of a value where the server reads
// several), never something different (every argument object a profile's schema accepts is one
// the server reads the same way, apart from rules the description states).
//
// Output schemas are not shaped: they describe what the server writes, which does not change
// with the host, and hosts check results against them rather than give them to a model.
type Profile string

const (
	// Exact is the schema Input returns, unchanged: protojson and buf.validate exactly, with
	// anyOf for the alternative spellings of numbers and enums, allOf for oneofs and $defs for
	// shared messages.
	Exact Profile = "exact"
	// Portable is a schema every major host accepts (the Anthropic API, Claude Code, Cursor, VS
	// Code, OpenAI's strict conversion in the Agents SDK, Gemini's function declarations): the
	// Gemini rendering narrowed to the keywords OpenAI's strict mode also takes. No $schema, $ref,
	// $defs or additionalProperties (a message that contains itself is written out PortableDepth
	// levels deep, free-form fields are left out and named, unknown properties are left to the
	// server); no anyOf, allOf or oneOf, so the root is an object with properties and a oneof's
	// "at most one" is stated in the description; one JSON type per field, in protojson's
	// canonical form (64-bit integers as decimal strings with a short pattern, enums as their
	// names, floats as numbers); string and map lengths, "not", float exclusive bounds and the
	// second and later patterns of a string stated in words, integer exclusive bounds made
	// inclusive; the long generated patterns that a format already states left out and the
	// others shortened.
	Portable Profile = "portable"
	// OpenAIStrict is Portable narrowed to OpenAI's strict function calling (Structured Outputs):
	// every property listed in required, an optional one as type [T, "null"] (or anyOf [T,
	// {type: null}] for a message) where null means "not set" to the server,
	// additionalProperties false on every object, and only the keywords and formats strict mode
	// supports (others in words). Fields strict mode cannot describe (maps, Struct, Value,
	// ListValue, Any) are left out, and the object's description names them.
	OpenAIStrict Profile = "openai-strict"
	// Gemini is Portable narrowed to the OpenAPI 3.0 subset of Gemini's function declarations:
	// no $schema, $ref, $defs or additionalProperties; a message that contains itself written
	// out GeminiDepth levels deep, the fields that would go deeper left out and named in the
	// description; only the keywords and formats Gemini's Schema documents (others in words);
	// enum only on strings; free-form fields (maps, Struct, Value, ListValue, Any, Empty) left out
	// and named, as Gemini rejects an object without properties.
	Gemini Profile = "gemini"
)

// DefaultProfile is the profile of a host that neither configuration nor its name places.
const DefaultProfile = Portable

// GeminiDepth is how many levels of a message that contains itself the Gemini profile writes
// out, since Gemini has no $ref: a tree node with its children and their children.
const GeminiDepth = 3

// PortableDepth is how many levels of a message that contains itself the Portable profile writes
// out: fewer than Gemini's, as every tool of every host pays for them.
const PortableDepth = 2

var profiles = []Profile{Exact, Portable, OpenAIStrict, Gemini}

// Profiles returns every profile, Exact first.
func Profiles() []Profile { return slices.Clone(profiles) }

// ParseProfile reads a profile name; "" is DefaultProfile.
func ParseProfile(name string) (Profile, error) {
	if strings.TrimSpace(name) == "" {
		return DefaultProfile, nil
	}
	p := Profile(strings.ToLower(strings.TrimSpace(name)))
	if slices.Contains(profiles, p) {
		return p, nil
	}
	return "", fmt.Errorf("toolschema: unknown schema profile %q: use exact, portable, openai-strict or gemini", name)
}

// Advertise returns the input schema a host of profile p is shown, made from exact, a schema that
// Input returned (which is not changed). For Exact it returns exact itself.
func Advertise(exact map[string]any, p Profile) (map[string]any, error) {
	if p == Exact {
		return exact, nil
	}
	if !slices.Contains(profiles, p) {
		return nil, fmt.Errorf("toolschema: unknown schema profile %q", p)
	}
	s, err := normalized(exact)
	if err != nil {
		return nil, err
	}
	s = portable(s)
	switch p {
	case Portable:
		s = common(gemini(s, PortableDepth))
	case OpenAIStrict:
		s = openAIStrict(s)
	case Gemini:
		s = gemini(s, GeminiDepth)
	}
	return s, nil
}

// normalized returns a deep copy of s as encoding/json reads it (objects map[string]any, arrays
// []any, numbers json.Number), so the profile passes see one representation of each value.
func normalized(s map[string]any) (map[string]any, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("toolschema: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("toolschema: %w", err)
	}
	return out, nil
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}

func copyMap(m map[string]any) map[string]any {
	c, _ := deepCopy(m).(map[string]any)
	return c
}

func addNote(s map[string]any, notes ...string) {
	setDescription(s, joinText(stringOf(s["description"]), notes...))
}

// The generated patterns the portable profile drops (a format states them) or shortens: a
// shorter pattern may accept strings the server refuses, never refuse what it accepts in
// canonical form.
var shortPatterns = func() map[string]string {
	m := map[string]string{
		timestampIn:      "", // format: date-time
		emailPattern:     "", // format: email
		hostnameLabels:   "", // format: hostname
		hostnameLength:   "",
		hostnameLastWord: "",
		ipv4Pattern:      "", // format: ipv4
		uuidPattern:      "", // format: uuid
		durationIn:       `^-?[0-9]+(?:\.[0-9]{1,9})?s$`,
		base64Pattern:    `^[A-Za-z0-9+/]*={0,2}$`,
	}
	for _, k := range []struct {
		kind   string
		signed bool
	}{{"int32", true}, {"uint32", false}, {"int64", true}, {"uint64", false}} {
		lo, hi := rangeOf(k.kind)
		full := []interval{{lo, hi}}
		m[mapKeyPattern(full, k.signed)] = `^[0-9]+$`
		m[integerStringPattern(full)] = `^[0-9]+$`
		if k.signed {
			m[mapKeyPattern(full, k.signed)] = `^[+-]?[0-9]+$`
			m[integerStringPattern(full)] = `^-?[0-9]+$`
		}
	}
	return m
}()

func rangeOf(kind string) (lo, hi *big.Int) {
	switch kind {
	case "int32":
		return big.NewInt(-1 << 31), big.NewInt(1<<31 - 1)
	case "uint32":
		return big.NewInt(0), big.NewInt(1<<32 - 1)
	case "int64":
		return big.NewInt(-1 << 63), big.NewInt(1<<63 - 1)
	}
	return big.NewInt(0), new(big.Int).SetUint64(1<<64 - 1)
}

// Bounds that only restate a type's range; the portable profile leaves them to the server.
var typeRangeBounds = map[string]map[string]bool{
	"integer": {"minimum:-2147483648": true, "maximum:2147483647": true, "maximum:4294967295": true},
	"number":  {"minimum:-" + maxFloat32Text: true, "maximum:" + maxFloat32Text: true},
}

// wideIntPatternLimit is the longest pattern of a 64-bit integer the portable profile keeps; a
// rule's range (a few values, a small interval) stays exact, a long one is stated in the
// description already and the pattern only says "digits".
const wideIntPatternLimit = 48

// portabler rewrites an exact schema into the portable profile.
type portabler struct {
	defs      map[string]any // the exact schema's $defs
	recursive map[string]bool
	kept      map[string]any // the $defs the portable schema keeps: messages that contain themselves
}

func portable(s map[string]any) map[string]any {
	delete(s, "$schema")
	defs, _ := s["$defs"].(map[string]any)
	delete(s, "$defs")
	p := &portabler{defs: defs, recursive: recursiveDefs(defs), kept: map[string]any{}}
	out := p.node(s)
	if len(p.kept) == 0 {
		return out
	}
	// A kept message is named by its short name where that is unique, and described by the
	// fields that refer to it: its own comment is the message's, not a field's, and the bytes
	// count against every tool that nests it.
	short := map[string]int{}
	for name := range p.kept {
		short[name[strings.LastIndex(name, ".")+1:]]++
	}
	renamed := map[string]string{}
	defsOut := map[string]any{}
	for name, d := range p.kept {
		to := name
		if n := name[strings.LastIndex(name, ".")+1:]; short[n] == 1 {
			to = n
		}
		renamed["#/$defs/"+name] = "#/$defs/" + to
		if m, ok := d.(map[string]any); ok {
			delete(m, "description")
		}
		defsOut[to] = d
	}
	out["$defs"] = defsOut
	renameRefs(out, renamed)
	return out
}

func renameRefs(v any, renamed map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if r, ok := x.(string); ok && k == "$ref" {
				if to, ok := renamed[r]; ok {
					v[k] = to
				}
				continue
			}
			if k != "enum" && k != "const" {
				renameRefs(x, renamed)
			}
		}
	case []any:
		for _, x := range v {
			renameRefs(x, renamed)
		}
	}
}

// recursiveDefs finds the $defs entries that refer to themselves, directly or through others.
func recursiveDefs(defs map[string]any) map[string]bool {
	edges := map[string][]string{}
	for name, d := range defs {
		walkRefs(d, func(ref string) {
			if target, ok := strings.CutPrefix(ref, "#/$defs/"); ok {
				edges[name] = append(edges[name], target)
			}
		})
	}
	out := map[string]bool{}
	for name := range defs {
		seen := map[string]bool{}
		stack := slices.Clone(edges[name])
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n == name {
				out[name] = true
				break
			}
			if !seen[n] {
				seen[n] = true
				stack = append(stack, edges[n]...)
			}
		}
	}
	return out
}

func walkRefs(v any, visit func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if r, ok := x.(string); ok && k == "$ref" {
				visit(r)
				continue
			}
			if k == "enum" || k == "const" {
				continue
			}
			walkRefs(x, visit)
		}
	case []any:
		for _, x := range v {
			walkRefs(x, visit)
		}
	}
}

// node rewrites one schema (and its subschemas) in place and returns it, or its replacement.
func (p *portabler) node(s map[string]any) map[string]any {
	if ref, ok := s["$ref"].(string); ok {
		name, isDef := strings.CutPrefix(ref, "#/$defs/")
		def, _ := p.defs[name].(map[string]any)
		if !isDef || def == nil {
			return s
		}
		if p.recursive[name] {
			if _, done := p.kept[name]; !done {
				p.kept[name] = true // placeholder while the def is rewritten
				p.kept[name] = p.node(copyMap(def))
			}
			return s
		}
		inlined := p.node(copyMap(def))
		for k, v := range s {
			if k != "$ref" {
				inlined[k] = v // the field's description wins over the message's
			}
		}
		return inlined
	}
	for _, key := range []string{"items", "additionalProperties", "propertyNames", "not"} {
		if sub, ok := s[key].(map[string]any); ok {
			s[key] = p.node(sub)
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for name, sub := range props {
			if m, ok := sub.(map[string]any); ok {
				props[name] = p.node(m)
			}
		}
	}
	for _, key := range []string{"anyOf", "allOf"} {
		if list, ok := s[key].([]any); ok {
			for i, sub := range list {
				m, ok := sub.(map[string]any)
				if !ok {
					continue
				}
				if _, isOneof := m["description"]; isOneof && key == "allOf" {
					// A oneof's "at most one" (dependentSchemas) and "at least one" (not), which
					// its description states.
					delete(m, "dependentSchemas")
					delete(m, "not")
				}
				list[i] = p.node(m)
			}
		}
	}
	if pat, ok := s["pattern"].(string); ok {
		if short, known := shortPatterns[pat]; known {
			if short == "" {
				delete(s, "pattern")
			} else {
				s["pattern"] = short
			}
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		delete(s, "allOf")
		for _, sub := range all {
			m, _ := sub.(map[string]any)
			addNote(s, constraintText(m))
		}
	}
	if alts, ok := s["anyOf"].([]any); ok {
		s = choose(s, alts)
	}
	if not, ok := s["not"].(map[string]any); ok {
		delete(s, "not")
		addNote(s, notText(not)...)
	}
	if t, ok := s["type"].(string); ok {
		for _, k := range []string{"minimum", "maximum"} {
			if typeRangeBounds[t][k+":"+numberText(s[k])] {
				delete(s, k)
			}
		}
	}
	return s
}

// choose replaces the anyOf of s: alternative spellings of one value (number or string for an
// integer, name or number for an enum) by the first, which is protojson's canonical form; a
// value that IGNORE_IF_ZERO_VALUE lets through by the checked branch (the zero value is also
// what an absent field means); anything else (a reversed range, IPv4 or IPv6) by words.
func choose(s map[string]any, alts []any) map[string]any {
	delete(s, "anyOf")
	var typed, untyped []map[string]any
	for _, a := range alts {
		m, _ := a.(map[string]any)
		switch {
		case m == nil || zeroOnly(m):
		case m["type"] != nil || m["$ref"] != nil || m["properties"] != nil:
			typed = append(typed, m)
		default:
			untyped = append(untyped, m)
		}
	}
	if len(typed) == 0 {
		if len(untyped) > 0 {
			phrases := make([]string, len(untyped))
			for i, m := range untyped {
				phrases[i] = phrase(m)
			}
			addNote(s, "Must be "+strings.Join(phrases, ", or ")+".")
		}
		return s
	}
	c := typed[0]
	if c["type"] == "string" && slices.ContainsFunc(typed[1:], func(m map[string]any) bool { return m["type"] == "integer" }) {
		// A 64-bit integer: the rules are in the description, the pattern need only say digits.
		if pat, _ := c["pattern"].(string); len(pat) > wideIntPatternLimit {
			c["pattern"] = `^[0-9]+$`
			if strings.Contains(pat, "-") {
				c["pattern"] = `^-?[0-9]+$`
			}
		}
	}
	desc := joinText(stringOf(s["description"]), stringOf(c["description"]))
	for k, v := range c {
		if _, has := s[k]; !has {
			s[k] = v
		}
	}
	setDescription(s, desc)
	return s
}

// zeroOnly reports whether a branch only admits a zero value: {"const": ""}, {"enum": [0, "0"]},
// an empty array or object.
func zeroOnly(m map[string]any) bool {
	switch m["type"] {
	case nil:
		for k := range m {
			if k != "const" && k != "enum" {
				return false
			}
		}
		return len(m) > 0
	case "array":
		return len(m) == 2 && numberText(m["maxItems"]) == "0"
	case "object":
		return len(m) == 2 && numberText(m["maxProperties"]) == "0"
	}
	return false
}

func numberText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case json.Number:
		return v.String()
	case string:
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func valueText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func valuesText(v any) string {
	list, _ := v.([]any)
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = valueText(x)
	}
	return strings.Join(parts, ", ")
}

var formatNames = map[string]string{
	"ipv4": "an IPv4 address", "ipv6": "an IPv6 address", "email": "an email address",
	"hostname": "a host name", "uri": "an absolute URI", "uuid": "a UUID", "date-time": "an RFC 3339 date-time",
}

func formatText(f string) string {
	if n, ok := formatNames[f]; ok {
		return n
	}
	return "a valid " + f
}

// phrase describes a small keyword-only schema, such as {"exclusiveMaximum": 10} or
// {"format": "ipv4"}, as a noun phrase for "Must be ...".
func phrase(m map[string]any) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "minimum":
			parts = append(parts, "at least "+numberText(v))
		case "exclusiveMinimum":
			parts = append(parts, "greater than "+numberText(v))
		case "maximum":
			parts = append(parts, "at most "+numberText(v))
		case "exclusiveMaximum":
			parts = append(parts, "less than "+numberText(v))
		case "format":
			parts = append(parts, formatText(stringOf(v)))
		case "const":
			parts = append(parts, valueText(v))
		case "enum":
			parts = append(parts, "one of "+valuesText(v))
		case "pattern":
			parts = append(parts, "a string matching the regular expression "+stringOf(v))
		case "description":
		default:
			parts = append(parts, "valid against "+valueText(map[string]any{k: v}))
		}
	}
	return strings.Join(parts, " and ")
}

// constraintText states an allOf member: a oneof's rule (its description says it), or a further
// pattern of a string.
func constraintText(m map[string]any) string {
	var out []string
	if d := stringOf(m["description"]); d != "" {
		out = append(out, d)
	}
	for _, k := range sortedKeys(m) {
		switch k {
		case "description", "dependentSchemas", "not":
			// A oneof's "at most one" and "at least one", which its description states.
		case "pattern":
			out = append(out, "Must also match the regular expression "+stringOf(m[k])+".")
		default:
			out = append(out, "Must also be "+phrase(map[string]any{k: m[k]})+".")
		}
	}
	return strings.Join(out, "\n")
}

// notText states a "not" in words.
func notText(m map[string]any) []string {
	if alts, ok := m["anyOf"].([]any); ok && len(m) == 1 {
		var out []string
		for _, a := range alts {
			sub, _ := a.(map[string]any)
			out = append(out, notText(sub)...)
		}
		return out
	}
	switch {
	case len(m) == 1 && m["enum"] != nil:
		if list, _ := m["enum"].([]any); len(list) == 1 {
			return []string{"Must not be " + valueText(list[0]) + "."}
		}
		return []string{"Must not be one of " + valuesText(m["enum"]) + "."}
	case len(m) == 1 && m["const"] != nil:
		return []string{"Must not be " + valueText(m["const"]) + "."}
	case len(m) == 1 && m["pattern"] != nil:
		return []string{"Must not match the regular expression " + stringOf(m["pattern"]) + "."}
	case m["minProperties"] != nil && m["properties"] != nil:
		// An Any's "@type unless empty", which its description states.
		return nil
	}
	return []string{"Must not be valid against " + valueText(m) + "."}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// freeForm reports whether a (portable) schema leaves the shape of its value open: Value (no
// type), Struct and maps (objects without fixed properties), Any (properties besides @type), and
// arrays of such values or of anything. Strict mode and Gemini can only describe fixed shapes.
func freeForm(m map[string]any) bool {
	switch m["type"] {
	case nil:
		return m["$ref"] == nil && m["anyOf"] == nil && m["enum"] == nil && m["const"] == nil
	case "object":
		_, hasProps := m["properties"]
		return !hasProps || m["additionalProperties"] != false
	case "array":
		items, ok := m["items"].(map[string]any)
		return !ok || freeForm(items)
	}
	return false
}

func requiredNames(s map[string]any) []string {
	list, _ := s["required"].([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if n, ok := x.(string); ok {
			out = append(out, n)
		}
	}
	return out
}

func leftOutText(names []string) string {
	return "Left out of this schema, which cannot describe free-form values (the server accepts them): " +
		strings.Join(names, ", ") + "."
}

// OpenAI's strict mode: the keywords and string formats it supports.
var (
	strictKeywords = map[string]bool{
		"type": true, "description": true, "properties": true, "required": true, "additionalProperties": true,
		"items": true, "anyOf": true, "enum": true, "$ref": true, "$defs": true, "pattern": true, "format": true,
		"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true, "multipleOf": true,
		"minItems": true, "maxItems": true,
	}
	strictFormats = map[string]bool{
		"date-time": true, "time": true, "date": true, "duration": true, "email": true,
		"hostname": true, "ipv4": true, "ipv6": true, "uuid": true,
	}
)

func openAIStrict(s map[string]any) map[string]any {
	if freeForm(s) {
		// A request that is a Struct: strict mode cannot describe it, so hosts send the tool
		// without strict; the portable schema says what there is to say.
		return s
	}
	if defs, ok := s["$defs"].(map[string]any); ok {
		for name, d := range defs {
			if m, ok := d.(map[string]any); ok {
				defs[name] = strictNode(m)
			}
		}
	}
	return strictNode(s)
}

// strictNode rewrites one schema for strict mode: unsupported keywords into words, and an
// object's optional properties into required, nullable ones.
func strictNode(s map[string]any) map[string]any {
	if c, ok := s["const"]; ok {
		delete(s, "const")
		s["enum"] = []any{c}
	}
	if f, ok := s["format"].(string); ok && !strictFormats[f] {
		delete(s, "format")
		addNote(s, "Must be "+formatText(f)+".")
	}
	for _, k := range sortedKeys(s) {
		if !strictKeywords[k] && k != "const" {
			addNote(s, keywordText(k, s[k]))
			delete(s, k)
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		s["items"] = strictNode(items)
	}
	props, ok := s["properties"].(map[string]any)
	if !ok {
		return s
	}
	required := requiredNames(s)
	var names, left []string
	for _, name := range sortedKeys(props) {
		sub, _ := props[name].(map[string]any)
		if sub == nil || freeForm(sub) {
			delete(props, name)
			left = append(left, name)
			continue
		}
		sub = strictNode(sub)
		_, isRef := sub["$ref"]
		switch {
		case !slices.Contains(required, name):
			sub = nullable(sub)
		case isRef && sub["description"] != nil:
			// Strict mode refuses keywords beside $ref.
			sub = map[string]any{"anyOf": []any{map[string]any{"$ref": sub["$ref"]}}, "description": sub["description"]}
		}
		props[name] = sub
		names = append(names, name)
	}
	req := make([]any, len(names))
	for i, n := range names {
		req[i] = n
	}
	s["required"] = req
	if len(names) == 0 {
		delete(s, "required")
	}
	s["additionalProperties"] = false
	if len(left) > 0 {
		addNote(s, leftOutText(left))
	}
	return s
}

// nullable lets a property be null, which the server reads as "not set".
func nullable(s map[string]any) map[string]any {
	switch t := s["type"].(type) {
	case string:
		if t == "null" {
			return s
		}
		s["type"] = []any{t, "null"}
		if e, ok := s["enum"].([]any); ok {
			s["enum"] = append(e, nil)
		}
		return s
	}
	desc := s["description"]
	delete(s, "description")
	out := map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
	if desc != nil {
		out["description"] = desc
	}
	return out
}

// keywordText states a keyword that a host does not read.
func keywordText(k string, v any) string {
	switch k {
	case "minLength":
		return "At least " + numberText(v) + " characters."
	case "maxLength":
		return "At most " + numberText(v) + " characters."
	case "minItems":
		return "At least " + numberText(v) + " items."
	case "maxItems":
		return "At most " + numberText(v) + " items."
	case "uniqueItems":
		if v == true {
			return "Items must be distinct."
		}
		return ""
	case "minProperties":
		return "At least " + numberText(v) + " entries."
	case "maxProperties":
		return "At most " + numberText(v) + " entries."
	case "format":
		return "Must be " + formatText(stringOf(v)) + "."
	case "additionalProperties", "propertyNames", "$defs", "$ref", "$schema":
		return ""
	case "enum":
		return "Must be one of " + valuesText(v) + "."
	case "const":
		return "Must be " + valueText(v) + "."
	case "pattern":
		return "Must match the regular expression " + stringOf(v) + "."
	}
	return "Must be " + phrase(map[string]any{k: v}) + "."
}

// Gemini's Schema (an OpenAPI 3.0 subset): the keywords it documents, and the formats it reads
// for each type.
var (
	geminiKeywords = map[string]bool{
		"type": true, "format": true, "title": true, "description": true, "nullable": true, "enum": true,
		"maxItems": true, "minItems": true, "properties": true, "required": true, "minProperties": true,
		"maxProperties": true, "minLength": true, "maxLength": true, "pattern": true, "example": true,
		"anyOf": true, "propertyOrdering": true, "default": true, "items": true, "minimum": true, "maximum": true,
	}
	geminiFormats = map[string][]string{
		"string": {"enum", "date-time"}, "number": {"float", "double"}, "integer": {"int32", "int64"},
	}
)

// geminizer rewrites a portable schema for Gemini: $refs written out to GeminiDepth.
type geminizer struct {
	defs  map[string]any
	root  map[string]any
	depth map[string]int // how many times each $ref target is open on the current path
	max   int            // how many levels of a message that contains itself are written out
}

// What became of a schema in the Gemini profile.
type geminiFate int

const (
	described geminiFate = iota
	leftOut              // free-form, or nothing in it can be described
	cut                  // nested deeper than GeminiDepth
)

func gemini(s map[string]any, depth int) map[string]any {
	defs, _ := s["$defs"].(map[string]any)
	delete(s, "$defs")
	g := &geminizer{defs: defs, root: copyMap(s), depth: map[string]int{"#": 1}, max: depth}
	out, _ := g.expand(s)
	if out == nil {
		out = map[string]any{"type": "object"}
	}
	return out
}

// expand writes out a $ref and rewrites the schema.
func (g *geminizer) expand(s map[string]any) (map[string]any, geminiFate) {
	ref, isRef := s["$ref"].(string)
	if !isRef {
		return g.node(s)
	}
	target := g.root
	if name, isDef := strings.CutPrefix(ref, "#/$defs/"); isDef {
		target, _ = g.defs[name].(map[string]any)
	}
	if target == nil || g.depth[ref] >= g.max {
		return nil, cut
	}
	m := copyMap(target)
	for k, v := range s {
		if k != "$ref" {
			m[k] = v
		}
	}
	g.depth[ref]++
	defer func() { g.depth[ref]-- }()
	return g.expand(m)
}

// node rewrites one schema that is not a $ref.
func (g *geminizer) node(s map[string]any) (map[string]any, geminiFate) {
	if freeForm(s) {
		return s, leftOut
	}
	if s["type"] == "null" {
		// NullValue: its name is read as null too.
		s["type"], s["enum"] = "string", []any{"NULL_VALUE"}
	}
	typ, _ := s["type"].(string)
	if c, ok := s["const"]; ok {
		delete(s, "const")
		if typ == "string" {
			s["enum"] = []any{c}
		} else {
			addNote(s, "Must be "+valueText(c)+".")
		}
	}
	if e, ok := s["enum"]; ok && typ != "string" {
		delete(s, "enum")
		addNote(s, "Must be one of "+valuesText(e)+".")
	}
	for _, bound := range []struct{ excl, incl string }{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
		v, ok := s[bound.excl]
		if !ok {
			continue
		}
		delete(s, bound.excl)
		n, isInt := new(big.Int).SetString(numberText(v), 10)
		if typ == "integer" && isInt {
			if bound.incl == "minimum" {
				n.Add(n, big.NewInt(1))
			} else {
				n.Sub(n, big.NewInt(1))
			}
			s[bound.incl] = json.Number(n.String())
		} else {
			addNote(s, keywordText(bound.excl, v))
		}
	}
	if f, ok := s["format"].(string); ok && !slices.Contains(geminiFormats[typ], f) {
		delete(s, "format")
		addNote(s, "Must be "+formatText(f)+".")
	}
	for _, k := range sortedKeys(s) {
		if !geminiKeywords[k] {
			addNote(s, keywordText(k, s[k]))
			delete(s, k)
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		it, fate := g.expand(items)
		if fate != described {
			return nil, fate
		}
		s["items"] = it
	}
	props, ok := s["properties"].(map[string]any)
	if !ok {
		return s, described
	}
	var kept, left, deeper []string
	for _, name := range sortedKeys(props) {
		sub, _ := props[name].(map[string]any)
		out, fate := g.expand(sub)
		switch fate {
		case described:
			props[name] = out
			kept = append(kept, name)
			continue
		case leftOut:
			left = append(left, name)
		case cut:
			deeper = append(deeper, name)
		}
		delete(props, name)
	}
	var req []any
	for _, n := range requiredNames(s) {
		if slices.Contains(kept, n) {
			req = append(req, n)
		}
	}
	delete(s, "required")
	if len(req) > 0 {
		s["required"] = req
	}
	if len(left) > 0 {
		addNote(s, leftOutText(left))
	}
	if len(deeper) > 0 {
		addNote(s, fmt.Sprintf("Nesting is written out %d levels deep; deeper, these are left out of this schema (the server accepts them): %s.",
			g.max, strings.Join(deeper, ", ")))
	}
	if len(kept) == 0 {
		// Gemini refuses an object without properties.
		delete(s, "properties")
		return s, leftOut
	}
	return s, described
}

// common narrows a gemini rendering to what every host reads: the keywords and formats both
// OpenAI's strict mode (which the Agents SDK's strict conversion sends as they are) and Gemini's
// Schema take, the others (string and map lengths, Gemini's own formats) stated in words.
func common(s map[string]any) map[string]any {
	if f, ok := s["format"].(string); ok && !strictFormats[f] {
		delete(s, "format")
		if _, own := geminiFormatNames[f]; !own {
			addNote(s, "Must be "+formatText(f)+".")
		}
	}
	for _, k := range sortedKeys(s) {
		if !strictKeywords[k] || !geminiKeywords[k] {
			if k != "title" {
				addNote(s, keywordText(k, s[k]))
				delete(s, k)
			}
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		s["items"] = common(items)
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for name, sub := range props {
			if m, ok := sub.(map[string]any); ok {
				props[name] = common(m)
			}
		}
	}
	if alts, ok := s["anyOf"].([]any); ok {
		for i, sub := range alts {
			if m, ok := sub.(map[string]any); ok {
				alts[i] = common(m)
			}
		}
	}
	return s
}

// geminiFormatNames are the formats of Gemini's Schema that only restate the type (int32, float,
// a string enum): the common rendering drops them without a word.
var geminiFormatNames = map[string]bool{"enum": true, "int32": true, "int64": true, "float": true, "double": true}
