package toolschema

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Base64 as protojson reads bytes: the standard or the URL-safe alphabet (not mixed), padded
// or not. It writes the standard alphabet, padded.
const (
	base64Pattern = `^(?:(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?` +
		`|(?:[A-Za-z0-9_\-]{4})*(?:[A-Za-z0-9_\-]{2}(?:==)?|[A-Za-z0-9_\-]{3}=?)?)$`
	base64OutputPattern = `^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`
)

// Float32 bounds as JSON numbers: every number up to 3.4028235e38 rounds to a finite float32.
const maxFloat32Text = "3.4028235e38"

// Numeric strings protojson reads for floating-point fields, limited to magnitudes that cannot
// overflow the type (protojson rejects those): at most 19 integer digits times 10^19 for float,
// 200 integer digits times 10^99 for double.
const (
	floatStringPattern  = `^-?(?:0|[1-9][0-9]{0,18})(?:\.[0-9]+)?(?:[eE](?:-[0-9]+|\+?1?[0-9]))?$`
	doubleStringPattern = `^-?(?:0|[1-9][0-9]{0,199})(?:\.[0-9]+)?(?:[eE](?:-[0-9]+|\+?[0-9]{1,2}))?$`
)

var specialFloats = []string{"NaN", "Infinity", "-Infinity"}

// integerKind describes an integer kind: its range and whether it is signed.
func integerKind(k protoreflect.Kind) (lo, hi *big.Int, signed, wide bool) {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return big.NewInt(math.MinInt32), big.NewInt(math.MaxInt32), true, false
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return big.NewInt(0), big.NewInt(math.MaxUint32), false, false
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64), true, true
	default: // Uint64Kind, Fixed64Kind
		return big.NewInt(0), new(big.Int).SetUint64(math.MaxUint64), false, true
	}
}

func number(n *big.Int) json.Number { return json.Number(n.String()) }

// simpleDecimal is the pattern of the integers protojson writes as strings.
func simpleDecimal(signed bool) string {
	if signed {
		return `^-?(?:0|[1-9][0-9]*)$`
	}
	return `^(?:0|[1-9][0-9]*)$`
}

// scalar returns the schema of a scalar field's value.
func (b *builder) scalar(fd protoreflect.FieldDescriptor, r *fieldRules) (map[string]any, []string) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		s := map[string]any{"type": "boolean"}
		if !b.input || r == nil {
			return s, nil
		}
		if br := r.fr.GetBool(); br != nil && br.HasConst() {
			s["const"] = br.GetConst()
		}
		if r.required() && !fd.HasPresence() {
			s["const"] = true
		}
		notes := append(r.leftover("const"), r.celText()...)
		return b.ignoreIfZero(s, r, map[string]any{"const": false}), notes
	case protoreflect.StringKind:
		return b.stringValue(fd, r)
	case protoreflect.BytesKind:
		if !b.input {
			return map[string]any{"type": "string", "pattern": base64OutputPattern}, nil
		}
		s := map[string]any{"type": "string", "pattern": base64Pattern}
		if r == nil {
			return s, nil
		}
		if r.required() && !fd.HasPresence() {
			s["minLength"] = 1
		}
		notes := append(bytesRuleText(r), r.celText()...)
		return b.ignoreIfZero(s, r, map[string]any{"const": ""}), notes
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return b.float(fd, r)
	default:
		return b.integer(fd, r)
	}
}

// intRules are the numeric rules of an integer field, read from any of the ten integer rule
// messages, which share field names.
type intRules struct {
	lower, upper         *big.Int
	lowerExcl, upperExcl bool
	in, notIn            []*big.Int
	hasIn                bool
}

func readIntRules(r *fieldRules) intRules {
	var ir intRules
	t := r.typed()
	if t == nil {
		return ir
	}
	get := func(name string) (*big.Int, bool) {
		fd := t.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil || !t.Has(fd) {
			return nil, false
		}
		return intValue(fd, t.Get(fd)), true
	}
	list := func(name string) ([]*big.Int, bool) {
		fd := t.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil || !t.Has(fd) {
			return nil, false
		}
		l := t.Get(fd).List()
		out := make([]*big.Int, l.Len())
		for i := range l.Len() {
			out[i] = intValue(fd, l.Get(i))
		}
		return out, true
	}
	if v, ok := get("gt"); ok {
		ir.lower, ir.lowerExcl = v, true
	} else if v, ok := get("gte"); ok {
		ir.lower = v
	}
	if v, ok := get("lt"); ok {
		ir.upper, ir.upperExcl = v, true
	} else if v, ok := get("lte"); ok {
		ir.upper = v
	}
	ir.in, ir.hasIn = list("in")
	if v, ok := get("const"); ok {
		ir.in, ir.hasIn = []*big.Int{v}, true
	}
	ir.notIn, _ = list("not_in")
	return ir
}

func intValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) *big.Int {
	switch fd.Kind() {
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return new(big.Int).SetUint64(v.Uint())
	case protoreflect.EnumKind:
		return big.NewInt(int64(v.Enum()))
	}
	return big.NewInt(v.Int())
}

// reversed reports whether the bounds ask for a value outside a range, as protovalidate reads a
// lower bound above the upper one (gt: 20, lt: 10 means below 10 or above 20).
func reversed(lower, upper *big.Int, lowerExcl, upperExcl bool) bool {
	if lower == nil || upper == nil {
		return false
	}
	c := upper.Cmp(lower)
	if lowerExcl && upperExcl {
		return c <= 0
	}
	return c < 0
}

// allowed returns the integers in [lo, hi] that the rules accept, as sorted disjoint intervals.
func (ir intRules) allowed(lo, hi *big.Int, nonZero bool) []interval {
	one := big.NewInt(1)
	l, u := lo, hi
	if ir.lower != nil {
		l = new(big.Int).Set(ir.lower)
		if ir.lowerExcl {
			l.Add(l, one)
		}
	}
	if ir.upper != nil {
		u = new(big.Int).Set(ir.upper)
		if ir.upperExcl {
			u.Sub(u, one)
		}
	}
	var ivs []interval
	if reversed(ir.lower, ir.upper, ir.lowerExcl, ir.upperExcl) {
		ivs = []interval{{lo, u}, {l, hi}}
	} else {
		ivs = []interval{{l, u}}
	}
	ivs = clip(ivs, lo, hi)
	if ir.hasIn {
		var points []interval
		for _, v := range ir.in {
			if contains(ivs, v) {
				points = append(points, interval{v, v})
			}
		}
		ivs = normalize(points)
	}
	for _, v := range ir.notIn {
		ivs = remove(ivs, v)
	}
	if nonZero {
		ivs = remove(ivs, big.NewInt(0))
	}
	return ivs
}

func clip(ivs []interval, lo, hi *big.Int) []interval {
	var out []interval
	for _, iv := range ivs {
		l, u := maxInt(iv.lo, lo), minInt(iv.hi, hi)
		if l.Cmp(u) <= 0 {
			out = append(out, interval{l, u})
		}
	}
	return normalize(out)
}

func normalize(ivs []interval) []interval {
	slices.SortFunc(ivs, func(a, b interval) int { return a.lo.Cmp(b.lo) })
	var out []interval
	for _, iv := range ivs {
		if n := len(out); n > 0 && new(big.Int).Add(out[n-1].hi, big.NewInt(1)).Cmp(iv.lo) >= 0 {
			out[n-1].hi = maxInt(out[n-1].hi, iv.hi)
			continue
		}
		out = append(out, iv)
	}
	return out
}

func remove(ivs []interval, v *big.Int) []interval {
	var out []interval
	one := big.NewInt(1)
	for _, iv := range ivs {
		if iv.lo.Cmp(v) > 0 || iv.hi.Cmp(v) < 0 {
			out = append(out, iv)
			continue
		}
		if iv.lo.Cmp(v) < 0 {
			out = append(out, interval{iv.lo, new(big.Int).Sub(v, one)})
		}
		if iv.hi.Cmp(v) > 0 {
			out = append(out, interval{new(big.Int).Add(v, one), iv.hi})
		}
	}
	return out
}

