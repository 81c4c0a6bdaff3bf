package xmlcodec

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Tokens is what a decode reads XML from: the codec's own *Scanner (NewScanner,
// NewScannerReader), or an *encoding/xml.Decoder (NewDecoder) or anything else that gives
// encoding/xml's tokens with namespaces resolved. A decode reading a *Scanner takes its tokens
// without encoding/xml's per-token allocations; other sources go through Token.
type Tokens interface {
	Token() (xml.Token, error)
}

// Scanner is the codec's XML tokenizer: a byte scanner over a document held in memory
// (NewScanner) or read from a reader through a buffer (NewScannerReader). It gives the tokens
// a strict encoding/xml Decoder gives, with namespace prefixes resolved the same way, and
// refuses what that decoder refuses, and a few things more that are not namespace-well-formed
// XML either: an element whose prefix no xmlns declaration in scope binds, an element named
// with the prefix xmlns, an attribute given twice (by its qualified or by its expanded name),
// and a character reference to a surrogate. (An attribute's undeclared prefix is read as
// encoding/xml reads it, as the attribute's namespace: see resolve.) Entities are XML's five and character references only;
// a document type declaration comes back as an xml.Directive, which the codec refuses. A
// document whose XML declaration names another encoding than UTF-8 is converted as
// NewDecoder's is.
//
// Character data, comments and processing instructions returned by Token are valid until the
// next call, as with encoding/xml; start elements have attributes of their own. A Scanner's
// errors stick: once it has failed, it returns the same error again.
type Scanner struct {
	buf  []byte
	pos  int
	r    io.Reader // nil when buf is the whole document
	rEOF bool      // r has no more to give
	base int64     // input offset of buf[0]
	nl   int       // newlines in the input before buf[0]
	err  error
	mark int64 // input offset fill keeps from, while InnerXML reads; -1 when none
	last int   // where in buf the last token started
	hint int   // of the token being read: how far its terminator is known not to be

	needClose bool // the last start tag was empty (<a/>): its end comes next
	stack     []openElem
	ns        []nsBinding // declarations in scope, innermost last
	raw       []rawAttr
	attrs     []xml.Attr
	text      []byte // decoded character data that differs from the input
	cur       token  // the token next returns
	values    [16]string

	// The first elements of stack, ns, raw and attrs, so that a usual reply needs no more:
	// nesting eight deep, four namespace declarations in scope and four attributes on an
	// element. They are sized for a SOAP reply, not for the deepest document, as the scanner
	// is allocated and cleared once per reply: a scanner of 3 KB cost a 2 KB reply more in
	// allocation and collection than the few appends a deeper document makes.
	stackBuf [8]openElem
	nsBuf    [4]nsBinding
	rawBuf   [4]rawAttr
	attrsBuf [4]xml.Attr
}

type openElem struct {
	prefix string   // as the start tag wrote it, which the end tag must repeat
	name   xml.Name // resolved; Local as the start tag wrote it
	mark   int      // len(ns) before the element's declarations
}

type nsBinding struct{ prefix, uri string }

type rawAttr struct{ prefix, local, value string }

// NewScanner returns a scanner of the document data, which it reads in place: data must not
// change while the scanner is in use. Release hands the scanner back for another document.
func NewScanner(data []byte) *Scanner {
	s := scanners.Get().(*Scanner)
	s.buf = data
	return newScanner(s)
}

// scanners are released in-place scanners, cleared but for their decoded-text buffer and
// their table of attribute values (strings, which nothing can change), so a reply of the
// usual size is scanned without allocating a scanner of 1.5 KB.
var scanners = sync.Pool{New: func() any { return new(Scanner) }}

// maxPooledScannerText bounds the decoded-text buffer a released scanner keeps.
const maxPooledScannerText = 4 << 10

// Release hands s, made by NewScanner, back for a later NewScanner. Neither s nor anything
// it returned that is not a copy (the data of a CharData, Comment or Directive token; a
// StartElement's attributes) may be used afterwards. Strings it returned (names, attribute
// values) and InnerXML's bytes stay valid. Release of a scanner made by NewScannerReader does
// nothing.
func (s *Scanner) Release() {
	if s.r != nil {
		return
	}
	text, values := s.text[:0], s.values
	if cap(text) > maxPooledScannerText {
		text = nil
	}
	*s = Scanner{text: text, values: values}
	scanners.Put(s)
}

