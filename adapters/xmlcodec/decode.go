package xmlcodec

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MaxDepth bounds element nesting while decoding, so hostile or runaway input cannot exhaust
// the stack through recursive message types.
const MaxDepth = 64

const xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

// ErrMalformed marks a decode failure caused by input that is not well-formed XML (cut off,
// mismatched tags, an undefined entity) or that holds a document type declaration, as opposed
// to well-formed XML that does not fit the message. Callers map the two to different outcomes:
// the first is usually the transfer's fault, the second a disagreement over the contract.
var ErrMalformed = errors.New("malformed XML")

var errDoctype = fmt.Errorf("%w: document type declarations are not allowed", ErrMalformed)

// DecodeError says where a reply did not fit the message it decodes into.
type DecodeError struct {
	Path string // the element path below the decoded element, such as item/quantityOnHand
	Err  error
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("element %s: %v", e.Path, e.Err)
}
func (e *DecodeError) Unwrap() error { return e.Err }

// NewDecoder returns an encoding/xml decoder set up for untrusted input: strict, with no
// entities beyond XML's five and no character set conversion.
func NewDecoder(r interface{ Read([]byte) (int, error) }) *xml.Decoder {
	d := xml.NewDecoder(r)
	d.Strict = true
	return d
}

// Decode reads the content of the element that start opened, up to and including its end tag,
// into m. Unknown child elements are skipped (backends add fields); a value that does not parse
// as its field's type is a *DecodeError.
func (p *Plan) Decode(d *xml.Decoder, start xml.StartElement, m proto.Message) error {
	dec := decoder{d: d}
	return dec.message(p, start, m.ProtoReflect(), 0)
}

type decoder struct {
	d    *xml.Decoder
	path []string
	text []byte // reused buffer for element text
}

func (dc *decoder) fail(err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	return &DecodeError{Path: strings.Join(dc.path, "/"), Err: err}
}

func (dc *decoder) message(p *Plan, start xml.StartElement, m protoreflect.Message, depth int) error {
	if depth > MaxDepth {
		return dc.fail(fmt.Errorf("nested deeper than %d elements", MaxDepth))
	}
	for _, a := range start.Attr {
		if a.Name.Space == xsiNamespace || a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
			continue
		}
		for _, fp := range p.attrs {
			if fp.name.local == a.Name.Local && (fp.name.space == "" || fp.name.space == a.Name.Space) {
				v, err := parseValue(fp, a.Value, m)
				if err != nil {
					dc.path = append(dc.path, "@"+a.Name.Local)
					return dc.fail(err)
				}
				m.Set(fp.fd, v)
				break
			}
		}
	}
	if p.text != nil {
		text, err := dc.readText()
		if err != nil {
			return err
		}
		v, err := parseValue(p.text, text, m)
		if err != nil {
			return dc.fail(err)
		}
		m.Set(p.text.fd, v)
		return nil
	}
	for {
		tok, err := dc.d.Token()
		if err != nil {
			return dc.fail(syntaxError(err))
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			fp := p.byName[xmlName{t.Name.Space, t.Name.Local}]
			if fp == nil {
				fp = p.byLocal[t.Name.Local]
			}
			if fp == nil {
				if err := dc.d.Skip(); err != nil {
					return dc.fail(syntaxError(err))
				}
				continue
			}
			dc.path = append(dc.path, t.Name.Local)
			if err := dc.field(fp, t, m, depth+1); err != nil {
				return err
			}
			dc.path = dc.path[:len(dc.path)-1]
		case xml.Directive:
			return dc.fail(errDoctype)
		}
	}
}

func (dc *decoder) field(fp *fieldPlan, start xml.StartElement, m protoreflect.Message, depth int) error {
	if isNil(start) {
		return dc.d.Skip() // xsi:nil leaves the field unset, which is how presence says "null"
	}
	if fp.kind == kindMap {
		return dc.mapField(fp, m, depth)
	}
	if !fp.fd.IsList() {
		v, err := dc.single(fp, start, m, depth)
		if err != nil {
			return err
		}
		if fp.fd.ContainingOneof() != nil || fp.kind != kindMessage || !m.Has(fp.fd) {
			m.Set(fp.fd, v)
		}
		return nil
	}
	list := m.Mutable(fp.fd).List()
	if fp.item == "" {
		v, err := dc.single(fp, start, m, depth)
		if err != nil {
			return err
		}
		list.Append(v)
		return nil
	}
	for { // a wrapper element: each child named fp.item is one value
		tok, err := dc.d.Token()
		if err != nil {
			return dc.fail(syntaxError(err))
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if t.Name.Local != fp.item || isNil(t) {
				if err := dc.d.Skip(); err != nil {
					return dc.fail(syntaxError(err))
				}
				continue
			}
			dc.path = append(dc.path, t.Name.Local)
			v, err := dc.single(fp, t, m, depth+1)
			if err != nil {
				return err
			}
			dc.path = dc.path[:len(dc.path)-1]
			list.Append(v)
		}
	}
}