// bounds writes the rule bounds as minimum/exclusiveMinimum/maximum/exclusiveMaximum, keeping
// the type's own bound where a rule gives none. A reversed range becomes anyOf.
func bounds(s map[string]any, lower, upper any, lowerExcl, upperExcl, rev bool, typeLo, typeHi any) {
	lowKey, highKey := "minimum", "maximum"
	if lowerExcl {
		lowKey = "exclusiveMinimum"
	}
	if upperExcl {
		highKey = "exclusiveMaximum"
	}
	if rev {
		s["anyOf"] = []any{map[string]any{highKey: upper}, map[string]any{lowKey: lower}}
		lower, upper = nil, nil
	}
	if lower != nil {
		s[lowKey] = lower
	} else if typeLo != nil {
		s["minimum"] = typeLo
	}
	if upper != nil {
		s[highKey] = upper
	} else if typeHi != nil {
		s["maximum"] = typeHi
	}
}

// addNot adds a "not" to s, keeping any "not" it has.
func addNot(s map[string]any, sub map[string]any) {
	if prev, ok := s["not"]; ok {
		s["not"] = map[string]any{"anyOf": []any{prev, sub}}
		return
	}
	s["not"] = sub
}

func numbers(vs []*big.Int) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = number(v)
	}
	return out
}

// integer returns the schema of an integer field. protojson writes 32-bit kinds as numbers and
// 64-bit kinds as decimal strings, and reads both forms for every kind.
func (b *builder) integer(fd protoreflect.FieldDescriptor, r *fieldRules) (map[string]any, []string) {
	lo, hi, signed, wide := integerKind(fd.Kind())
	if !b.input {
		if wide {
			return map[string]any{"type": "string", "pattern": simpleDecimal(signed)}, nil
		}
		return map[string]any{"type": "integer", "minimum": number(lo), "maximum": number(hi)}, nil
	}
	ir := readIntRules(r)
	nonZero := r.required() && !fd.HasPresence()
	num := map[string]any{"type": "integer"}
	switch {
	case ir.hasIn:
		var in []*big.Int
		for _, iv := range ir.allowed(lo, hi, nonZero) {
			for v := new(big.Int).Set(iv.lo); v.Cmp(iv.hi) <= 0; v.Add(v, big.NewInt(1)) {
				in = append(in, new(big.Int).Set(v))
			}
		}
		if len(in) == 1 {
			num["const"] = number(in[0])
		} else {
			num["enum"] = numbers(in)
		}
	default:
		var lower, upper any
		if ir.lower != nil {
			lower = number(ir.lower)
		}
		if ir.upper != nil {
			upper = number(ir.upper)
		}
		bounds(num, lower, upper, ir.lowerExcl, ir.upperExcl,
			reversed(ir.lower, ir.upper, ir.lowerExcl, ir.upperExcl), number(lo), number(hi))
		if len(ir.notIn) > 0 {
			addNot(num, map[string]any{"enum": numbers(ir.notIn)})
		}
		if nonZero {
			addNot(num, map[string]any{"const": 0})
		}
	}
	var str map[string]any
	if ivs := ir.allowed(lo, hi, nonZero); wide && fullRange(ivs, lo, hi) {
		// The full range's pattern is long and the same for every field of the kind: write it
		// once under $defs.
		str = b.sharedString(integerDef(signed, "string"), integerStringPattern(ivs))
	} else {
		str = map[string]any{"type": "string", "pattern": integerStringPattern(ivs)}
	}
	var s map[string]any
	var notes []string
	if wide {
		s = map[string]any{"anyOf": []any{str, num}}
		notes = intRuleText(ir)
	} else {
		s = map[string]any{"anyOf": []any{num, str}}
	}
	notes = append(notes, r.leftover("const", "lt", "lte", "gt", "gte", "in", "not_in")...)
	notes = append(notes, r.celText()...)
	return b.ignoreIfZero(s, r, map[string]any{"enum": []any{0, "0", "-0"}}), notes
}

// intRuleText states the rules of a 64-bit integer in words, since the string form's pattern
// is hard to read.
func intRuleText(ir intRules) []string {
	var out []string
	rev := reversed(ir.lower, ir.upper, ir.lowerExcl, ir.upperExcl)
	word := func(excl bool, strict, loose string) string {
		if excl {
			return strict
		}
		return loose
	}
	switch {
	case rev:
		out = append(out, fmt.Sprintf("Must be %s %s or %s %s.",
			word(ir.upperExcl, "less than", "at most"), ir.upper, word(ir.lowerExcl, "greater than", "at least"), ir.lower))
	default:
		if ir.lower != nil {
			out = append(out, fmt.Sprintf("Must be %s %s.", word(ir.lowerExcl, "greater than", "at least"), ir.lower))
		}
		if ir.upper != nil {
			out = append(out, fmt.Sprintf("Must be %s %s.", word(ir.upperExcl, "less than", "at most"), ir.upper))
		}
	}
	if ir.hasIn {
		out = append(out, "Must be one of "+joinInts(ir.in)+".")
	}
	if len(ir.notIn) > 0 {
		out = append(out, "Must not be one of "+joinInts(ir.notIn)+".")
	}
	return out
}