// NewScannerReader returns a scanner that reads the document from r as it goes, holding no
// more of it than the token being read.
func NewScannerReader(r io.Reader) *Scanner {
	return newScanner(&Scanner{r: r, buf: make([]byte, 0, 8<<10)})
}

func newScanner(s *Scanner) *Scanner {
	s.mark = -1
	s.stack, s.ns, s.raw, s.attrs = s.stackBuf[:0], s.nsBuf[:0], s.rawBuf[:0], s.attrsBuf[:0]
	return s
}

// tokKind is the kind of a scanner token.
type tokKind uint8

const (
	tokStart tokKind = iota + 1
	tokEnd
	tokText
	tokComment
	tokProcInst
	tokDirective
)

// token is the scanner's compact token: no interface, attributes and data valid until the
// next token. Only the fields of its kind are meaningful: the scanner leaves the others as an
// earlier token set them.
type token struct {
	kind tokKind
	name xml.Name   // start and end elements; a processing instruction's target in Local
	attr []xml.Attr // start elements
	data []byte     // character data, comments, processing instructions, directives
}

func (t *token) start() xml.StartElement { return xml.StartElement{Name: t.name, Attr: t.attr} }

// Token returns the next token as encoding/xml's Decoder.Token does, io.EOF at the end.
func (s *Scanner) Token() (xml.Token, error) {
	t, err := s.next()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tokStart:
		attr := make([]xml.Attr, len(t.attr))
		copy(attr, t.attr)
		return xml.StartElement{Name: t.name, Attr: attr}, nil
	case tokEnd:
		return xml.EndElement{Name: t.name}, nil
	case tokText:
		return xml.CharData(t.data), nil
	case tokComment:
		return xml.Comment(t.data), nil
	case tokProcInst:
		return xml.ProcInst{Target: t.name.Local, Inst: t.data}, nil
	default:
		return xml.Directive(t.data), nil
	}
}

// InputOffset returns the input offset after the last token read.
func (s *Scanner) InputOffset() int64 { return s.base + int64(s.pos) }

// InnerXML reads the rest of the element whose start tag was the last token read, up to and
// including its end tag, and returns the XML between the two tags as it was sent (after
// conversion to UTF-8), as encoding/xml's ",innerxml" does.
func (s *Scanner) InnerXML() ([]byte, error) {
	if s.needClose {
		_, err := s.next()
		return nil, err
	}
	if s.err != nil {
		return nil, s.err
	}
	begin := s.base + int64(s.pos)
	s.mark = begin
	defer func() { s.mark = -1 }()
	buf := s.buf
	for depth := 1; ; {
		t, err := s.next()
		if err != nil {
			return nil, err
		}
		if s.r == nil && &buf[0] != &s.buf[0] {
			return nil, errors.New("xmlcodec: an XML declaration naming an encoding inside an element")
		}
		switch t.kind {
		case tokStart:
			depth++
		case tokEnd:
			if depth--; depth == 0 {
				return bytes.Clone(s.buf[int(begin-s.base):s.last]), nil
			}
		}
	}
}

// errShort says a token runs past the end of the buffer, and the reader has more to give.
var errShort = errors.New("xmlcodec: short buffer")

// next reads the next token, which stays valid until the next call.
func (s *Scanner) next() (*token, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.needClose {
		s.needClose = false
		s.pop()
		return &s.cur, nil
	}
	for {
		start := s.pos
		err := s.scan()
		if err == nil {
			s.last, s.hint = start, 0
			return &s.cur, nil
		}
		if errors.Is(err, errShort) {
			s.pos = start
			if err = s.fill(); err == nil {
				continue
			}
		}
		s.err = err
		return nil, err
	}
}

