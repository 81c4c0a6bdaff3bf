package xmlcodec

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Name is a qualified XML name: a namespace URI (empty for none) and a local name.
type Name struct {
	Space, Local string
}

// EncodeError says which field could not be written as XML and why. It is the caller's fault:
// the value cannot be carried by XML 1.0 or by the XSD type it maps to.
type EncodeError struct {
	Field protoreflect.FullName
	Err   error
}

func (e *EncodeError) Error() string { return fmt.Sprintf("field %s: %v", e.Field, e.Err) }
func (e *EncodeError) Unwrap() error { return e.Err }

// AppendElement appends m as the element name, with the message's fields as its attributes,
// text or children, to dst. Namespaces get prefixes declared where first used. Every value is
// escaped; a string holding a character XML 1.0 cannot carry is an *EncodeError.
func (p *Plan) AppendElement(dst []byte, name Name, m proto.Message) ([]byte, error) {
	e := encoder{buf: p.grow(dst)}
	if err := e.element(p, xmlName{name.Space, name.Local}, m.ProtoReflect()); err != nil {
		return dst, err
	}
	p.sized(len(e.buf) - len(dst))
	return e.buf, nil
}

// maxSizeHint bounds the room grow makes ahead.
const maxSizeHint = 4 << 20

// grow makes room in dst for what the plan's last encoding wrote, so that an encoding grows
// its buffer once rather than by doubling from nothing.
func (p *Plan) grow(dst []byte) []byte {
	if n := int(p.sizeHint.Load()); cap(dst)-len(dst) < n {
		return slices.Grow(dst, n)
	}
	return dst
}

// sized records what an encoding wrote, for grow.
func (p *Plan) sized(n int) {
	p.sizeHint.Store(int64(min(n, maxSizeHint)))
}

// AppendChildren appends m's element fields as AppendElement writes them inside the message's
// element, but without that element: for a message whose fields are themselves the children
// of another element (soap:Body, for a SOAP body without a wrapper). Each child declares the
// namespace it needs. The plan must pass ChildrenOnly. Header fields are not written.
func (p *Plan) AppendChildren(dst []byte, m proto.Message) ([]byte, error) {
	if err := p.ChildrenOnly(); err != nil {
		return dst, err
	}
	e := encoder{buf: p.grow(dst)}
	rm := m.ProtoReflect()
	for _, fp := range p.fields {
		if err := e.field(fp, rm); err != nil {
			return dst, err
		}
	}
	if err := e.appendAny(p.anyField, rm); err != nil {
		return dst, err
	}
	return e.buf, nil
}

// AppendHeaders appends m's header fields ((agentbridge.v1.xml).header) that are set, each as
// an element of its own name and namespace, as a child of soap:Header holds a header block.
// Fields without presence are always written, as in a message's element.
func (p *Plan) AppendHeaders(dst []byte, m proto.Message) ([]byte, error) {
	e := encoder{buf: dst}
	rm := m.ProtoReflect()
	for _, fp := range p.headers {
		if err := e.field(fp, rm); err != nil {
			return dst, err
		}
	}
	return e.buf, nil
}

type scope struct{ space, prefix string }

type encoder struct {
	buf    []byte
	scopes []scope
	next   int // the number of the next namespace prefix, ns0, ns1, ...

	enc *soapEncoding // SOAP encoding (use ENCODED); nil for literal XML
}

// open writes the start of a tag (without the closing '>') and returns where its qualified name
// sits in buf, for the end tag, and the scope depth to restore after the element.
func (e *encoder) open(name xmlName) (qstart, qend, mark int) {
	mark = len(e.scopes)
	e.buf = append(e.buf, '<')
	qstart = len(e.buf)
	var declare string
	if name.space != "" {
		prefix, ok := e.prefix(name.space)
		if !ok {
			prefix = e.declare(name.space)
			declare = prefix
		}
		e.buf = append(e.buf, prefix...)
		e.buf = append(e.buf, ':')
	}
	e.buf = append(e.buf, name.local...)
	qend = len(e.buf)
	if declare != "" {
		e.appendXmlns(declare, name.space)
	}
	if e.enc != nil {
		e.enc.depth++
		if e.enc.depth == 1 {
			e.encodingStyle()
		}
	}
	return qstart, qend, mark
}

func (e *encoder) close(qstart, qend, mark int) {
	if e.enc != nil {
		e.enc.depth--
	}
	e.buf = append(e.buf, '<', '/')
	e.buf = append(e.buf, e.buf[qstart:qend]...)
	e.buf = append(e.buf, '>')
	e.scopes = e.scopes[:mark]
}

func (e *encoder) prefix(space string) (string, bool) {
	for i := len(e.scopes) - 1; i >= 0; i-- {
		if e.scopes[i].space == space {
			return e.scopes[i].prefix, true
		}
	}
	return "", false
}