func joinInts(vs []*big.Int) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.String()
	}
	return strings.Join(parts, ", ")
}

// floatRules are the rules of a float or double field.
type floatRules struct {
	lower, upper         *float64
	lowerExcl, upperExcl bool
	in, notIn            []float64
	hasIn, finite        bool
}

func readFloatRules(r *fieldRules) floatRules {
	var fr floatRules
	t := r.typed()
	if t == nil {
		return fr
	}
	get := func(name string) *float64 {
		fd := t.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil || !t.Has(fd) {
			return nil
		}
		v := t.Get(fd).Float()
		return &v
	}
	list := func(name string) ([]float64, bool) {
		fd := t.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil || !t.Has(fd) {
			return nil, false
		}
		l := t.Get(fd).List()
		out := make([]float64, l.Len())
		for i := range l.Len() {
			out[i] = l.Get(i).Float()
		}
		return out, true
	}
	if v := get("gt"); v != nil {
		fr.lower, fr.lowerExcl = v, true
	} else if v := get("gte"); v != nil {
		fr.lower = v
	}
	if v := get("lt"); v != nil {
		fr.upper, fr.upperExcl = v, true
	} else if v := get("lte"); v != nil {
		fr.upper = v
	}
	fr.in, fr.hasIn = list("in")
	if v := get("const"); v != nil {
		fr.in, fr.hasIn = []float64{*v}, true
	}
	fr.notIn, _ = list("not_in")
	if fd := t.Descriptor().Fields().ByName("finite"); fd != nil && t.Has(fd) {
		fr.finite = t.Get(fd).Bool()
	}
	return fr
}

func (fr floatRules) reversed() bool {
	if fr.lower == nil || fr.upper == nil {
		return false
	}
	if fr.lowerExcl && fr.upperExcl {
		return *fr.upper <= *fr.lower
	}
	return *fr.upper < *fr.lower
}

// accepts reports whether protovalidate accepts x under these rules.
func (fr floatRules) accepts(x float64) bool {
	if fr.finite && (math.IsNaN(x) || math.IsInf(x, 0)) {
		return false
	}
	if fr.hasIn && !slices.Contains(fr.in, x) {
		return false
	}
	if slices.Contains(fr.notIn, x) {
		return false
	}
	above := func() bool {
		if fr.lower == nil {
			return true
		}
		if fr.lowerExcl {
			return x > *fr.lower
		}
		return x >= *fr.lower
	}
	below := func() bool {
		if fr.upper == nil {
			return true
		}
		if fr.upperExcl {
			return x < *fr.upper
		}
		return x <= *fr.upper
	}
	if fr.reversed() {
		return below() || above()
	}
	return above() && below()
}

func (fr floatRules) any() bool {
	return fr.lower != nil || fr.upper != nil || fr.hasIn || len(fr.notIn) > 0 || fr.finite
}