// fill reads more of the input into the buffer, dropping what has been read. The token being
// read starts at pos and is read again once fill returns: a token whose end is searched for
// from where the last search stopped (hint) takes what one Read gives; another, once it is
// longer than 1 KiB, waits for the buffer to hold twice as much, so that reading it again
// costs no more than reading it once, whatever the reader's chunks (a reader that gives one
// byte at a time costs at most 1 KiB read again per byte).
func (s *Scanner) fill() error {
	drop := s.pos
	if s.mark >= 0 {
		drop = min(drop, int(s.mark-s.base))
	}
	if drop > 0 {
		s.nl += bytes.Count(s.buf[:drop], []byte{'\n'})
		s.base += int64(drop)
		n := copy(s.buf, s.buf[drop:])
		s.buf = s.buf[:n]
		s.pos -= drop
	}
	want := len(s.buf) + 1
	if pending := len(s.buf) - s.pos; s.hint == 0 && pending >= 1024 {
		want = len(s.buf) + pending
	}
	for len(s.buf) < want {
		if len(s.buf) == cap(s.buf) {
			nb := make([]byte, len(s.buf), 2*cap(s.buf)+4096)
			copy(nb, s.buf)
			s.buf = nb
		}
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if errors.Is(err, io.EOF) {
			s.rEOF = true
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// more reports whether the reader can give more than the buffer holds.
func (s *Scanner) more() bool { return s.r != nil && !s.rEOF }

// syntax returns a syntax error at the current position, with encoding/xml's line numbering.
func (s *Scanner) syntax(msg string) error {
	end := min(s.pos, len(s.buf))
	return &xml.SyntaxError{Msg: msg, Line: 1 + s.nl + bytes.Count(s.buf[:end], []byte{'\n'})}
}

// eof is the error for input that ends inside a token: errShort when the reader has more.
func (s *Scanner) eof() error {
	if s.more() {
		return errShort
	}
	return s.syntax("unexpected EOF")
}

func (s *Scanner) mustByte() (byte, error) {
	if s.pos >= len(s.buf) {
		return 0, s.eof()
	}
	b := s.buf[s.pos]
	s.pos++
	return b, nil
}

func (s *Scanner) space() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\r', '\n', '\t':
			s.pos++
		default:
			return
		}
	}
}

// pop closes the innermost open element and makes its end the current token.
func (s *Scanner) pop() {
	e := &s.stack[len(s.stack)-1]
	s.cur.kind, s.cur.name = tokEnd, e.name
	s.ns = s.ns[:e.mark]
	s.stack = s.stack[:len(s.stack)-1]
}

// The tokens are written into s.cur field by field, and only the fields of their kind: a
// token assigned whole is copied with the garbage collector's bulk write barrier while a
// collection runs, which cost as much as scanning the tag. The other fields keep what an
// earlier token left, which nothing reads (see token).

// setProcInst makes t, a processing instruction, the current token.
func (s *Scanner) setProcInst(t token) {
	s.cur.kind, s.cur.name, s.cur.data = t.kind, t.name, t.data
}

// setData makes the current token one of character data, a comment or a directive.
func (s *Scanner) setData(kind tokKind, data []byte) {
	s.cur.kind, s.cur.data = kind, data
}

func (s *Scanner) scan() error {
	if s.pos >= len(s.buf) {
		switch {
		case s.more():
			return errShort
		case len(s.stack) > 0:
			return s.syntax("unexpected EOF")
		}
		return io.EOF
	}
	if s.buf[s.pos] != '<' {
		return s.charData()
	}
	s.pos++
	b, err := s.mustByte()
	if err != nil {
		return err
	}
	switch b {
	case '/':
		return s.endTag()
	case '?':
		return s.procInst()
	case '!':
		return s.bang()
	}
	s.pos--
	return s.startTag()
}

// charData reads text up to the next markup.
func (s *Scanner) charData() error {
	rest := s.buf[s.pos:]
	i := bytes.IndexByte(rest[s.hint:], '<')
	if i < 0 {
		if s.more() {
			s.hint = len(rest)
			return errShort
		}
		i = len(rest)
	} else {
		i += s.hint
	}
	data, err := s.chars(rest[:i], false, false)
	if err != nil {
		return err
	}
	s.pos += i
	s.setData(tokText, data)
	return nil
}