func (e *encoder) declare(space string) string {
	prefix := "ns" + strconv.Itoa(e.next)
	e.next++
	e.scopes = append(e.scopes, scope{space, prefix})
	return prefix
}

func (e *encoder) appendXmlns(prefix, space string) {
	e.buf = append(e.buf, " xmlns:"...)
	e.buf = append(e.buf, prefix...)
	e.buf = append(e.buf, '=', '"')
	e.buf, _ = appendEscaped(e.buf, space, true) // namespace URIs come from descriptors, not callers
	e.buf = append(e.buf, '"')
}

func (e *encoder) element(p *Plan, name xmlName, m protoreflect.Message) error {
	qs, qe, mark := e.open(name)
	for _, space := range p.spaces {
		if _, ok := e.prefix(space); !ok {
			e.appendXmlns(e.declare(space), space)
		}
	}
	if e.enc != nil && e.enc.typed() && p.typ.local != "" {
		e.xsiType(p.typ)
	}
	for _, fp := range p.attrs {
		if !m.Has(fp.fd) || !writesZero(fp, m) { // attributes are optional in XSD unless required
			continue
		}
		e.buf = append(e.buf, ' ')
		if fp.name.space != "" {
			prefix, _ := e.prefix(fp.name.space) // declared above from p.spaces
			e.buf = append(e.buf, prefix...)
			e.buf = append(e.buf, ':')
		}
		e.buf = append(e.buf, fp.name.local...)
		e.buf = append(e.buf, '=', '"')
		if err := e.value(fp, m.Get(fp.fd), true); err != nil {
			return err
		}
		e.buf = append(e.buf, '"')
	}
	e.buf = append(e.buf, '>')
	if fp := p.text; fp != nil && isSet(m, fp) {
		if err := e.value(fp, m.Get(fp.fd), false); err != nil {
			return err
		}
	}
	for _, fp := range p.fields {
		if err := e.field(fp, m); err != nil {
			return err
		}
	}
	if err := e.appendAny(p.anyField, m); err != nil {
		return err
	}
	e.close(qs, qe, mark)
	return nil
}

// isSet reports whether a field is written: fields with presence when set, repeated and map
// fields when not empty, and proto3 scalars always (an XSD element with minOccurs=1 needs its zero value),
// except as writesZero says.
func isSet(m protoreflect.Message, fp *fieldPlan) bool {
	if fp.fd.HasPresence() || fp.fd.IsList() || fp.fd.IsMap() {
		return m.Has(fp.fd)
	}
	return writesZero(fp, m)
}

// writesZero is false for an enum left at its zero value without an xml_value of its own: by
// proto convention that value means "not given", and no legacy system knows it as UNSPECIFIED.
// So is an empty string with an xsd_type and without presence: "" is in no such type's lexical
// space, so it can only mean "not given" too.
func writesZero(fp *fieldPlan, m protoreflect.Message) bool {
	if fp.fd.IsList() {
		return true
	}
	switch {
	case fp.kind == kindEnum:
		return fp.zeroHasText || m.Get(fp.fd).Enum() != 0
	case fp.xsd != nil && fp.kind == kindScalar && !fp.fd.HasPresence():
		return m.Get(fp.fd).String() != ""
	}
	return true
}

func (e *encoder) field(fp *fieldPlan, m protoreflect.Message) error {
	if fp.nilFD != nil && m.Has(fp.nilFD) {
		e.nilElement(fp.name)
		return nil
	}
	if !isSet(m, fp) {
		return nil
	}
	v := m.Get(fp.fd)
	if fp.kind == kindMap {
		return e.mapField(fp, v.Map())
	}
	if !fp.fd.IsList() {
		return e.single(fp, fp.name, v)
	}
	list := v.List()
	if fp.item == "" {
		for i := range list.Len() {
			if err := e.single(fp, fp.name, list.Get(i)); err != nil {
				return err
			}
		}
		return nil
	}
	qs, qe, mark := e.open(fp.name)
	if e.enc != nil {
		e.arrayAttrs(fp, list.Len())
	}
	e.buf = append(e.buf, '>')
	item := xmlName{fp.name.space, fp.item}
	for i := range list.Len() {
		if err := e.single(fp, item, list.Get(i)); err != nil {
			return err
		}
	}
	e.close(qs, qe, mark)
	return nil
}

