package xmlcodec

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
)

// charsetReader converts a document from the encoding its XML declaration names. A UTF-16
// label is read as is: encoding/xml cannot have read the declaration of a UTF-16 document, so
// the document was converted to UTF-8 before (ToUTF8).
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	if isUTF16(label) {
		return in, nil
	}
	r, err := charset.NewReaderLabel(label, in)
	if err != nil {
		return nil, fmt.Errorf("the XML declaration names encoding %q, which the bridge does not know", label)
	}
	return r, nil
}

func isUTF16(label string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(label)), "utf-16")
}

// ToUTF8 returns a reply body as UTF-8 for NewDecoder: a UTF-16 body (by its byte order mark,
// or by the Content-Type's charset) converted, a UTF-8 byte order mark dropped, and a body in
// the Content-Type's charset converted when its XML declaration names no encoding (one that
// does is converted by the decoder, as it names). Other bodies come back as they are, without
// a copy. A body that is not UTF-8 and names no charset anywhere is an error saying so, as is a
// charset the bridge does not know.
func ToUTF8(body []byte, contentType string) ([]byte, error) {
	switch {
	case bytes.HasPrefix(body, []byte{0xFE, 0xFF}), bytes.HasPrefix(body, []byte{0xFF, 0xFE}):
		return transcode(body, unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), "UTF-16")
	case bytes.HasPrefix(body, []byte{0xEF, 0xBB, 0xBF}):
		return body[3:], nil
	}
	label := charsetParam(contentType)
	switch l := strings.ToLower(label); {
	case l == "" || l == "utf-8" || l == "utf8" || l == "us-ascii":
		if !utf8.Valid(body) && !declaresEncoding(body) {
			return nil, fmt.Errorf("the reply is not UTF-8 and names no charset (no charset in its Content-Type %q, no encoding in an XML declaration)", contentType)
		}
		return body, nil
	case isUTF16(l):
		enc := unicode.UTF16(unicode.BigEndian, unicode.UseBOM) // RFC 2781: big-endian without a BOM
		if l == "utf-16le" {
			enc = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
		}
		return transcode(body, enc, label)
	case declaresEncoding(body):
		return body, nil
	}
	enc, _ := charset.Lookup(label)
	if enc == nil {
		return nil, fmt.Errorf("the reply's Content-Type names charset %q, which the bridge does not know", label)
	}
	return transcode(body, enc, label)
}

func transcode(body []byte, enc encoding.Encoding, name string) ([]byte, error) {
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		return nil, fmt.Errorf("the reply is not valid %s: %w", name, err)
	}
	return out, nil
}

// declaresEncoding reports whether body starts with an XML declaration that names an encoding.
func declaresEncoding(body []byte) bool {
	if !bytes.HasPrefix(body, []byte("<?xml")) {
		return false
	}
	end := bytes.Index(body, []byte("?>"))
	if end < 0 {
		return false
	}
	return bytes.Contains(body[:end], []byte("encoding"))
}

// charsetParam returns the charset parameter of a Content-Type, without allocating for the
// usual forms (mime.ParseMediaType builds a map per call, on the path of every reply).
func charsetParam(contentType string) string {
	for rest := contentType; ; {
		i := strings.IndexByte(rest, ';')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
		param := rest
		if j := strings.IndexByte(param, ';'); j >= 0 {
			param = param[:j]
		}
		name, value, ok := strings.Cut(param, "=")
		if ok && strings.EqualFold(strings.TrimSpace(name), "charset") {
			return strings.Trim(strings.TrimSpace(value), `"`)
		}
	}
}