// chars decodes raw character data: references (outside CDATA), line ends, and checks that
// what it holds are XML characters in UTF-8. raw is returned itself when nothing changes.
func (s *Scanner) chars(raw []byte, cdata, attr bool) ([]byte, error) {
	plain := true
	for i := 0; i < len(raw); {
		for i < len(raw) && plainChars[raw[i]] {
			i++
		}
		if i == len(raw) {
			break
		}
		c := raw[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&' && !cdata, c == '\r':
				plain = false
			case c == ']' && !cdata && !attr && i+2 < len(raw) && raw[i+1] == ']' && raw[i+2] == '>':
				s.pos += i
				return nil, s.syntax("unescaped ]]> not in CDATA section")
			case c < 0x20 && c != '\t' && c != '\n' && c != '\r':
				s.pos += i
				return nil, s.syntax(fmt.Sprintf("illegal character code %U", rune(c)))
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && n == 1 {
			s.pos += i
			return nil, s.syntax("invalid UTF-8")
		}
		if !isInCharacterRange(r) {
			s.pos += i
			return nil, s.syntax(fmt.Sprintf("illegal character code %U", r))
		}
		i += n
	}
	if plain {
		return raw, nil
	}
	out := s.text[:0]
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\r':
			out = append(out, '\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
			i++
		case c == '&' && !cdata:
			n, r, err := s.reference(raw[i:])
			if err != nil {
				s.pos += i
				return nil, err
			}
			if !isInCharacterRange(r) {
				s.pos += i
				return nil, s.syntax(fmt.Sprintf("illegal character code %U", r))
			}
			out = utf8.AppendRune(out, r)
			i += n
		default:
			j := i + 1
			for j < len(raw) && raw[j] != '\r' && (cdata || raw[j] != '&') {
				j++
			}
			out = append(out, raw[i:j]...)
			i = j
		}
	}
	s.text = out
	return out, nil
}

// plainChars marks the bytes chars passes over without a second look: the ASCII characters
// other than the control characters, '&' and ']' (of "]]>"), and tab and line feed.
var plainChars = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = c >= 0x20 && c != '&' && c != ']' || c == '\t' || c == '\n'
	}
	return t
}()

// reference reads the entity or character reference that b starts with, and returns its
// length and the character it stands for.
func (s *Scanner) reference(b []byte) (int, rune, error) {
	semi := bytes.IndexByte(b, ';')
	bad := func() (int, rune, error) {
		end := len(b)
		if semi >= 0 {
			end = semi + 1
		}
		ent := string(b[:min(end, 64)])
		if semi < 0 || semi > 64 {
			ent += " (no semicolon)"
		}
		return 0, 0, s.syntax("invalid character entity " + ent)
	}
	if semi < 0 {
		return bad()
	}
	body := b[1:semi]
	if len(body) > 0 && body[0] == '#' {
		digits, base := body[1:], 10
		if len(digits) > 0 && digits[0] == 'x' {
			digits, base = digits[1:], 16
		}
		if len(digits) == 0 {
			return bad()
		}
		var n uint64
		for _, c := range digits {
			var d uint64
			switch {
			case '0' <= c && c <= '9':
				d = uint64(c - '0')
			case base == 16 && 'a' <= c && c <= 'f':
				d = uint64(c-'a') + 10
			case base == 16 && 'A' <= c && c <= 'F':
				d = uint64(c-'A') + 10
			default:
				return bad()
			}
			if n = n*uint64(base) + d; n > unicode.MaxRune {
				return bad()
			}
		}
		if 0xD800 <= n && n <= 0xDFFF {
			return 0, 0, s.syntax("character reference " + string(b[:semi+1]) + " to a surrogate, which is no XML character")
		}
		return semi + 1, rune(n), nil
	}
	switch string(body) {
	case "lt":
		return semi + 1, '<', nil
	case "gt":
		return semi + 1, '>', nil
	case "amp":
		return semi + 1, '&', nil
	case "apos":
		return semi + 1, '\'', nil
	case "quot":
		return semi + 1, '"', nil
	}
	return bad()
}

func isInCharacterRange(r rune) bool {
	return r == 0x09 ||
		r == 0x0A ||
		r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' ||
		'a' <= c && c <= 'z' ||
		'0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// nameBytes marks the bytes readName takes: isNameByte's, and every byte of a multi-byte
// UTF-8 sequence (which isName checks).
var nameBytes = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= utf8.RuneSelf || isNameByte(byte(c))
	}
	return t
}()

// readName reads a name's bytes, as encoding/xml does: up to the first single-byte character
// that cannot be in a name. It returns nil when there is none.
func (s *Scanner) readName() ([]byte, error) {
	rest := s.buf[s.pos:]
	i := 0
	for i < len(rest) && nameBytes[rest[i]] {
		i++
	}
	if i == len(rest) {
		if s.more() {
			return nil, errShort
		}
		return nil, s.syntax("unexpected EOF")
	}
	s.pos += i
	return rest[:i], nil
}