// mapField reads a map's wrapper element: each child named fp.item is one entry. Other children
// are skipped, as in a list's wrapper; entries add to what the map already holds, so a field
// element given twice merges, but a key given twice is an error.
func (dc *decoder) mapField(fp *fieldPlan, m protoreflect.Message, depth int) error {
	mp := m.Mutable(fp.fd).Map()
	for {
		tok, err := dc.d.Token()
		if err != nil {
			return dc.fail(syntaxError(err))
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if t.Name.Local != fp.item || isNil(t) {
				if err := dc.d.Skip(); err != nil {
					return dc.fail(syntaxError(err))
				}
				continue
			}
			dc.path = append(dc.path, t.Name.Local)
			if err := dc.mapEntry(fp, mp, m, depth+1); err != nil {
				return err
			}
			dc.path = dc.path[:len(dc.path)-1]
		case xml.Directive:
			return dc.fail(errDoctype)
		}
	}
}

// mapEntry reads one entry, its key and value elements in either order. A proto map cannot
// hold an entry without a key or a value, nor two values for one key, so each of those is an
// error rather than a guess: dropping the entry, a zero value or the last value wins would
// each change the data on its way through.
func (dc *decoder) mapEntry(fp *fieldPlan, mp protoreflect.Map, m protoreflect.Message, depth int) error {
	if depth > MaxDepth {
		return dc.fail(fmt.Errorf("nested deeper than %d elements", MaxDepth))
	}
	var (
		key              protoreflect.MapKey
		value            protoreflect.Value
		hasKey, hasValue bool
	)
	keyName, valueName := fp.mapKey.name.local, fp.mapValue.name.local
	for done := false; !done; {
		tok, err := dc.d.Token()
		if err != nil {
			return dc.fail(syntaxError(err))
		}
		switch t := tok.(type) {
		case xml.EndElement:
			done = true
		case xml.StartElement:
			name := t.Name.Local
			if name != keyName && name != valueName {
				if err := dc.d.Skip(); err != nil {
					return dc.fail(syntaxError(err))
				}
				continue
			}
			dc.path = append(dc.path, name)
			switch {
			case name == keyName && hasKey, name == valueName && hasValue:
				return dc.fail(fmt.Errorf("the entry has more than one %s element", name))
			case isNil(t):
				return dc.fail(errors.New("xsi:nil, but a map's keys and values cannot be null"))
			case name == keyName:
				text, err := dc.readText()
				if err != nil {
					return err
				}
				v, err := parseValue(fp.mapKey, text, m)
				if err != nil {
					return dc.fail(err)
				}
				key, hasKey = v.MapKey(), true
			default:
				v, err := dc.single(fp.mapValue, t, m, depth+1)
				if err != nil {
					return err
				}
				value, hasValue = v, true
			}
			dc.path = dc.path[:len(dc.path)-1]
		case xml.Directive:
			return dc.fail(errDoctype)
		}
	}
	switch {
	case !hasKey:
		return dc.fail(fmt.Errorf("the entry has no %s element", keyName))
	case !hasValue:
		return dc.fail(fmt.Errorf("the entry for key %s has no %s element", keyText(key), valueName))
	case mp.Has(key):
		return dc.fail(fmt.Errorf("key %s appears more than once", keyText(key)))
	}
	mp.Set(key, value)
	return nil
}

