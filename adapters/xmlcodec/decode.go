package xmlcodec

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unsafe"

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
// entities beyond XML's five. The codec's own Scanner (NewScanner, NewScannerReader) reads
// the same documents several times faster; decoding takes either (Tokens). A document whose XML declaration names another encoding than
// UTF-8 (ISO-8859-1, windows-1252 and the other WHATWG labels) is converted as it is read;
// UTF-16 must be converted before (see ToUTF8), and its declaration then reads as is.
func NewDecoder(r interface{ Read([]byte) (int, error) }) *xml.Decoder {
	d := xml.NewDecoder(r)
	d.Strict = true
	d.CharsetReader = charsetReader
	return d
}

// Decode reads the content of the element that start opened, up to and including its end tag,
// into m. Unknown child elements are skipped (backends add fields). A value that does not parse
// as its field's type, or that the field could not hold as it was sent, is a *DecodeError, and
// so are a missing element for a field without presence, and xsi:nil for a field without a
// nil_of field: each would otherwise reach the caller as a value the backend never sent.
func (p *Plan) Decode(d Tokens, start xml.StartElement, m proto.Message) error {
	return p.DecodeWith(d, start, m, DecodeOptions{})
}

// DecodeWith is Decode with options: lenient skipping of unknown elements and limits other
// than DefaultLimits.
func (p *Plan) DecodeWith(d Tokens, start xml.StartElement, m proto.Message, o DecodeOptions) error {
	dec := newDecoder(o)
	defer dec.release()
	dec.source(d)
	if isNil, err := nilAttr(start); err != nil {
		return dec.fail(err)
	} else if isNil {
		return dec.nilRoot(p, start)
	}
	return dec.message(p, start, m.ProtoReflect(), 0)
}

// nilRoot reads the element of a whole message sent with xsi:nil (a nillable body or fault
// detail element, which has no parent field to hold the nil). The message stays without a
// field set, which says "nil" only where every field has presence and none is REQUIRED: then
// an element that is there but empty sets its text or fields, and nil sets nothing.
func (dc *decoder) nilRoot(p *Plan, start xml.StartElement) error {
	for _, fp := range p.attrs {
		for _, a := range start.Attr {
			if fp.name.local == a.Name.Local && (fp.name.space == "" || fp.name.space == a.Name.Space) {
				return dc.fail(fmt.Errorf("xsi:nil with attribute %s, which a nil element cannot carry", a.Name.Local))
			}
		}
	}
	if len(p.required) > 0 || len(p.requiredAttrs) > 0 || (p.text != nil && (withoutPresence(p.text.fd) || behaviorRequired(p.text.fd))) {
		return dc.fail(fmt.Errorf("xsi:nil on the element of %s, which has fields without presence or REQUIRED ones, so nil would read as values the backend never sent", p.desc.FullName()))
	}
	return dc.emptyContent()
}

type decoder struct {
	d    Tokens
	sc   *Scanner // d, when it is one: its tokens are read without encoding/xml's
	cur  token    // the last token read from d, when it is not a scanner
	path []string
	text []byte // reused buffer for element text

	encoded bool // SOAP encoding: arrays take any item name, xsi:type is checked (DecodeEncoded)

	skipped  func(path string)               // lenient: called for each unknown element skipped (DecodeOptions)
	attach   func(ref string) ([]byte, bool) // resolves cid: references of bytes fields (DecodeOptions)
	limits   Limits
	elements int // elements read, against limits.MaxElements

	arena []byte // where str copies short texts; only ever appended to
}

// decoders keeps decoders from one decode to the next, with the path and text buffers they
// grew, so that a decode allocates neither.
var decoders = sync.Pool{New: func() any { return new(decoder) }}

// maxPooledText bounds the text buffer a decoder keeps in the pool: a reply with a large
// base64 document should not leave its size behind for every later decode.
const maxPooledText = 64 << 10

// newDecoder returns a decoder set up for o, from the pool; release returns it.
func newDecoder(o DecodeOptions) *decoder {
	dc := decoders.Get().(*decoder)
	*dc = decoder{path: dc.path[:0], text: dc.text[:0], arena: dc.arena, skipped: o.Skipped, limits: o.Limits.withDefaults(), attach: o.Attachments}
	return dc
}