// float returns the schema of a float or double field: a JSON number, or one of the strings
// "NaN", "Infinity", "-Infinity"; on input also a numeric string.
func (b *builder) float(fd protoreflect.FieldDescriptor, r *fieldRules) (map[string]any, []string) {
	bits := 64
	if fd.Kind() == protoreflect.FloatKind {
		bits = 32
	}
	jsonNum := func(v float64) json.Number { return json.Number(strconv.FormatFloat(v, 'g', -1, bits)) }
	if !b.input {
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "number"},
			map[string]any{"type": "string", "enum": specialFloats},
		}}, nil
	}
	fr := readFloatRules(r)
	nonZero := r.required() && !fd.HasPresence()
	num := map[string]any{"type": "number"}
	var typeLo, typeHi any
	if bits == 32 {
		typeLo, typeHi = json.Number("-"+maxFloat32Text), json.Number(maxFloat32Text)
	}
	switch {
	case fr.hasIn:
		var in []any
		for _, v := range fr.in {
			if fr.accepts(v) && !math.IsNaN(v) && !math.IsInf(v, 0) && (!nonZero || v != 0) {
				in = append(in, jsonNum(v))
			}
		}
		if len(in) == 1 {
			num["const"] = in[0]
		} else {
			num["enum"] = in
		}
	default:
		var lower, upper any
		if fr.lower != nil && !math.IsInf(*fr.lower, 0) {
			lower = jsonNum(*fr.lower)
		}
		if fr.upper != nil && !math.IsInf(*fr.upper, 0) {
			upper = jsonNum(*fr.upper)
		}
		bounds(num, lower, upper, fr.lowerExcl, fr.upperExcl, fr.reversed() && lower != nil && upper != nil, typeLo, typeHi)
		var notIn []any
		for _, v := range fr.notIn {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				notIn = append(notIn, jsonNum(v))
			}
		}
		if len(notIn) > 0 {
			addNot(num, map[string]any{"enum": notIn})
		}
		if nonZero {
			addNot(num, map[string]any{"const": 0})
		}
	}
	var specials []any
	for _, name := range specialFloats {
		v := map[string]float64{"NaN": math.NaN(), "Infinity": math.Inf(1), "-Infinity": math.Inf(-1)}[name]
		if fr.accepts(v) {
			specials = append(specials, name)
		}
	}
	branches := []any{num}
	if len(specials) > 0 {
		branches = append(branches, map[string]any{"type": "string", "enum": specials})
	}
	if !fr.any() && !nonZero && r.typed() == nil {
		// Numeric strings only where no rule bounds the value: a pattern cannot compare them.
		p := doubleStringPattern
		if bits == 32 {
			p = floatStringPattern
		}
		branches = append(branches, map[string]any{"type": "string", "pattern": p})
	}
	var s map[string]any
	if len(branches) == 1 {
		s = num
	} else {
		s = map[string]any{"anyOf": branches}
	}
	notes := r.leftover("const", "lt", "lte", "gt", "gte", "in", "not_in", "finite")
	notes = append(notes, r.celText()...)
	return b.ignoreIfZero(s, r, map[string]any{"enum": []any{0, "0", "-0"}}), notes
}

// enum returns the schema of an enum field: protojson writes the value's name (or its number
// when the value is not defined) and reads either.
func (b *builder) enum(ed protoreflect.EnumDescriptor, r *fieldRules) (map[string]any, []string) {
	if ed.FullName() == nullValueName {
		if !b.input {
			return map[string]any{"type": "null"}, nil
		}
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "null"},
			map[string]any{"type": "string", "enum": []any{"NULL_VALUE"}},
			map[string]any{"type": "integer", "minimum": math.MinInt32, "maximum": math.MaxInt32},
		}}, nil
	}
	values := ed.Values()
	int32Range := func() map[string]any {
		return map[string]any{"type": "integer", "minimum": math.MinInt32, "maximum": math.MaxInt32}
	}
	if !b.input {
		names := make([]any, values.Len())
		for i := range values.Len() {
			names[i] = string(values.Get(i).Name())
		}
		return map[string]any{"anyOf": []any{map[string]any{"type": "string", "enum": names}, int32Range()}}, nil
	}
	er := r.typedEnum()
	accept := func(n protoreflect.EnumNumber) bool {
		if er.definedOnly && values.ByNumber(n) == nil {
			return false
		}
		if er.hasIn && !slices.Contains(er.in, n) {
			return false
		}
		if slices.Contains(er.notIn, n) {
			return false
		}
		return !er.nonZero || n != 0
	}
	var names []any
	for i := range values.Len() {
		if v := values.Get(i); accept(v.Number()) {
			names = append(names, string(v.Name()))
		}
	}
	num := int32Range()
	if er.definedOnly || er.hasIn {
		var allowed []any
		seen := map[protoreflect.EnumNumber]bool{}
		add := func(n protoreflect.EnumNumber) {
			if !seen[n] && accept(n) {
				seen[n] = true
				allowed = append(allowed, int(n))
			}
		}
		if er.hasIn {
			for _, n := range er.in {
				add(n)
			}
		} else {
			for i := range values.Len() {
				add(values.Get(i).Number())
			}
		}
		num = map[string]any{"type": "integer", "enum": allowed}
		if len(allowed) == 1 {
			num = map[string]any{"type": "integer", "const": allowed[0]}
		}
	} else {
		var not []any
		for _, n := range er.notIn {
			not = append(not, int(n))
		}
		if er.nonZero && !slices.Contains(er.notIn, 0) {
			not = append(not, 0)
		}
		if len(not) > 0 {
			num["not"] = map[string]any{"enum": not}
		}
	}
	str := map[string]any{"type": "string", "enum": names}
	if len(names) == 1 {
		str = map[string]any{"type": "string", "const": names[0]}
	}
	s := map[string]any{"anyOf": []any{str, num}}
	if len(names) == 0 {
		s = num
	}
	notes := append(r.leftover("const", "defined_only", "in", "not_in"), r.celText()...)
	var zero []any
	if v := values.ByNumber(0); v != nil {
		zero = append(zero, string(v.Name()))
	}
	zero = append(zero, 0)
	return b.ignoreIfZero(s, r, map[string]any{"enum": zero}), notes
}