func (dc *decoder) single(fp *fieldPlan, start xml.StartElement, m protoreflect.Message, depth int) (protoreflect.Value, error) {
	if fp.kind == kindMessage {
		var sub protoreflect.Message
		if fp.mapOf != nil {
			sub = m.Mutable(fp.mapOf.fd).Map().NewValue().Message()
		} else if fp.fd.IsList() {
			sub = m.Mutable(fp.fd).List().NewElement().Message()
		} else if m.Has(fp.fd) && fp.fd.ContainingOneof() == nil {
			sub = m.Mutable(fp.fd).Message() // a repeated element merges, as protobuf does
		} else {
			sub = m.NewField(fp.fd).Message()
		}
		if err := dc.message(fp.msg, start, sub, depth); err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfMessage(sub), nil
	}
	text, err := dc.readText()
	if err != nil {
		return protoreflect.Value{}, err
	}
	v, err := parseValue(fp, text, m)
	if err != nil {
		return protoreflect.Value{}, dc.fail(err)
	}
	return v, nil
}

// readText collects the character data of the current element up to its end tag. Child
// elements inside a simple value are skipped.
func (dc *decoder) readText() (string, error) {
	dc.text = dc.text[:0]
	for {
		tok, err := dc.d.Token()
		if err != nil {
			return "", dc.fail(syntaxError(err))
		}
		switch t := tok.(type) {
		case xml.CharData:
			dc.text = append(dc.text, t...)
		case xml.StartElement:
			if err := dc.d.Skip(); err != nil {
				return "", dc.fail(syntaxError(err))
			}
		case xml.EndElement:
			return string(dc.text), nil
		case xml.Directive:
			return "", dc.fail(errDoctype)
		}
	}
}

func isNil(start xml.StartElement) bool {
	for _, a := range start.Attr {
		if a.Name.Local == "nil" && a.Name.Space == xsiNamespace {
			return strings.TrimSpace(a.Value) == "true" || strings.TrimSpace(a.Value) == "1"
		}
	}
	return false
}

// syntaxError keeps encoding/xml's message, which names the line, marked as ErrMalformed.
// Other errors (the reader's) pass through unchanged.
func syntaxError(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w at line %d: %s", ErrMalformed, se.Line, se.Msg)
	}
	return err
}

// parseValue parses the XSD lexical form of a non-message value. m is the message holding the
// field, used to make new well-known-type values.
func parseValue(fp *fieldPlan, text string, m protoreflect.Message) (protoreflect.Value, error) {
	switch fp.kind {
	case kindEnum:
		t := strings.TrimSpace(text)
		if n, ok := fp.enumValue[t]; ok {
			return protoreflect.ValueOfEnum(n), nil
		}
		return protoreflect.Value{}, fmt.Errorf("%q is not a value of %s", t, fp.fd.Enum().FullName())
	case kindTimestamp:
		t, err := ParseDateTime(text)
		if err != nil {
			return protoreflect.Value{}, err
		}
		msg := newWKT(fp, m)
		fields := msg.Descriptor().Fields()
		msg.Set(fields.ByNumber(1), protoreflect.ValueOfInt64(t.Unix()))
		msg.Set(fields.ByNumber(2), protoreflect.ValueOfInt32(int32(t.Nanosecond())))
		return protoreflect.ValueOfMessage(msg), nil
	case kindDuration:
		secs, nanos, err := ParseDuration(text)
		if err != nil {
			return protoreflect.Value{}, err
		}
		msg := newWKT(fp, m)
		fields := msg.Descriptor().Fields()
		msg.Set(fields.ByNumber(1), protoreflect.ValueOfInt64(secs))
		msg.Set(fields.ByNumber(2), protoreflect.ValueOfInt32(nanos))
		return protoreflect.ValueOfMessage(msg), nil
	case kindWrapper:
		v, err := parseScalar(fp.valueFD.Kind(), text)
		if err != nil {
			return protoreflect.Value{}, err
		}
		msg := newWKT(fp, m)
		msg.Set(fp.valueFD, v)
		return protoreflect.ValueOfMessage(msg), nil
	}
	return parseScalar(fp.fd.Kind(), text)
}

func newWKT(fp *fieldPlan, m protoreflect.Message) protoreflect.Message {
	if fp.mapOf != nil { // the value of a map entry: m holds the map, not the entry's value field
		return m.Mutable(fp.mapOf.fd).Map().NewValue().Message()
	}
	if fp.fd.IsList() {
		return m.Mutable(fp.fd).List().NewElement().Message()
	}
	return m.NewField(fp.fd).Message()
}