// release returns dc to the pool, holding nothing of the decode it did but its empty buffers.
func (dc *decoder) release() {
	clear(dc.path[:cap(dc.path)])
	text := dc.text[:0]
	if cap(text) > maxPooledText {
		text = nil
	}
	*dc = decoder{path: dc.path[:0], text: text, arena: dc.arena} // the arena as it is: see str
	decoders.Put(dc)
}

func (dc *decoder) fail(err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	return &DecodeError{Path: strings.Join(dc.path, "/"), Err: err}
}

func (dc *decoder) message(p *Plan, start xml.StartElement, m protoreflect.Message, depth int) error {
	if depth > dc.limits.MaxDepth {
		return dc.tooDeep()
	}
	if err := dc.requiredAttrs(p, start); err != nil {
		return err
	}
	base := p.goBase(m) // m's Go struct, for the fields written directly; nil if none
	for _, a := range start.Attr {
		if a.Name.Space == xsiNamespace || a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
			continue
		}
		for _, fp := range p.attrs {
			if fp.name.local == a.Name.Local && (fp.name.space == "" || fp.name.space == a.Name.Space) {
				v, err := parseValue(fp, a.Value, m, base)
				if err != nil {
					dc.path = append(dc.path, "@"+a.Name.Local)
					return dc.fail(err)
				}
				put(fp, m, base, v)
				break
			}
		}
	}
	if p.text != nil {
		text, err := dc.readText()
		if err != nil {
			return err
		}
		v, err := parseValue(p.text, text, m, base)
		if err != nil {
			return dc.fail(err)
		}
		put(p.text, m, base, v)
		return nil
	}
	// seen marks the element fields met, on the stack for all but very wide messages, so the
	// fields without presence can be checked at the end tag without allocating.
	var seenBuf [4]uint64
	seen := seenBuf[:]
	if n := len(p.fields); n > 64*len(seenBuf) && len(p.required) > 0 {
		seen = make([]uint64, (n+63)/64)
	}
	last := -1 // the index in p.fields of the field of the last child element, for child
	for {
		tok, err := dc.token()
		if err != nil {
			return err
		}
		switch tok.kind {
		case tokEnd:
			return dc.requiredElements(p, seen)
		case tokStart:
			t := tok.start()
			fp := p.child(t.Name, last)
			if fp == nil {
				if p.anyField != nil {
					dc.path = append(dc.path, t.Name.Local)
					text, err := dc.captureElement(t, depth+1)
					if err != nil {
						return err
					}
					dc.path = dc.path[:len(dc.path)-1]
					m.Mutable(p.anyField.fd).List().Append(protoreflect.ValueOfString(text))
					continue
				}
				dc.path = append(dc.path, t.Name.Local)
				if dc.skipped == nil {
					return dc.fail(errUnknown)
				}
				dc.skipped(strings.Join(dc.path, "/"))
				if err := dc.skip(depth + 1); err != nil {
					return err
				}
				dc.path = dc.path[:len(dc.path)-1]
				continue
			}
			if fp.index < 64*len(seen) {
				seen[fp.index/64] |= 1 << (fp.index % 64)
			}
			last = fp.index
			dc.path = append(dc.path, t.Name.Local)
			if err := dc.field(fp, t, m, base, depth+1); err != nil {
				return err
			}
			dc.path = dc.path[:len(dc.path)-1]
		}
	}
}

// child returns the element field of a child element named name, or nil: the field of that
// namespace and local name, else the first field of that local name (for backends that
// qualify elements differently from their WSDL). last is the index in p.fields of the field
// of the previous child element, or -1. Replies keep the order of the XSD sequence, so the
// field after last, or last again for a repeated element, is tried first: two string
// comparisons rather than a map lookup. A field matched there by both names is the one the
// maps would find, as no two fields have the same namespace and local name.
func (p *Plan) child(name xml.Name, last int) *fieldPlan {
	if i := last + 1; i < len(p.fields) {
		if fp := p.fields[i]; fp.name.local == name.Local && fp.name.space == name.Space {
			return fp
		}
	}
	if last >= 0 {
		if fp := p.fields[last]; fp.name.local == name.Local && fp.name.space == name.Space {
			return fp
		}
	}
	// The field found by local name is the one byName would find when its namespace is the
	// element's, which is the usual case, and a map keyed by one string is the cheaper lookup.
	fp := p.byLocal[name.Local]
	if fp == nil || fp.name.space != name.Space {
		if exact := p.byName[xmlName{name.Space, name.Local}]; exact != nil {
			fp = exact
		}
	}
	return fp
}