// mapField writes a map as its field's element wrapping one entry element per key, in key
// order, so the same map is always the same XML (for golden files, signatures and caches).
func (e *encoder) mapField(fp *fieldPlan, mp protoreflect.Map) error {
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	kind := fp.mapKey.fd.Kind()
	slices.SortFunc(keys, func(a, b protoreflect.MapKey) int { return compareMapKeys(kind, a, b) })
	qs, qe, mark := e.open(fp.name)
	e.buf = append(e.buf, '>')
	entry := xmlName{fp.name.space, fp.item}
	for _, k := range keys {
		eqs, eqe, emark := e.open(entry)
		e.buf = append(e.buf, '>')
		if err := e.single(fp.mapKey, fp.mapKey.name, k.Value()); err != nil {
			return mapEntryError(fp, k, err)
		}
		if err := e.single(fp.mapValue, fp.mapValue.name, mp.Get(k)); err != nil {
			return mapEntryError(fp, k, err)
		}
		e.close(eqs, eqe, emark)
	}
	e.close(qs, qe, mark)
	return nil
}

// mapEntryError names the map field and the key for an error in an entry's key or scalar value
// (rather than the entry message's synthetic key or value field, which callers never see). An
// error inside a message value already names the nested field.
func mapEntryError(fp *fieldPlan, k protoreflect.MapKey, err error) error {
	var ee *EncodeError
	if errors.As(err, &ee) && (ee.Field == fp.mapKey.fd.FullName() || ee.Field == fp.mapValue.fd.FullName()) {
		return &EncodeError{Field: fp.fd.FullName(), Err: fmt.Errorf("key %s: %w", keyText(k), ee.Err)}
	}
	return err
}

// compareMapKeys orders map keys of one kind: numbers by value, strings by bytes, false first.
func compareMapKeys(kind protoreflect.Kind, a, b protoreflect.MapKey) int {
	switch kind {
	case protoreflect.StringKind:
		return strings.Compare(a.String(), b.String())
	case protoreflect.BoolKind:
		switch {
		case a.Bool() == b.Bool():
			return 0
		case b.Bool():
			return -1
		}
		return 1
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return cmp.Compare(a.Uint(), b.Uint())
	}
	return cmp.Compare(a.Int(), b.Int())
}

// keyText shows a map key in an error: strings quoted, so an empty or blank key is visible.
func keyText(k protoreflect.MapKey) string {
	if s, ok := k.Interface().(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(k.Interface())
}

// nilElement writes an empty element with xsi:nil="true", declaring the xsi prefix on it: nil
// elements are rare, so one declaration each keeps every other element free of it.
func (e *encoder) nilElement(name xmlName) {
	_, _, mark := e.open(name)
	if e.enc != nil {
		e.enc.depth--
	}
	if _, ok := e.prefix(xsiNamespace); ok { // declared by SOAP encoding (see encodingStyle)
		e.buf = append(e.buf, ` xsi:nil="true"/>`...)
	} else {
		e.buf = append(e.buf, ` xmlns:xsi="`+xsiNamespace+`" xsi:nil="true"/>`...)
	}
	e.scopes = e.scopes[:mark]
}

func (e *encoder) single(fp *fieldPlan, name xmlName, v protoreflect.Value) error {
	if fp.kind == kindMessage {
		return e.element(fp.msg, name, v.Message())
	}
	qs, qe, mark := e.open(name)
	if e.enc != nil && e.enc.typed() {
		e.xsiType(xmlName{xsdNamespace, fp.xsdTypeName()})
	}
	e.buf = append(e.buf, '>')
	if err := e.value(fp, v, false); err != nil {
		return err
	}
	e.close(qs, qe, mark)
	return nil
}

// value appends the XSD lexical form of a non-message value.
func (e *encoder) value(fp *fieldPlan, v protoreflect.Value, attr bool) error {
	var err error
	switch fp.kind {
	case kindEnum:
		text, ok := fp.enumText[v.Enum()]
		if !ok {
			return &EncodeError{fp.fd.FullName(), fmt.Errorf("%d is not a value of %s", v.Enum(), fp.fd.Enum().FullName())}
		}
		e.buf, _ = appendEscaped(e.buf, text, attr)
	case kindTimestamp:
		e.buf, err = appendTimestamp(e.buf, v.Message())
	case kindDuration:
		e.buf, err = appendDuration(e.buf, v.Message())
	case kindWrapper:
		e.buf, err = appendFieldScalar(e.buf, fp, fp.valueFD, v.Message().Get(fp.valueFD), attr)
	default:
		e.buf, err = appendFieldScalar(e.buf, fp, fp.fd, v, attr)
	}
	if err != nil {
		return &EncodeError{fp.fd.FullName(), err}
	}
	return nil
}

// appendFieldScalar appends a scalar as the field's xsd_type says: a string with a lexical type
// only when it is in that type's lexical space, as sent (a request value the backend's XSD
// would refuse, or read differently, is the caller's to fix), bytes as hex for hexBinary.
func appendFieldScalar(b []byte, fp *fieldPlan, fd protoreflect.FieldDescriptor, v protoreflect.Value, attr bool) ([]byte, error) {
	switch {
	case fp.xsd != nil:
		if s := v.String(); !fp.xsd.check(s) {
			return b, fmt.Errorf("%q is not an xsd:%s; %s", s, fp.xsd.Name, fp.xsd.Form)
		}
	case fp.hex && fd.Kind() == protoreflect.BytesKind:
		return appendHex(b, v.Bytes()), nil
	case fp.bounds != nil:
		if err := fp.bounds.check(fd.Kind(), v); err != nil {
			return b, err
		}
	}
	return appendScalar(b, fd, v, attr)
}

// appendHex writes xsd:hexBinary in its canonical form, upper case.
func appendHex(b, data []byte) []byte {
	const digits = "0123456789ABCDEF"
	for _, c := range data {
		b = append(b, digits[c>>4], digits[c&0x0f])
	}
	return b
}

func appendScalar(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value, attr bool) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return appendEscaped(b, v.String(), attr)
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case protoreflect.FloatKind:
		return appendFloat(b, v.Float(), 32), nil
	case protoreflect.DoubleKind:
		return appendFloat(b, v.Float(), 64), nil
	case protoreflect.BytesKind:
		return base64.StdEncoding.AppendEncode(b, v.Bytes()), nil
	}
	return b, fmt.Errorf("kind %s has no XML form", fd.Kind())
}

