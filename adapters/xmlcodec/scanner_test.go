package xmlcodec_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// stricterRefusals are what the scanner refuses beyond encoding/xml: XML that is well-formed
// but not namespace-well-formed (encoding/xml reads an element's undeclared prefix as its
// namespace, and keeps two equal attributes), and character references to surrogates
// (encoding/xml reads them as U+FFFD). An attribute's undeclared prefix both read as its
// namespace (node-soap writes xsi:nil so).
var stricterRefusals = []string{
	"undeclared namespace prefix",
	"has the prefix xmlns",
	"duplicate attribute",
	"to a surrogate",
}

func isStricter(err error) bool {
	for _, s := range stricterRefusals {
		if err != nil && strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// sameTokens reads data with encoding/xml (NewDecoder) and with the scanner, over the whole
// document and through a reader one byte at a time (61 for long documents), and fails where they disagree: a token
// that differs (names with namespaces, attributes, text), or a document one refuses and the
// other does not, but for the scanner's stricter refusals. It returns the scanner's error
// (nil at the end of the document).
func sameTokens(data []byte) error {
	r := iotest.OneByteReader(bytes.NewReader(data))
	if len(data) > 8<<10 {
		r = &chunkReader{data: data, n: 61}
	}
	return sameTokensFrom(data, r)
}

// sameTokensFrom is sameTokens with the scanner's reader given.
func sameTokensFrom(data []byte, r io.Reader) error {
	std := xmlcodec.NewDecoder(bytes.NewReader(data))
	mem := xmlcodec.NewScanner(data)
	rd := xmlcodec.NewScannerReader(r)
	for i := 0; ; i++ {
		ts, es := std.Token()
		tm, em := mem.Token()
		tr, er := rd.Token()
		if !sameError(em, er) || (em == nil && !equalToken(tm, tr)) {
			return disagree("token %d: the scanner reads %s (%v) from memory, %s (%v) from a reader", i, show(tm), em, show(tr), er)
		}
		switch {
		case errors.Is(es, io.EOF) && errors.Is(em, io.EOF):
			return nil
		case es != nil && em != nil && !errors.Is(em, io.EOF):
			return em // both refuse
		case es == nil && isStricter(em):
			return em
		case es != nil || em != nil:
			return disagree("token %d: encoding/xml reads %s (%v), the scanner %s (%v)", i, show(ts), es, show(tm), em)
		case !equalToken(ts, tm):
			return disagree("token %d: encoding/xml reads %s, the scanner %s", i, show(ts), show(tm))
		}
	}
}

// chunkReader gives data n bytes at a time.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// disagreement is sameTokens' error where the two tokenizers disagree.
type disagreement struct{ msg string }

func (d *disagreement) Error() string { return d.msg }

func disagree(format string, args ...any) error {
	return &disagreement{fmt.Sprintf(format, args...)}
}

func isDisagreement(err error) bool {
	var d *disagreement
	return errors.As(err, &d)
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}

func show(t xml.Token) string { return fmt.Sprintf("%T %q", t, fmt.Sprint(t)) }

func equalToken(a, b xml.Token) bool {
	switch a := a.(type) {
	case xml.StartElement:
		b, ok := b.(xml.StartElement)
		if !ok || a.Name != b.Name || len(a.Attr) != len(b.Attr) {
			return false
		}
		for i := range a.Attr {
			if a.Attr[i] != b.Attr[i] {
				return false
			}
		}
		return true
	case xml.EndElement:
		b, ok := b.(xml.EndElement)
		return ok && a == b
	case xml.CharData:
		b, ok := b.(xml.CharData)
		return ok && bytes.Equal(a, b)
	case xml.Comment:
		b, ok := b.(xml.Comment)
		return ok && bytes.Equal(a, b)
	case xml.ProcInst:
		b, ok := b.(xml.ProcInst)
		return ok && a.Target == b.Target && bytes.Equal(a.Inst, b.Inst)
	case xml.Directive:
		b, ok := b.(xml.Directive)
		return ok && bytes.Equal(a, b)
	}
	return a == nil && b == nil
}

// xmlDocuments are the XML files the scanner is checked on: the SOAP messages, WSDL and
// schemas of ../shared/corpus (read in place, when there), the codec's and the SOAP adapter's
// test data.
func xmlDocuments(tb testing.TB) map[string][]byte {
	tb.Helper()
	var paths []string
	for _, glob := range []string{
		"../../../shared/corpus/soap-messages/*/*",
		"testdata/*",
		"../soap/testdata/*.wsdl",
		"../soap/testdata/nodesoap/*",
	} {
		p, _ := filepath.Glob(glob)
		paths = append(paths, p...)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		switch filepath.Ext(p) {
		case ".xml", ".wsdl", ".xsd", ".golden":
		default:
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[p] = b
	}
	return out
}

// TestScannerCorpus checks the scanner against encoding/xml on every document of the corpus
// and the test data: the same tokens, to the end.
func TestScannerCorpus(t *testing.T) {
	t.Parallel()
	docs := xmlDocuments(t)
	if len(docs) < 5 {
		t.Fatalf("only %d documents", len(docs))
	}
	for p, b := range docs {
		if err := sameTokens(b); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// wellFormed are documents both read alike, token for token.
var wellFormed = []string{
	`<a/>`,
	`<?xml version="1.0" encoding="UTF-8"?><a x='1' y="2"/>`,
	`<?xml version="1.0" encoding="ISO-8859-1"?><a>caf` + "\xe9" + `</a>`,
	`<?xml version="1.0" encoding="windows-1252"?><a b="` + "\x80" + `">` + "\x93q\x94" + `</a>`,
	`<p:a xmlns:p="urn:p" xmlns="urn:d"><b p:x="1" y="2"><p:c xmlns:p="urn:q"/></b><p:d/></p:a>`,
	`<a xmlns="urn:d"><b xmlns=""><c/></b><d/></a>`,
	`<a xml:lang="en"><xml:b/></a>`,
	`<a>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x10FFFF;&#0000067;</a>`,
	`<a b="&lt;&#x9;&#10;">x</a>`,
	"<a>\r\nline\rnext\r\n</a>",
	"<a b='x\r\ny\rz'/>",
	`<a><![CDATA[<b>&amp;]]]]><![CDATA[>]]></a>`,
	"<a><![CDATA[x\r\ny]]></a>",
	`<!-- c --><?pi data ?><a><!----><?x?><!-- - --></a><!--end-->`,
	`<a>]]</a><b>]></b>`,
	`<a  b = "1"	c='2'
	/>`,
	`<a></a   >`,
	`text before<a/>text after`,
	`<a/><b/>`,
	`<a b="1"c="2"/>`,
	`<é:ñ xmlns:é="urn:e"><日本/></é:ñ>`,
	`<:a/>`,
	`<a: xmlns:a=""/>`,
	`<p:a xmlns:p=""/>`,
	`<!DOCTYPE a [<!ENTITY x "y"> <!-- c --> <!ATTLIST a b CDATA "<>">]><a/>`,
	`<!DOCTYPE html>`,
	`<a xmlns:xmlns="urn:x"/>`,
	`<a xmlns:xsi="urn:other"><b xsi:nil="true" p:q="1"/></a>`,
	`<a xmlns:="urn:x"/>`,
	"<a>\xef\xbf\xbd \u00e9 \U0001F600</a>",
	``,
	` `,
}

// malformed are documents encoding/xml's strict decoder refuses; the scanner must refuse them
// too.
var malformed = []string{
	`<a>`,
	`<a:b:c/>`,
	`<a></b>`,
	`<a><b></a></b>`,
	`<p:a xmlns:p="u" xmlns:q="u"></q:a>`,
	`</a>`,
	`<a`,
	`<a b`,
	`<a b=`,
	`<a b="1`,
	`<a b=1/>`,
	`<a b/>`,
	`<a b="<"/>`,
	`<a/b>`,
	`<1a/>`,
	`<a></1a>`,
	`<a>x</a  b>`,
	`<a><`,
	`<-a/>`,
	"<a\xff/>",
	"<a>\xff</a>",
	"<a b='\xc3'/>",
	"<a>\x01</a>",
	"<a>&#1;</a>",
	"<a>&#0;</a>",
	"<a>&#x110000;</a>",
	"<a>&#xFFFE;</a>",
	`<a>&nbsp;</a>`,
	`<a>&lt</a>`,
	`<a>& b</a>`,
	`<a>&#;</a>`,
	`<a>&#x;</a>`,
	`<a>&#X41;</a>`,
	`<a>&#12a;</a>`,
	`<a b="&x;"/>`,
	`<a>]]></a>`,
	`<a><!- c --></a>`,
	`<a><!-- a -- b --></a>`,
	`<a><!-- c`,
	`<a><![CDATA[x</a>`,
	`<a><![CDAT[x]]></a>`,
	`<a><?pi`,
	`<a><? x?></a>`,
	`<?xml version="1.1"?><a/>`,
	`<?xml version="1.0" encoding="no-such-charset"?><a/>`,
	`<!DOCTYPE a [`,
	"<a>\ufffe</a>",
}

// stricter are documents encoding/xml reads and the scanner refuses (stricterRefusals).
var stricter = []string{
	`<p:a/>`,
	`<a><p:b xmlns:p="u"/><p:c/></a>`,
	`<xmlns:a/>`,
	`<a b="1" b="2"/>`,
	`<a xmlns:p="u" xmlns:q="u" p:b="1" q:b="2"/>`,
	`<a xmlns:p="u" xmlns:p="v"/>`,
	`<a>&#xD800;</a>`,
	`<a b="&#55296;"/>`,
}

func TestScannerWellFormed(t *testing.T) {
	t.Parallel()
	for _, doc := range wellFormed {
		if err := sameTokens([]byte(doc)); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

func TestScannerMalformed(t *testing.T) {
	t.Parallel()
	for _, doc := range malformed {
		err := sameTokens([]byte(doc))
		if err == nil || isStricter(err) || isDisagreement(err) {
			t.Errorf("%q: got %v, want both to refuse it", doc, err)
		}
	}
	for _, doc := range stricter {
		if err := sameTokens([]byte(doc)); !isStricter(err) {
			t.Errorf("%q: got %v, want the scanner alone to refuse it", doc, err)
		}
	}
}

// TestScannerTokens pins what the scanner reads where encoding/xml's reading is not the point:
// namespaces resolved through scopes and xmlns="", references, CDATA, line ends.
func TestScannerTokens(t *testing.T) {
	t.Parallel()
	doc := "<p:a xmlns:p=\"urn:p\" xmlns=\"urn:d\" p:k=\"v\" k=\"w\"><b xmlns=\"\"><c/></b><d>&lt;x&#x41;<![CDATA[&amp;]]>\r\n</d></p:a>"
	var got []string
	s := xmlcodec.NewScanner([]byte(doc))
	for {
		tok, err := s.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			line := "<{" + tok.Name.Space + "}" + tok.Name.Local
			for _, a := range tok.Attr {
				line += " {" + a.Name.Space + "}" + a.Name.Local + "=" + a.Value
			}
			got = append(got, line+">")
		case xml.EndElement:
			got = append(got, "</{"+tok.Name.Space+"}"+tok.Name.Local+">")
		case xml.CharData:
			got = append(got, fmt.Sprintf("%q", tok))
		}
	}
	want := []string{
		"<{urn:p}a {xmlns}p=urn:p {}xmlns=urn:d {urn:p}k=v {}k=w>",
		"<{}b {}xmlns=>", "<{}c>", "</{}c>", "</{}b>",
		"<{urn:d}d>", `"<xA"`, `"&amp;"`, `"\n"`, "</{urn:d}d>",
		"</{urn:p}a>",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestScannerErrorsStick checks that a scanner that failed fails again, as encoding/xml does,
// and that its syntax errors are *xml.SyntaxError with the line.
func TestScannerErrorsStick(t *testing.T) {
	t.Parallel()
	s := xmlcodec.NewScanner([]byte("<a>\n<b></c></a>"))
	var err error
	for err == nil {
		_, err = s.Token()
	}
	var se *xml.SyntaxError
	if !errors.As(err, &se) || se.Line != 2 || se.Msg != "element <b> closed by </c>" {
		t.Fatalf("got %#v", err)
	}
	if _, again := s.Token(); !errors.Is(again, err) { // the same error, sticky
		t.Fatalf("then %v", again)
	}
}

// FuzzTokenizer reads arbitrary documents with encoding/xml and with the scanner, from memory
// and from a reader a byte at a time: they must read the same tokens and refuse the same
// documents, but for the scanner's stricter refusals.
func FuzzTokenizer(f *testing.F) {
	for _, b := range xmlDocuments(f) {
		f.Add(b)
	}
	for _, set := range [][]string{wellFormed, malformed, stricter, fuzzSeeds} {
		for _, s := range set {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := sameTokens(data); isDisagreement(err) {
			t.Fatal(err)
		}
	})
}

// TestScannerReaderLongTokens reads long tokens of every kind through a reader a byte at a
// time, as encoding/xml reads them from memory: a token read again after each Read would take
// minutes here (FuzzTokenizer found it), and a comment whose "--" ends a Read was once cut.
func TestScannerReaderLongTokens(t *testing.T) {
	t.Parallel()
	n := 50000
	docs := []string{
		"<a>" + strings.Repeat("x", n) + "</a>",
		"<a><!--" + strings.Repeat("x", n) + "--></a>",
		"<a><![CDATA[" + strings.Repeat("x", n) + "]]></a>",
		"<a b='" + strings.Repeat("x", n) + "'/>",
		"<!DOCTYPE " + strings.Repeat("x", n) + ">",
		"<?p " + strings.Repeat("x", n) + "?>",
		strings.Repeat("<a>", n/3),
		"<r>" + strings.Repeat("<a/>", n/4) + "</r>",
		"<a " + strings.Repeat("b=''", n/4) + "/>",
		"<a>" + strings.Repeat("&lt;", n/4) + "</a>",
		"<" + strings.Repeat("a", n) + "/>",
	}
	for _, m := range []int{1, 2, 10, 100, 5000} {
		docs = append(docs, "<a><!--"+strings.Repeat("x", m)+"--></a>", "<a><![CDATA["+strings.Repeat("x", m)+"]]></a>")
	}
	for _, doc := range docs {
		if err := sameTokensFrom([]byte(doc), iotest.OneByteReader(strings.NewReader(doc))); isDisagreement(err) {
			t.Errorf("%.40q: %.300v", doc, err)
		}
	}
}