// requiredElements fails for the first field without presence whose element was not seen.
func (dc *decoder) requiredElements(p *Plan, seen []uint64) error {
	for _, i := range p.required {
		if seen[i/64]&(1<<(i%64)) == 0 {
			fp := p.fields[i]
			dc.path = append(dc.path, fp.name.local)
			return dc.fail(missing(fp, "element"))
		}
	}
	return nil
}

// requiredAttrs fails for the first attribute field without presence that start lacks.
func (dc *decoder) requiredAttrs(p *Plan, start xml.StartElement) error {
next:
	for _, fp := range p.requiredAttrs {
		for _, a := range start.Attr {
			if a.Name.Local == fp.name.local && (fp.name.space == "" || fp.name.space == a.Name.Space) {
				continue next
			}
		}
		dc.path = append(dc.path, "@"+fp.name.local)
		return dc.fail(missing(fp, "attribute"))
	}
	return nil
}

// missing says that the reply left out a field's element or attribute and why that is an
// error: the field has no presence, so it would read as its zero value, which the backend never
// sent.
func missing(fp *fieldPlan, what string) error {
	if !withoutPresence(fp.fd) {
		return fmt.Errorf("the reply has no such %s, but field %s is REQUIRED (google.api.field_behavior): the contract says the backend always sends it; "+
			"remove REQUIRED from the field if the backend may leave it out", what, fp.fd.FullName())
	}
	return fmt.Errorf("the reply has no such %s, and field %s cannot say so: it has no presence, so it would read as %s; "+
		"mark the field optional in the proto if the backend may leave it out", what, fp.fd.FullName(), zeroText(fp.fd))
}

// zeroText is how the zero value of a field without presence reads in JSON.
func zeroText(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return `""`
	case protoreflect.BoolKind:
		return "false"
	case protoreflect.EnumKind:
		if v := fd.Enum().Values().ByNumber(0); v != nil {
			return string(v.Name())
		}
	}
	return "0"
}

// field reads the element start of fp into m, whose Go struct is at base when its fields are
// written directly (see gostruct.go), else nil.
func (dc *decoder) field(fp *fieldPlan, start xml.StartElement, m protoreflect.Message, base unsafe.Pointer, depth int) error {
	isNil, err := nilAttr(start)
	if err != nil {
		return dc.fail(err)
	}
	if isNil {
		return dc.nilField(fp, start, m)
	}
	if dc.encoded {
		if err := checkEncodedType(fp, start); err != nil {
			return dc.fail(err)
		}
	}
	if fp.kind == kindMap {
		return dc.mapField(fp, m, depth)
	}
	if !fp.list {
		if fp.kind == kindMessage && !fp.inOneof && m.Has(fp.fd) {
			// A repeated element merges into the message the first one set, as protobuf does.
			return dc.message(fp.msg, start, m.Mutable(fp.fd).Message(), depth)
		}
		v, err := dc.single(fp, start, m, base, nil, depth)
		if err != nil {
			return err
		}
		put(fp, m, base, v)
		return nil
	}
	var list protoreflect.List // nil when the list is written directly
	if base == nil || fp.gf.op == goNone {
		base, list = nil, m.Mutable(fp.fd).List()
	}
	if fp.item == "" && (!dc.encoded || !isEncodedArray(start)) {
		v, err := dc.single(fp, start, m, base, list, depth)
		if err != nil {
			return err
		}
		add(fp, list, base, v)
		return nil
	}
	for { // a wrapper element: each child named fp.item is one value
		tok, err := dc.token()
		if err != nil {
			return err
		}
		switch tok.kind {
		case tokEnd:
			return nil
		case tokStart:
			t := tok.start()
			dc.path = append(dc.path, t.Name.Local)
			if t.Name.Local != fp.item && !dc.encoded { // an encoded array's items may have any name
				return dc.fail(notAnItem(fp.item))
			}
			if isNil, err := nilAttr(t); err != nil || isNil {
				return dc.fail(cmp.Or(err, errNilItem))
			}
			v, err := dc.single(fp, t, m, base, list, depth+1)
			if err != nil {
				return err
			}
			dc.path = dc.path[:len(dc.path)-1]
			add(fp, list, base, v)
		}
	}
}