type enumRules struct {
	definedOnly, hasIn, nonZero bool
	in, notIn                   []protoreflect.EnumNumber
}

func (r *fieldRules) typedEnum() enumRules {
	var er enumRules
	if r == nil {
		return er
	}
	// Enum fields without presence must not be zero when required.
	er.nonZero = r.required()
	e := r.fr.GetEnum()
	if e == nil {
		return er
	}
	er.definedOnly = e.GetDefinedOnly()
	if len(e.GetIn()) > 0 {
		er.hasIn = true
		for _, n := range e.GetIn() {
			er.in = append(er.in, protoreflect.EnumNumber(n))
		}
	}
	if e.HasConst() {
		er.hasIn = true
		er.in = []protoreflect.EnumNumber{protoreflect.EnumNumber(e.GetConst())}
	}
	for _, n := range e.GetNotIn() {
		er.notIn = append(er.notIn, protoreflect.EnumNumber(n))
	}
	return er
}

// mapKey returns the schema of a map's keys (JSON object names), or nil if any name will do.
func (b *builder) mapKey(fd protoreflect.FieldDescriptor, r *fieldRules) (map[string]any, []string) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if r == nil {
			return nil, nil
		}
		return b.stringValue(fd, r)
	case protoreflect.BoolKind:
		keys := []any{"true", "false"}
		if r != nil && r.fr.GetBool().HasConst() {
			keys = []any{strconv.FormatBool(r.fr.GetBool().GetConst())}
		}
		return map[string]any{"type": "string", "enum": keys}, nil
	}
	lo, hi, signed, wide := integerKind(fd.Kind())
	if !b.input {
		return map[string]any{"type": "string", "pattern": simpleDecimal(signed)}, nil
	}
	ir := readIntRules(r)
	notes := append(r.leftover("const", "lt", "lte", "gt", "gte", "in", "not_in"), r.celText()...)
	ivs := ir.allowed(lo, hi, false)
	if wide && fullRange(ivs, lo, hi) {
		return b.sharedString(integerDef(signed, "key"), mapKeyPattern(ivs, signed)), notes
	}
	return map[string]any{"type": "string", "pattern": mapKeyPattern(ivs, signed)}, notes
}

// integerDef names the $defs entry of a 64-bit kind's full-range string pattern: form is
// "string" (a quoted value) or "key" (a map key). The hyphen keeps these names apart from the
// message full names under $defs, which are identifiers joined by dots.
func integerDef(signed bool, form string) string {
	if signed {
		return "agentbridge.int64-" + form
	}
	return "agentbridge.uint64-" + form
}

// fullRange reports whether ivs is the whole of [lo, hi], which no rule narrows.
func fullRange(ivs []interval, lo, hi *big.Int) bool {
	return len(ivs) == 1 && ivs[0].lo.Cmp(lo) == 0 && ivs[0].hi.Cmp(hi) == 0
}

// sharedString returns a $ref to the string schema with the given pattern, written once under
// $defs as name.
func (b *builder) sharedString(name, pattern string) map[string]any {
	if _, done := b.defs[name]; !done {
		b.defs[name] = map[string]any{"type": "string", "pattern": pattern}
	}
	return map[string]any{"$ref": "#/$defs/" + name}
}
