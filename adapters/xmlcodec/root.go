package xmlcodec

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// ErrDocumentType is a document type declaration before a document's root element.
var ErrDocumentType = errors.New("the document has a document type declaration, which the bridge refuses (HTML pages start with one; entity declarations are how expansion attacks are made)")

// OpenRoot reads a document up to its root element's start tag. Comments, processing
// instructions and white space may come first; a document type declaration (ErrDocumentType)
// and text may not.
func OpenRoot(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return xml.StartElement{}, errors.New("the body holds no element")
			}
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.Directive:
			return xml.StartElement{}, ErrDocumentType
		case xml.CharData:
			if text := bytes.TrimSpace(t); len(text) > 0 {
				if len(text) > 40 {
					return xml.StartElement{}, fmt.Errorf("text %q… before the root element", text[:40])
				}
				return xml.StartElement{}, fmt.Errorf("text %q before the root element", text)
			}
		}
	}
}