// mapField reads a map's wrapper element: each child named fp.item is one entry, and any other
// child is an error, as in a list's wrapper (it would be lost); entries add to what the map
// already holds, so a field element given twice merges, but a key given twice is an error.
func (dc *decoder) mapField(fp *fieldPlan, m protoreflect.Message, depth int) error {
	mp := m.Mutable(fp.fd).Map()
	for {
		tok, err := dc.token()
		if err != nil {
			return err
		}
		switch tok.kind {
		case tokEnd:
			return nil
		case tokStart:
			t := tok.start()
			dc.path = append(dc.path, t.Name.Local)
			if t.Name.Local != fp.item {
				return dc.fail(notAnItem(fp.item))
			}
			if isNil, err := nilAttr(t); err != nil || isNil {
				return dc.fail(cmp.Or(err, errors.New("xsi:nil on a map entry: a map cannot hold a nil entry")))
			}
			if err := dc.mapEntry(fp, mp, m, depth+1); err != nil {
				return err
			}
			dc.path = dc.path[:len(dc.path)-1]
		}
	}
}

// mapEntry reads one entry, its key and value elements in either order. A proto map cannot
// hold an entry without a key or a value, nor two values for one key, so each of those is an
// error rather than a guess: dropping the entry, a zero value or the last value wins would
// each change the data on its way through.
func (dc *decoder) mapEntry(fp *fieldPlan, mp protoreflect.Map, m protoreflect.Message, depth int) error {
	if depth > dc.limits.MaxDepth {
		return dc.tooDeep()
	}
	var (
		key              protoreflect.MapKey
		value            protoreflect.Value
		hasKey, hasValue bool
	)
	keyName, valueName := fp.mapKey.name.local, fp.mapValue.name.local
	for done := false; !done; {
		tok, err := dc.token()
		if err != nil {
			return err
		}
		switch tok.kind {
		case tokEnd:
			done = true
		case tokStart:
			t := tok.start()
			name := t.Name.Local
			dc.path = append(dc.path, name)
			if name != keyName && name != valueName {
				return dc.fail(fmt.Errorf("a map entry holds only %s and %s elements; this one would be lost", keyName, valueName))
			}
			isNil, err := nilAttr(t)
			switch {
			case err != nil:
				return dc.fail(err)
			case name == keyName && hasKey, name == valueName && hasValue:
				return dc.fail(fmt.Errorf("the entry has more than one %s element", name))
			case isNil:
				return dc.fail(errors.New("xsi:nil, but a map's keys and values cannot be null"))
			case name == keyName:
				text, err := dc.readText()
				if err != nil {
					return err
				}
				v, err := parseValue(fp.mapKey, text, m, nil)
				if err != nil {
					return dc.fail(err)
				}
				key, hasKey = v.MapKey(), true
			default:
				v, err := dc.single(fp.mapValue, t, m, nil, nil, depth+1)
				if err != nil {
					return err
				}
				value, hasValue = v, true
			}
			dc.path = dc.path[:len(dc.path)-1]
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

// single reads one value of fp from the element start opened. base is the address of m's Go
// struct when fp is written into it directly, else nil. list is fp's list in m when the value
// is an item of it written through protoreflect, read once by the caller for all its items;
// nil otherwise.
func (dc *decoder) single(fp *fieldPlan, start xml.StartElement, m protoreflect.Message, base unsafe.Pointer, list protoreflect.List, depth int) (protoreflect.Value, error) {
	if fp.kind == kindMessage {
		var sub protoreflect.Message
		if fp.mapOf != nil {
			sub = m.Mutable(fp.mapOf.fd).Map().NewValue().Message()
		} else if base != nil && fp.gf.op == goMessage {
			sub = fp.gf.mt.New()
		} else if list != nil {
			sub = list.NewElement().Message()
		} else if fp.list {
			sub = m.Mutable(fp.fd).List().NewElement().Message()
		} else {
			sub = m.NewField(fp.fd).Message() // field merges a message already set
		}
		if err := dc.message(fp.msg, start, sub, depth); err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfMessage(sub), nil
	}
	var text string
	var err error
	if dc.attach != nil && fp.fd.Kind() == protoreflect.BytesKind {
		text, err = dc.readBinary(depth)
	} else {
		text, err = dc.readText()
	}
	if err != nil {
		return protoreflect.Value{}, err
	}
	if dc.attach != nil && fp.fd.Kind() == protoreflect.BytesKind {
		if ref := trimXMLSpace(text); strings.HasPrefix(ref, "cid:") {
			data, ok := dc.attach(ref)
			if !ok {
				return protoreflect.Value{}, dc.fail(fmt.Errorf("the reply has no attachment %s", ref))
			}
			return protoreflect.ValueOfBytes(data), nil
		}
	}
	v, err := parseValue(fp, text, m, base)
	if err != nil {
		return protoreflect.Value{}, dc.fail(err)
	}
	return v, nil
}

// put sets fp to v in m, directly in its Go struct at base when fp is written so.
func put(fp *fieldPlan, m protoreflect.Message, base unsafe.Pointer, v protoreflect.Value) {
	if base != nil && fp.gf.op != goNone {
		fp.gf.set(base, v)
		return
	}
	m.Set(fp.fd, v)
}

// add appends v to fp's list: to list, or, when list is nil, directly to the slice in the Go
// struct at base.
func add(fp *fieldPlan, list protoreflect.List, base unsafe.Pointer, v protoreflect.Value) {
	if list == nil {
		fp.gf.set(base, v)
		return
	}
	list.Append(v)
}

// readText collects the character data of the current element up to its end tag. An element
// inside a simple value is an error naming it: skipping it would drop part of the value.
func (dc *decoder) readText() (string, error) {
	dc.text = dc.text[:0]
	for {
		tok, err := dc.token()
		if err != nil {
			return "", err
		}
		switch tok.kind {
		case tokText:
			if len(dc.text)+len(tok.data) > dc.limits.MaxTextBytes {
				return "", dc.fail(fmt.Errorf("%w: text of more than %d bytes", ErrLimit, dc.limits.MaxTextBytes))
			}
			dc.text = append(dc.text, tok.data...)
		case tokStart:
			dc.path = append(dc.path, tok.name.Local)
			return "", dc.fail(errors.New("an element inside a simple value; it would be lost (map the field to a message if the backend nests elements here)"))
		case tokEnd:
			return dc.str(dc.text), nil
		}
	}
}

// The strings of a reply's short texts are cut from chunks of up to arenaChunk bytes (see
// str), the first of a decoder minArenaChunk.
const (
	minArenaChunk  = 256
	arenaChunk     = 2 << 10
	maxArenaString = 128
)

// str returns b as a string. A short one is copied to the end of the decoder's arena, a chunk
// it fills from one decode to the next, and read there: one allocation for many strings
// rather than one each. The bytes of a string given out are never written again: the arena
// only grows at its end (it is never truncated, nor its len reset), and a new chunk replaces
// it when full, twice as large up to arenaChunk (a decoder that reads a few header blocks
// should not take 2 KB for them). The cost is that a string kept alive keeps its chunk.
func (dc *decoder) str(b []byte) string {
	if len(b) == 0 || len(b) > maxArenaString {
		return string(b)
	}
	if cap(dc.arena)-len(dc.arena) < len(b) {
		dc.arena = make([]byte, 0, min(arenaChunk, max(minArenaChunk, 2*cap(dc.arena))))
	}
	off := len(dc.arena)
	dc.arena = append(dc.arena, b...)
	return unsafe.String(&dc.arena[off], len(b))
}

// XOPNamespace is the namespace of MTOM's xop:Include.
const XOPNamespace = "http://www.w3.org/2004/08/xop/include"

// readBinary is readText for a bytes field of a reply with attachments: besides base64 text
// or a cid: reference, the content may be MTOM's <xop:Include href="cid:…"/>, which is read
// as its href (resolved by the caller). Text beside an Include is an error: it would be lost.
func (dc *decoder) readBinary(depth int) (string, error) {
	dc.text = dc.text[:0]
	href := ""
	for {
		tok, err := dc.token()
		if err != nil {
			return "", err
		}
		switch tok.kind {
		case tokText:
			if len(dc.text)+len(tok.data) > dc.limits.MaxTextBytes {
				return "", dc.fail(fmt.Errorf("%w: text of more than %d bytes", ErrLimit, dc.limits.MaxTextBytes))
			}
			dc.text = append(dc.text, tok.data...)
		case tokStart:
			if tok.name.Space != XOPNamespace || tok.name.Local != "Include" || href != "" {
				dc.path = append(dc.path, tok.name.Local)
				return "", dc.fail(errors.New("an element inside a binary value other than one xop:Include; it would be lost"))
			}
			for _, a := range tok.attr {
				if a.Name.Space == "" && a.Name.Local == "href" {
					href = trimXMLSpace(a.Value)
				}
			}
			if !strings.HasPrefix(href, "cid:") {
				dc.path = append(dc.path, "Include")
				return "", dc.fail(fmt.Errorf("xop:Include without a cid: href (%q)", href))
			}
			if err := dc.skip(depth + 1); err != nil {
				return "", err
			}
		case tokEnd:
			if href == "" {
				return string(dc.text), nil
			}
			if len(bytes.TrimSpace(dc.text)) > 0 {
				return "", dc.fail(errors.New("text beside an xop:Include; it would be lost"))
			}
			return href, nil
		}
	}
}

// errUnknown is the error for a child element no field names, in a message without an any
// field, under strict decoding.
var errUnknown = errors.New("the contract has no field for this element, so it would be lost; " +
	"add the field to the proto, add a repeated string field marked (agentbridge.v1.xml).any to keep such elements, " +
	"or set lenient: true on the backend to skip them")

// errNilItem is the error for a list item sent with xsi:nil. A repeated field has no way to
// hold it, and dropping it, as the codec once did, moved every later item up by one.
// notAnItem is the error for another element among a wrapper's items: skipping it would lose
// what it holds, and it usually means the binding names the wrong item element.
func notAnItem(item string) error {
	return fmt.Errorf("the wrapper holds only %s elements; this one would be lost (check the field's (agentbridge.v1.xml).item)", item)
}

var errNilItem = errors.New("xsi:nil on an item of a list: a repeated field cannot hold a nil item, " +
	"and leaving it out would move the items after it; the proto cannot carry this reply")

// nilAttr reports whether start carries xsi:nil="true" (or "1"); a value that is not an
// xsd:boolean is an error rather than a guess.
func nilAttr(start xml.StartElement) (bool, error) {
	for _, a := range start.Attr {
		if a.Name.Local == "nil" && a.Name.Space == xsiNamespace {
			switch trimXMLSpace(a.Value) {
			case "true", "1":
				return true, nil
			case "false", "0":
				return false, nil
			}
			return false, fmt.Errorf("xsi:nil=%q is not an xsd:boolean", a.Value)
		}
	}
	return false, nil
}

// nilField records an element sent with xsi:nil="true" in the nil_of field of fp, which must
// have one: without it the field could only read as absent or empty, both of which say
// something else.
func (dc *decoder) nilField(fp *fieldPlan, start xml.StartElement, m protoreflect.Message) error {
	switch {
	case fp.kind == kindMap:
		return dc.fail(fmt.Errorf("xsi:nil on map field %s: a map cannot be nil; wrap it in a message field, which can have a nil_of field", fp.fd.FullName()))
	case fp.fd.IsList() && fp.item != "":
		return dc.fail(fmt.Errorf("xsi:nil on the wrapper of repeated field %s: a list cannot be nil; wrap it in a message field, which can have a nil_of field", fp.fd.FullName()))
	case fp.fd.IsList():
		return dc.fail(errNilItem)
	case fp.nilFD == nil:
		return dc.fail(fmt.Errorf("xsi:nil, but field %s has no nil_of field to carry it, and reading it as absent or empty would say something else; "+
			"add a google.protobuf.NullValue field in a oneof with it, marked [(agentbridge.v1.xml) = {nil_of: %q}]", fp.fd.FullName(), fp.fd.Name()))
	}
	if fp.kind == kindMessage {
		for _, a := range start.Attr {
			for _, ap := range fp.msg.attrs {
				if ap.name.local == a.Name.Local && (ap.name.space == "" || ap.name.space == a.Name.Space) {
					return dc.fail(fmt.Errorf("xsi:nil with attribute %s, which a nil field cannot carry", a.Name.Local))
				}
			}
		}
	}
	if err := dc.emptyContent(); err != nil {
		return err
	}
	m.Set(fp.nilFD, protoreflect.ValueOfEnum(0))
	return nil
}

// emptyContent reads up to the current element's end tag, which must come with nothing but
// whitespace, comments and processing instructions before it: XSD forbids content in a nil
// element, and whatever it held would be lost.
func (dc *decoder) emptyContent() error {
	for {
		tok, err := dc.token()
		if err != nil {
			return err
		}
		switch tok.kind {
		case tokEnd:
			return nil
		case tokStart:
			return dc.fail(fmt.Errorf("xsi:nil, but the element holds element %s", tok.name.Local))
		case tokText:
			if len(bytes.Trim(tok.data, " \t\r\n")) != 0 {
				return dc.fail(errors.New("xsi:nil, but the element holds text"))
			}
		}
	}
}

// trimXMLSpace removes XML whitespace (space, tab, CR, LF) around s, as XSD's whiteSpace
// "collapse" facet does for every built-in type other than string.
func trimXMLSpace(s string) string {
	for len(s) > 0 && isXMLSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isXMLSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

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
// field, used to make new well-known-type values; base is the address of its Go struct when fp
// is written into it directly, else nil.
func parseValue(fp *fieldPlan, text string, m protoreflect.Message, base unsafe.Pointer) (protoreflect.Value, error) {
	if fp.xsd != nil {
		// Whitespace around the value means nothing to XSD (whiteSpace collapse); the rest is
		// kept as the backend wrote it.
		text = trimXMLSpace(text)
		if !fp.xsd.check(text) {
			return protoreflect.Value{}, fmt.Errorf("%q is not an xsd:%s", text, fp.xsd.Name)
		}
	}
	switch fp.kind {
	case kindEnum:
		t := strings.TrimSpace(text)
		if n, ok := fp.enumValue[t]; ok {
			return protoreflect.ValueOfEnum(n), nil
		}
		return protoreflect.Value{}, fmt.Errorf("%q is not a value of %s", t, fp.fd.Enum().FullName())
	case kindTimestamp:
		secs, nanos, err := ParseDateTime(text)
		if err != nil {
			keeps := "dateTime"
			if validDate(trimXMLSpace(text)) {
				keeps = "date"
			}
			return protoreflect.Value{}, adviseString(fp, err, keeps)
		}
		return secondsNanos(fp, newWKT(fp, m, base), secs, nanos, base != nil), nil
	case kindDuration:
		secs, nanos, err := ParseDuration(text)
		if err != nil {
			return protoreflect.Value{}, adviseString(fp, err, "duration")
		}
		if t := trimXMLSpace(text); fp.dayTime && !checkDayTimeDuration(t) {
			return protoreflect.Value{}, fmt.Errorf("%q is not an xsd:dayTimeDuration", t)
		}
		return secondsNanos(fp, newWKT(fp, m, base), secs, nanos, base != nil), nil
	case kindWrapper:
		v, err := scalarValue(fp, fp.valueFD.Kind(), text)
		if err != nil {
			return protoreflect.Value{}, err
		}
		msg := newWKT(fp, m, base)
		if base != nil && fp.gf.wkt != nil {
			fp.gf.wkt[0].set(messagePointer(msg), v)
		} else {
			msg.Set(fp.valueFD, v)
		}
		return protoreflect.ValueOfMessage(msg), nil
	}
	return scalarValue(fp, fp.fd.Kind(), text)
}

// checkBounds refuses an integer outside the XSD type the field's xsd_type names (an
// xsd:short of 40000), which the proto type alone would carry.
func checkBounds(fp *fieldPlan, kind protoreflect.Kind, v protoreflect.Value) error {
	if fp.bounds == nil {
		return nil
	}
	return fp.bounds.check(kind, v)
}

// scalarValue parses a scalar of a field, bytes as the field's xsd_type says.
func scalarValue(fp *fieldPlan, kind protoreflect.Kind, text string) (protoreflect.Value, error) {
	if kind == protoreflect.BytesKind && fp.hex {
		b, err := hex.DecodeString(trimXMLSpace(text))
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("not xsd:hexBinary: %w", err)
		}
		return protoreflect.ValueOfBytes(b), nil
	}
	v, err := parseScalar(kind, text)
	if err == nil {
		err = checkBounds(fp, kind, v)
	}
	return v, err
}

// adviseString adds to an error that says a value would not survive in a well-known type which
// field to map it to instead; other errors (text that is no dateTime at all) pass unchanged.
func adviseString(fp *fieldPlan, err error, xsdType string) error {
	if !errors.Is(err, ErrInexact) {
		return err
	}
	return fmt.Errorf("%w; field %s is a %s: map it as string with (agentbridge.v1.xml).xsd_type = %q, which keeps the value as written",
		err, fp.fd.FullName(), fp.fd.Message().FullName(), xsdType)
}

// secondsNanos sets the seconds and nanos of msg, a Timestamp or Duration of fp, and returns
// it as a value. direct says msg is of fp's generated type, whose fields are written directly.
func secondsNanos(fp *fieldPlan, msg protoreflect.Message, secs int64, nanos int32, direct bool) protoreflect.Value {
	if direct && fp.gf.wkt != nil {
		p := messagePointer(msg)
		fp.gf.wkt[0].set(p, protoreflect.ValueOfInt64(secs))
		fp.gf.wkt[1].set(p, protoreflect.ValueOfInt32(nanos))
		return protoreflect.ValueOfMessage(msg)
	}
	secsFD, nanosFD := fp.secondsFD, fp.nanosFD
	if msg.Descriptor() != fp.fd.Message() { // another copy of the well-known type's descriptor
		fields := msg.Descriptor().Fields()
		secsFD, nanosFD = fields.ByNumber(1), fields.ByNumber(2)
	}
	msg.Set(secsFD, protoreflect.ValueOfInt64(secs))
	msg.Set(nanosFD, protoreflect.ValueOfInt32(nanos))
	return protoreflect.ValueOfMessage(msg)
}

// newWKT makes a new value of fp, a well-known type, for m, whose Go struct is at base when fp
// is written into it directly.
func newWKT(fp *fieldPlan, m protoreflect.Message, base unsafe.Pointer) protoreflect.Message {
	if base != nil && fp.gf.wkt != nil {
		return fp.gf.mt.New()
	}
	if fp.mapOf != nil { // the value of a map entry: m holds the map, not the entry's value field
		return m.Mutable(fp.mapOf.fd).Map().NewValue().Message()
	}
	if fp.list {
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
		n, err := strconv.ParseInt(integerDigits(t), 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not a 32-bit integer", t)
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(integerDigits(t), 10, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not a 64-bit integer", t)
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(integerDigits(t), 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not an unsigned 32-bit integer", t)
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(integerDigits(t), 10, 64)
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
	// strconv also takes "inf", "Infinity", "nan", hex ("0x1p-2") and underscores ("1_0"); XSD
	// has none of them, so the form is checked before strconv reads it.
	if !validFloat(t) {
		return 0, fmt.Errorf("%q is not an XSD number", t)
	}
	f, err := strconv.ParseFloat(t, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is not an XSD number", t)
	}
	return f, nil
}

// integerDigits returns an XSD integer form for strconv: without its "+", which strconv's
// integer parsers refuse. Anything but an optional sign and digits comes back as "x", which
// they refuse too: trimming one "+" alone would let "++5" read as 5 and "+-5" as -5.
func integerDigits(t string) string {
	if !checkInteger(t) {
		return "x"
	}
	return strings.TrimPrefix(t, "+")
}

// checkDayTimeDuration is xsd:dayTimeDuration's lexical rule.
var checkDayTimeDuration = durationChecker(false, true)

// checkInteger is xsd:integer's lexical rule: an optional sign, then digits.
var checkInteger = integerChecker(signAny)

// validFloat is the lexical rule of xsd:float and xsd:double without INF and NaN: an optional
// sign, digits with an optional fraction (or a fraction alone), then an optional exponent.
func validFloat(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	mantissa := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		mantissa++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isDigit(s[i]); i++ {
			mantissa++
		}
	}
	if mantissa == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := i
		for ; i < len(s) && isDigit(s[i]); i++ {
		}
		if i == exp {
			return false
		}
	}
	return i == len(s)
}