func parseScalar(kind protoreflect.Kind, text string) (protoreflect.Value, error) {
	if kind == protoreflect.StringKind {
		return protoreflect.ValueOfString(text), nil // strings keep their whitespace
	}
	t := strings.TrimSpace(text)
	switch kind {
	case protoreflect.BoolKind:
		switch t {
		case "true", "1":
			return protoreflect.ValueOfBool(true), nil
		case "false", "0":
			return protoreflect.ValueOfBool(false), nil
		}
		return protoreflect.Value{}, fmt.Errorf("%q is not an xsd:boolean", t)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(strings.TrimPrefix(t, "+"), 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not a 32-bit integer", t)
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(strings.TrimPrefix(t, "+"), 10, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not a 64-bit integer", t)
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(strings.TrimPrefix(t, "+"), 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not an unsigned 32-bit integer", t)
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(strings.TrimPrefix(t, "+"), 10, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not an unsigned 64-bit integer", t)
		}
		return protoreflect.ValueOfUint64(n), nil
	case protoreflect.FloatKind:
		f, err := parseFloat(t, 32)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfFloat32(float32(f)), nil
	case protoreflect.DoubleKind:
		f, err := parseFloat(t, 64)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfFloat64(f), nil
	case protoreflect.BytesKind:
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(t), ""))
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("not xsd:base64Binary: %w", err)
		}
		return protoreflect.ValueOfBytes(b), nil
	}
	return protoreflect.Value{}, fmt.Errorf("kind %s has no XML form", kind)
}

func parseFloat(t string, bits int) (float64, error) {
	switch t {
	case "INF", "+INF":
		return math.Inf(1), nil
	case "-INF":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	if strings.ContainsAny(t, "iInN") { // Go also accepts "inf", "Infinity" and "nan"; XSD does not
		return 0, fmt.Errorf("%q is not an XSD number", t)
	}
	f, err := strconv.ParseFloat(t, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is not an XSD number", t)
	}
	return f, nil
}

// ParseDateTime parses xsd:dateTime (and xsd:date). A value without a zone is taken as UTC, as
// most legacy systems mean it.
func ParseDateTime(text string) (time.Time, error) {
	t := strings.TrimSpace(text)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02Z07:00", "2006-01-02"} {
		if v, err := time.Parse(layout, t); err == nil {
			return v, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an xsd:dateTime", t)
}

// ParseDuration parses xsd:duration into seconds and nanoseconds. Years and months have no
// fixed length, so a value using them is refused rather than guessed.
func ParseDuration(text string) (int64, int32, error) {
	t := strings.TrimSpace(text)
	bad := fmt.Errorf("%q is not an xsd:duration of days, hours, minutes and seconds", t)
	neg := strings.HasPrefix(t, "-")
	s := strings.TrimPrefix(t, "-")
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return 0, 0, bad
	}
	s = s[1:]
	var secs float64
	var nanosFrac int64
	inTime := false
	for s != "" {
		if s[0] == 'T' {
			inTime = true
			s = s[1:]
			continue
		}
		i := strings.IndexAny(s, "YMDHS")
		if i <= 0 {
			return 0, 0, bad
		}
		num, unit := s[:i], s[i]
		s = s[i+1:]
		if unit == 'S' && inTime {
			whole, frac, _ := strings.Cut(num, ".")
			w, err := strconv.ParseInt(whole, 10, 64)
			if err != nil || len(frac) > 9 {
				return 0, 0, bad
			}
			secs += float64(w)
			if frac != "" {
				f, err := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
				if err != nil {
					return 0, 0, bad
				}
				nanosFrac = f
			}
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, 0, bad
		}
		switch {
		case unit == 'D' && !inTime:
			secs += float64(n) * 86400
		case unit == 'H' && inTime:
			secs += float64(n) * 3600
		case unit == 'M' && inTime:
			secs += float64(n) * 60
		case (unit == 'Y' || unit == 'M') && !inTime:
			if n != 0 {
				return 0, 0, fmt.Errorf("%q uses years or months, which have no fixed length", t)
			}
		default:
			return 0, 0, bad
		}
	}
	if secs > 315_576_000_000 { // protobuf Duration's range, about 10,000 years
		return 0, 0, fmt.Errorf("%q is longer than a protobuf Duration holds", t)
	}
	sec, nanos := int64(secs), int32(nanosFrac)
	if neg {
		sec, nanos = -sec, -nanos
	}
	return sec, nanos, nil
}