// appendFloat writes XSD float and double lexical forms (INF, -INF and NaN are spelled so).
func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "INF"...)
	case math.IsInf(f, -1):
		return append(b, "-INF"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

// minTime and maxTime bound the timestamps that xsd:dateTime and protojson both carry.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

func appendTimestamp(b []byte, m protoreflect.Message) ([]byte, error) {
	fields := m.Descriptor().Fields()
	secs, nanos := m.Get(fields.ByNumber(1)).Int(), m.Get(fields.ByNumber(2)).Int()
	if secs < minTime || secs > maxTime || nanos < 0 || nanos > 999_999_999 {
		return b, fmt.Errorf("timestamp %d.%09d is outside 0001-01-01 to 9999-12-31", secs, nanos)
	}
	return time.Unix(secs, nanos).UTC().AppendFormat(b, time.RFC3339Nano), nil
}

func appendDuration(b []byte, m protoreflect.Message) ([]byte, error) {
	fields := m.Descriptor().Fields()
	secs, nanos := m.Get(fields.ByNumber(1)).Int(), m.Get(fields.ByNumber(2)).Int()
	if (secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) || nanos <= -1e9 || nanos >= 1e9 {
		return b, fmt.Errorf("duration %ds %dns has mixed signs or too many nanoseconds", secs, nanos)
	}
	if secs < 0 || nanos < 0 {
		b = append(b, '-')
		secs, nanos = -secs, -nanos
	}
	b = append(b, "PT"...)
	b = strconv.AppendInt(b, secs, 10)
	if nanos != 0 {
		frac := strconv.AppendInt(nil, nanos+1e9, 10)[1:] // nine digits with leading zeros
		for len(frac) > 0 && frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
		b = append(b, '.')
		b = append(b, frac...)
	}
	return append(b, 'S'), nil
}

// appendEscaped writes s as XML character data or an attribute value. Characters that XML 1.0
// cannot carry at all are an error rather than being replaced: a value must not change silently.
func appendEscaped(b []byte, s string, attr bool) ([]byte, error) {
	safe := &textSafe
	if attr {
		safe = &attrSafe
	}
	last := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf && safe[c] {
			i++
			continue
		}
		r, width := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == '&':
			esc = "&amp;"
		case r == '<':
			esc = "&lt;"
		case r == '>':
			esc = "&gt;"
		case r == '"' && attr:
			esc = "&quot;"
		case r == '\r':
			esc = "&#xD;"
		case r == '\n' && attr:
			esc = "&#xA;"
		case r == '\t' && attr:
			esc = "&#x9;"
		case r == utf8.RuneError && width == 1:
			return b, fmt.Errorf("invalid UTF-8 at byte %d", i)
		case !isXMLChar(r):
			return b, fmt.Errorf("character U+%04X at byte %d cannot be carried by XML 1.0", r, i)
		default:
			i += width
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		i += width
		last = i
	}
	return append(b, s[last:]...), nil
}

// textSafe and attrSafe are the ASCII characters appendEscaped writes as they are in text and
// in attribute values.
var textSafe, attrSafe = func() (text, attr [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		text[c] = c != '&' && c != '<' && c != '>'
		attr[c] = text[c] && c != '"'
	}
	text['\n'], text['\t'] = true, true
	return text, attr
}()

// isXMLChar reports whether r is in XML 1.0's Char production.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