// name reads a name and checks it; what, when a name is missing, says what was expected.
func (s *Scanner) name(what string) ([]byte, error) {
	b, err := s.readName()
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, s.syntax(what)
	}
	if !isName(b) {
		return nil, s.syntax("invalid XML name: " + string(b))
	}
	return b, nil
}

// isNameStart reports whether an ASCII byte can start a name that has no colon at its start.
func isNameStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }

func isName(b []byte) bool {
	c := b[0]
	if c < utf8.RuneSelf {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && c != '_' && c != ':' {
			return false
		}
		ascii := true
		for _, c := range b[1:] {
			if c >= utf8.RuneSelf {
				ascii = false
				break
			}
		}
		if ascii {
			return true // readName took only name bytes
		}
	}
	r, n := utf8.DecodeRune(b)
	if r == utf8.RuneError && n == 1 || !unicode.Is(nameFirst, r) {
		return false
	}
	for n < len(b) {
		b = b[n:]
		r, n = utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 || !unicode.Is(nameFirst, r) && !unicode.Is(nameSecond, r) {
			return false
		}
	}
	return true
}

// qname reads a qualified name and splits it as encoding/xml does: a name with more than one
// colon is missing (what), and one with an empty prefix or local part is all local.
func (s *Scanner) qname(what string) (prefix, local string, err error) {
	// The usual name in one pass: ASCII, starting with a letter or '_', with at most one colon
	// and that not at either end, and followed by more input. Any other goes the long way.
	rest := s.buf[s.pos:]
	colon, n, usual := -1, 0, true
	for ; n < len(rest) && nameBytes[rest[n]]; n++ {
		switch c := rest[n]; {
		case c >= utf8.RuneSelf || c == ':' && colon >= 0:
			usual = false
		case c == ':':
			colon = n
		}
	}
	if usual && n > 0 && n < len(rest) && colon != 0 && colon != n-1 && isNameStart(rest[0]) {
		s.pos += n
		q := s.intern(rest[:n])
		if colon < 0 {
			return "", q, nil
		}
		return q[:colon], q[colon+1:], nil
	}
	b, err := s.name(what)
	if err != nil {
		return "", "", err
	}
	i := bytes.IndexByte(b, ':')
	switch {
	case i < 0:
		return "", s.intern(b), nil
	case bytes.IndexByte(b[i+1:], ':') >= 0:
		return "", "", s.syntax(what)
	case i == 0 || i == len(b)-1:
		return "", s.intern(b), nil
	}
	q := s.intern(b)
	return q[:i], q[i+1:], nil
}

// intern returns a name as a string: the same string for the same bytes while it stays in
// the process's table of names, so that the names of replies, which repeat from reply to
// reply, do not allocate.
func (s *Scanner) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 64 {
		return string(b)
	}
	h := nameHash(b)
	// Two ways, as in internIn: of two names that collide, the second takes the slot beside.
	i := (h ^ h>>15) & uint32(len(names)-1)
	first := names[i].Load()
	if first != nil && *first == string(b) {
		return *first
	}
	if p := names[i^1].Load(); p != nil && *p == string(b) {
		return *p
	}
	str := string(b)
	if first == nil {
		names[i].Store(&str)
	} else {
		names[i^1].Store(&str)
	}
	return str
}

// names is the table of names intern keeps, shared by all scanners.
var names [4096]atomic.Pointer[string]

// nameHash is the hash of a name for intern's table, in time that does not grow with the
// name: its length and its first and last four bytes (all of a name of up to eight), mixed by
// a multiplication. Names that agree in all of these are rare within one contract, and a
// collision costs no more than a new string.
func nameHash(b []byte) uint32 {
	n := len(b)
	var x uint64
	if n >= 4 {
		x = uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32
	} else {
		for _, c := range b {
			x = x<<8 | uint64(c)
		}
	}
	x = (x ^ uint64(n)<<59) * 0x9E3779B97F4A7C15
	return uint32(x >> 32)
}

func fnv(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// internValue is intern for attribute values, in a table of the scanner's own: values differ
// more from reply to reply.
func (s *Scanner) internValue(b []byte) string { return internIn(s.values[:], b) }

func internIn(table []string, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 64 {
		return string(b)
	}
	h := fnv(b)
	// Two ways: a name that collides with another keeps its string in the slot beside.
	i := (h ^ h>>15) & uint32(len(table)-1)
	if table[i] == string(b) {
		return table[i]
	}
	if table[i^1] == string(b) {
		return table[i^1]
	}
	table[i^1] = table[i]
	table[i] = string(b)
	return table[i]
}

const xmlnsPrefix = "xmlns"

func (s *Scanner) startTag() error {
	prefix, local, err := s.qname("expected element name after <")
	if err != nil {
		return err
	}
	s.raw = s.raw[:0]
	empty := false
	for {
		s.space()
		b, err := s.mustByte()
		if err != nil {
			return err
		}
		if b == '/' {
			if b, err = s.mustByte(); err != nil {
				return err
			}
			if b != '>' {
				return s.syntax("expected /> in element")
			}
			empty = true
			break
		}
		if b == '>' {
			break
		}
		s.pos--
		var a rawAttr
		if a.prefix, a.local, err = s.qname("expected attribute name in element"); err != nil {
			return err
		}
		s.space()
		if b, err = s.mustByte(); err != nil {
			return err
		}
		if b != '=' {
			return s.syntax("attribute name without = in element")
		}
		s.space()
		q, err := s.mustByte()
		if err != nil {
			return err
		}
		if q != '"' && q != '\'' {
			return s.syntax("unquoted or missing attribute value in element")
		}
		rest := s.buf[s.pos:]
		end := bytes.IndexByte(rest, q)
		if lt := bytes.IndexByte(rest, '<'); lt >= 0 && (end < 0 || lt < end) {
			s.pos += lt
			return s.syntax("unescaped < inside quoted string")
		}
		if end < 0 {
			s.pos = len(s.buf)
			return s.eof()
		}
		v, err := s.chars(rest[:end], false, true)
		if err != nil {
			return err
		}
		if a.prefix == xmlnsPrefix || a.prefix == "" && a.local == xmlnsPrefix {
			// A namespace, which repeats from reply to reply as names do.
			a.value = s.intern(v)
		} else {
			a.value = s.internValue(v)
		}
		s.pos += end + 1
		s.raw = append(s.raw, a)
	}

	// Declarations first: they apply to the element's name and its other attributes.
	mark := len(s.ns)
	for _, a := range s.raw {
		switch {
		case a.prefix == xmlnsPrefix:
			s.ns = append(s.ns, nsBinding{a.local, a.value})
		case a.prefix == "" && a.local == xmlnsPrefix:
			s.ns = append(s.ns, nsBinding{"", a.value})
		}
	}
	name := xml.Name{Local: local}
	if prefix == xmlnsPrefix {
		return s.syntax("element <" + prefix + ":" + local + "> has the prefix xmlns, which is for namespace declarations")
	}
	if name.Space, err = s.resolve(prefix, true); err != nil {
		return err
	}
	s.attrs = s.attrs[:0]
	for _, a := range s.raw {
		an := xml.Name{Space: a.prefix, Local: a.local}
		if a.prefix != xmlnsPrefix && a.prefix != "" {
			if an.Space, err = s.resolve(a.prefix, false); err != nil {
				return err
			}
		}
		s.attrs = append(s.attrs, xml.Attr{Name: an, Value: a.value})
	}
	if err := s.checkDuplicates(); err != nil {
		return err
	}
	if n := len(s.stack); n < cap(s.stack) {
		s.stack = s.stack[:n+1] // written field by field, as s.cur is
	} else {
		s.stack = append(s.stack, openElem{})
	}
	e := &s.stack[len(s.stack)-1]
	e.prefix, e.name, e.mark = prefix, name, mark
	s.needClose = empty
	s.cur.kind, s.cur.name, s.cur.attr = tokStart, name, s.attrs
	return nil
}

// resolve returns the namespace a prefix is bound to. An element without a prefix is in the
// default namespace; an attribute without one is in none.
func (s *Scanner) resolve(prefix string, element bool) (string, error) {
	switch {
	case prefix == "" && !element:
		return "", nil
	case prefix == "xml":
		return xmlNamespaceURI, nil
	}
	for i := len(s.ns) - 1; i >= 0; i-- {
		if s.ns[i].prefix == prefix {
			return s.ns[i].uri, nil
		}
	}
	switch {
	case prefix == "":
		return "", nil
	case !element:
		// An attribute's undeclared prefix stands for its namespace, as encoding/xml has it:
		// node-soap writes xsi:nil without declaring xsi, and the codec then reads the
		// attribute as no xsi:nil, which the element's value is judged by.
		return prefix, nil
	}
	return "", s.syntax("undeclared namespace prefix " + strconv.Quote(prefix))
}

// checkDuplicates refuses an attribute given twice, by its qualified name or by its namespace
// and local name.
func (s *Scanner) checkDuplicates() error {
	n := len(s.attrs)
	if n < 2 {
		return nil
	}
	dup := func(i int) error {
		return s.syntax("duplicate attribute " + qualified(s.raw[i].prefix, s.raw[i].local))
	}
	if n <= 16 {
		for i := 1; i < n; i++ {
			for j := range i {
				if s.attrs[i].Name == s.attrs[j].Name || s.raw[i].prefix == s.raw[j].prefix && s.raw[i].local == s.raw[j].local {
					return dup(i)
				}
			}
		}
		return nil
	}
	seen := make(map[xml.Name]bool, 2*n)
	for i := range n {
		r := xml.Name{Space: "\x00" + s.raw[i].prefix, Local: s.raw[i].local}
		if seen[s.attrs[i].Name] || seen[r] {
			return dup(i)
		}
		seen[s.attrs[i].Name], seen[r] = true, true
	}
	return nil
}

func qualified(prefix, local string) string {
	if prefix == "" {
		return local
	}
	return prefix + ":" + local
}

func (s *Scanner) endTag() error {
	// The usual end tag names its start tag's element as the start tag did.
	if n := len(s.stack); n > 0 {
		// Compared in place: the name is the start tag's, and the byte after it ends the name
		// (readName would read no further).
		top := &s.stack[n-1]
		q := s.pos
		end := q + len(top.name.Local) + len(top.prefix) + min(len(top.prefix), 1)
		if end < len(s.buf) && !nameBytes[s.buf[end]] && matchQName(s.buf[q:end], top.prefix, top.name.Local) {
			s.pos = end
			s.space()
			if s.pos < len(s.buf) && s.buf[s.pos] == '>' {
				s.pos++
				s.pop()
				return nil
			}
		}
		s.pos = q
	}
	prefix, local, err := s.qname("expected element name after </")
	if err != nil {
		return err
	}
	s.space()
	b, err := s.mustByte()
	if err != nil {
		return err
	}
	if b != '>' {
		return s.syntax("invalid characters between </" + local + " and >")
	}
	if len(s.stack) == 0 {
		return s.syntax("unexpected end element </" + local + ">")
	}
	top := s.stack[len(s.stack)-1]
	switch {
	case top.name.Local != local:
		return s.syntax("element <" + top.name.Local + "> closed by </" + local + ">")
	case top.prefix != prefix:
		ns := prefix
		if ns == "" {
			ns = `""`
		}
		return s.syntax("element <" + top.name.Local + "> in space " + top.prefix + " closed by </" + local + "> in space " + ns)
	}
	s.pop()
	return nil
}

// matchQName reports whether b is prefix:local (local alone without a prefix).
func matchQName(b []byte, prefix, local string) bool {
	if prefix == "" {
		return string(b) == local
	}
	return string(b[:len(prefix)]) == prefix && b[len(prefix)] == ':' && string(b[len(prefix)+1:]) == local
}

func (s *Scanner) procInst() error {
	target, err := s.name("expected target name after <?")
	if err != nil {
		return err
	}
	s.space()
	end := bytes.Index(s.buf[s.pos:], []byte("?>"))
	if end < 0 {
		s.pos = len(s.buf)
		return s.eof()
	}
	data := s.buf[s.pos : s.pos+end]
	s.pos += end + 2
	t := token{kind: tokProcInst, name: xml.Name{Local: s.intern(target)}, data: data}
	if string(target) != "xml" {
		s.setProcInst(t)
		return nil
	}
	// content stays in this function (what leaves it is cloned), so that the usual
	// declaration is read without allocating.
	content := string(data)
	if ver := procInstParam("version=", content); ver != "" && ver != "1.0" {
		return fmt.Errorf("xml: unsupported version %q; only version 1.0 is supported", strings.Clone(ver))
	}
	enc := procInstParam("encoding=", content)
	if enc == "" || strings.EqualFold(enc, "utf-8") {
		s.setProcInst(t)
		return nil
	}
	charset := strings.Clone(enc)
	// The rest of the document is in charset: convert it, as encoding/xml switches readers.
	rest := s.buf[s.pos:]
	if s.r == nil {
		r, err := charsetReader(charset, bytes.NewReader(rest))
		if err != nil {
			return fmt.Errorf("xml: opening charset %q: %w", charset, err)
		}
		conv, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		s.nl += bytes.Count(s.buf[:s.pos], []byte{'\n'})
		s.base += int64(s.pos)
		s.buf, s.pos = conv, 0
		s.setProcInst(t)
		return nil
	}
	r, err := charsetReader(charset, io.MultiReader(bytes.NewReader(bytes.Clone(rest)), s.r))
	if err != nil {
		return fmt.Errorf("xml: opening charset %q: %w", charset, err)
	}
	t.data = bytes.Clone(data)
	s.r, s.rEOF, s.buf = r, false, s.buf[:s.pos]
	s.setProcInst(t)
	return nil
}

// procInstParam returns the value of param (with its "=", such as "version=") in the content
// of an XML declaration, as encoding/xml reads it.
func procInstParam(param, s string) string {
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}

// bang reads what starts with <!: a comment, a CDATA section or a directive.
func (s *Scanner) bang() error {
	b, err := s.mustByte()
	if err != nil {
		return err
	}
	switch b {
	case '-':
		if b, err = s.mustByte(); err != nil {
			return err
		}
		if b != '-' {
			return s.syntax("invalid sequence <!- not part of <!--")
		}
		rest := s.buf[s.pos:]
		i := bytes.Index(rest[s.hint:], []byte("--"))
		if i >= 0 {
			i += s.hint
		}
		if i < 0 || i+2 >= len(rest) {
			if s.more() {
				s.hint = i
				if i < 0 {
					s.hint = max(len(rest)-1, 0)
				}
				return errShort
			}
			s.pos = len(s.buf)
			return s.eof()
		}
		if rest[i+2] != '>' {
			s.pos += i + 2
			return s.syntax(`invalid sequence "--" not allowed in comments`)
		}
		s.pos += i + 3
		s.setData(tokComment, rest[:i])
		return nil
	case '[':
		for i := range 6 {
			if b, err = s.mustByte(); err != nil {
				return err
			}
			if b != "CDATA["[i] {
				return s.syntax("invalid <![ sequence")
			}
		}
		rest := s.buf[s.pos:]
		i := bytes.Index(rest[s.hint:], []byte("]]>"))
		if i >= 0 {
			i += s.hint
		} else {
			if s.more() {
				s.hint = max(len(rest)-2, 0)
				return errShort
			}
			s.pos = len(s.buf)
			return s.syntax("unexpected EOF in CDATA section")
		}
		data, err := s.chars(rest[:i], true, false)
		if err != nil {
			return err
		}
		s.pos += i + 3
		s.setData(tokText, data)
		return nil
	}
	// A directive (<!DOCTYPE ...>, <!ENTITY ...>), read as encoding/xml reads it: quoted
	// angle brackets do not count for nesting, and a comment reads as a space.
	s.text = append(s.text[:0], b)
	var inquote byte
	depth := 0
	for {
		if b, err = s.mustByte(); err != nil {
			return err
		}
		if inquote == 0 && b == '>' && depth == 0 {
			break
		}
	HandleB:
		s.text = append(s.text, b)
		switch {
		case b == inquote:
			inquote = 0
		case inquote != 0:
		case b == '\'' || b == '"':
			inquote = b
		case b == '>':
			depth--
		case b == '<':
			const open = "!--"
			for i := range len(open) {
				if b, err = s.mustByte(); err != nil {
					return err
				}
				if b != open[i] {
					s.text = append(s.text, open[:i]...)
					depth++
					goto HandleB
				}
			}
			s.text = s.text[:len(s.text)-1]
			var b0, b1 byte
			for {
				if b, err = s.mustByte(); err != nil {
					return err
				}
				if b0 == '-' && b1 == '-' && b == '>' {
					break
				}
				b0, b1 = b1, b
			}
			s.text = append(s.text, ' ')
		}
	}
	s.setData(tokDirective, s.text)
	return nil
}
