package wsdl

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Namespaces the importer reads.
const (
	nsWSDL    = "http://schemas.xmlsoap.org/wsdl/"
	nsWSDL2   = "http://www.w3.org/ns/wsdl"
	nsSOAP11  = "http://schemas.xmlsoap.org/wsdl/soap/"
	nsSOAP12  = "http://schemas.xmlsoap.org/wsdl/soap12/"
	nsHTTP    = "http://schemas.xmlsoap.org/wsdl/http/"
	nsMIME    = "http://schemas.xmlsoap.org/wsdl/mime/"
	nsWSOAP   = "http://www.w3.org/ns/wsdl/soap"
	nsWHTTP   = "http://www.w3.org/ns/wsdl/http"
	nsXSD     = "http://www.w3.org/2001/XMLSchema"
	nsXSI     = "http://www.w3.org/2001/XMLSchema-instance"
	nsSOAPEnc = "http://schemas.xmlsoap.org/soap/encoding/"
	nsSOAP12E = "http://www.w3.org/2003/05/soap-encoding"
)

// builtinNamespaces are namespaces whose schemas the importer knows without reading them: an
// import of one (often by a remote URL, as WSDLs import SOAP encoding) is not fetched.
var builtinNamespaces = map[string]bool{
	nsXSD: true, nsXSI: true, nsSOAPEnc: true, nsSOAP12E: true, nsWSDL: true,
	"http://www.w3.org/XML/1998/namespace":      true,
	"http://ws-i.org/profiles/basic/1.1/xsd":    true, // swaRef
	"http://www.w3.org/2005/05/xmlmime":         true,
	"http://www.w3.org/2004/11/xmlmime":         true,
	"http://schemas.xmlsoap.org/soap/envelope/": true,
}

// Bounds on reading documents.
const (
	maxDocumentBytes = 32 << 20
	fetchTimeout     = 30 * time.Second
	maxDocuments     = 2000
)

// loader reads a WSDL and everything it imports or includes, each document once.
type loader struct {
	ctx     context.Context
	client  *http.Client
	catalog map[string]string // absolute location → local file
	docs    map[string]*document
	order   []*document
	wsdls   []*document
	schemas []*schema
	seenXSD map[string]bool // location + "|" + chameleon namespace
	notes   []string
}

// schema is one xsd:schema element and the namespace its components land in (the includer's
// for a schema without a targetNamespace, as XSD's chameleon include says).
type schema struct {
	node          *node
	targetNS      string
	qualified     bool // elementFormDefault="qualified"
	attrQualified bool
}

// ReadCatalog reads a catalog file: one "LOCATION LOCAL-FILE" pair per line, # comments.
// Relative local files are relative to the catalog. A LOCATION ending in "/" maps every
// location below it to the same path below LOCAL-FILE, a directory.
func ReadCatalog(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want LOCATION LOCAL-FILE, got %q", path, line, text)
		}
		local := fields[1]
		if !filepath.IsAbs(local) {
			local = filepath.Join(filepath.Dir(path), local)
		}
		out[fields[0]] = local
	}
	return out, sc.Err()
}

// resolve returns the absolute location of ref relative to base.
func resolve(base, ref string) (string, error) {
	if u, err := url.Parse(ref); err == nil && (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "file") {
		return ref, nil
	}
	if isURL(base) {
		b, err := url.Parse(base)
		if err != nil {
			return "", err
		}
		r, err := url.Parse(ref)
		if err != nil {
			return "", err
		}
		return b.ResolveReference(r).String(), nil
	}
	if filepath.IsAbs(ref) {
		return filepath.Clean(ref), nil
	}
	return filepath.Join(filepath.Dir(base), filepath.FromSlash(ref)), nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// local returns the file a catalog maps location to: an entry for the location itself, or
// for a prefix of it ending in "/" (as XML catalogs' rewriteURI), the rest appended.
func (l *loader) local(location string) (string, bool) {
	if p, ok := l.catalog[location]; ok {
		return p, true
	}
	best := ""
	for prefix := range l.catalog {
		if strings.HasSuffix(prefix, "/") && strings.HasPrefix(location, prefix) && len(prefix) > len(best) {
			best = prefix
		}
	}
	if best == "" {
		return "", false
	}
	rest := strings.SplitN(strings.TrimPrefix(location, best), "?", 2)[0]
	return filepath.Join(l.catalog[best], filepath.FromSlash(rest)), true
}

// read returns the bytes at location: a catalog entry, a file or an http(s) URL.
func (l *loader) read(location string) ([]byte, error) {
	if local, ok := l.local(location); ok {
		return readFileBounded(local)
	}
	if strings.HasPrefix(location, "file://") {
		u, err := url.Parse(location)
		if err != nil {
			return nil, err
		}
		return readFileBounded(u.Path)
	}
	if !isURL(location) {
		return readFileBounded(location)
	}
	ctx, cancel := context.WithTimeout(l.ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/xml, application/xml, application/wsdl+xml, */*")
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", location, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: HTTP %d", location, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", location, err)
	}
	if len(data) > maxDocumentBytes {
		return nil, fmt.Errorf("fetching %s: larger than %d MiB", location, maxDocumentBytes>>20)
	}
	return data, nil
}

func readFileBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDocumentBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxDocumentBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, maxDocumentBytes>>20)
	}
	return data, nil
}

// document reads and parses location once; a second request for it returns the same tree,
// which is how import cycles end.
func (l *loader) document(location string) (*document, bool, error) {
	key := location
	if local, ok := l.local(location); ok {
		key = filepath.Clean(local) // one document, whether named by its URL or its file
	}
	if d, ok := l.docs[key]; ok {
		return d, false, nil
	}
	if len(l.docs) >= maxDocuments {
		return nil, false, fmt.Errorf("more than %d documents imported", maxDocuments)
	}
	data, err := l.read(location)
	if err != nil {
		return nil, false, err
	}
	d, err := parseDocument(location, data)
	if err != nil {
		return nil, false, err
	}
	l.docs[key] = d
	l.order = append(l.order, d)
	return d, true, nil
}

// loadWSDL reads a WSDL document and, depth first, what it imports.
func (l *loader) loadWSDL(location string) error {
	d, fresh, err := l.document(location)
	if err != nil {
		return err
	}
	if !fresh {
		return nil
	}
	root := d.root
	switch {
	case root.name.Space == nsWSDL && root.name.Local == "definitions", root.name.Space == nsWSDL2 && root.name.Local == "description":
	case root.name.Space == nsXSD && root.name.Local == "schema":
		// A wsdl:import may name a schema; WS-I disallows it, but it happens.
		return l.addSchema(root, root.attr("targetNamespace"))
	default:
		return root.errorf("<%s> in namespace %q is neither a WSDL (1.1 definitions or 2.0 description) nor an XSD schema", root.name.Local, root.name.Space)
	}
	l.wsdls = append(l.wsdls, d)
	wsdlNS := root.name.Space
	for _, imp := range append(root.kids(wsdlNS, "import"), root.kids(wsdlNS, "include")...) {
		loc := imp.attr("location")
		if loc == "" {
			ns := imp.attr("namespace")
			if builtinNamespaces[ns] {
				continue
			}
			return imp.errorf("wsdl:%s of namespace %q has no location", imp.name.Local, ns)
		}
		abs, err := resolve(location, loc)
		if err != nil {
			return imp.errorf("location %q: %v", loc, err)
		}
		if err := l.loadWSDL(abs); err != nil {
			return wrapAt(imp, err)
		}
	}
	for _, types := range root.kids(wsdlNS, "types") {
		for _, s := range types.kids(nsXSD, "schema") {
			if err := l.addSchema(s, s.attr("targetNamespace")); err != nil {
				return err
			}
		}
	}
	return nil
}

// wrapAt adds where an import was declared to an error from the imported document.
func wrapAt(at *node, err error) error {
	var pe *posError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w\n\timported at %s:%d:%d", err, at.doc.location, at.line, at.col)
	}
	return at.errorf("%v", err)
}

// addSchema records a schema and reads its imports and includes.
func (l *loader) addSchema(s *node, targetNS string) error {
	l.schemas = append(l.schemas, &schema{
		node:          s,
		targetNS:      targetNS,
		qualified:     s.attr("elementFormDefault") == "qualified",
		attrQualified: s.attr("attributeFormDefault") == "qualified",
	})
	for _, c := range s.children {
		if c.name.Space != nsXSD {
			continue
		}
		switch c.name.Local {
		case "import", "include", "redefine", "override":
			loc := c.attr("schemaLocation")
			ns := c.attr("namespace")
			if c.name.Local == "import" && (builtinNamespaces[ns] || loc == "") {
				// No location: the namespace's schema is inline elsewhere in the WSDL or
				// built in; a missing one shows up as an unresolved type later.
				continue
			}
			if loc == "" {
				return c.errorf("xsd:%s without schemaLocation", c.name.Local)
			}
			abs, err := resolve(s.doc.location, loc)
			if err != nil {
				return c.errorf("schemaLocation %q: %v", loc, err)
			}
			chameleon := targetNS
			if c.name.Local == "import" {
				chameleon = ""
			}
			key := abs + "|" + chameleon
			if l.seenXSD[key] {
				continue
			}
			l.seenXSD[key] = true
			d, _, err := l.document(abs)
			if err != nil {
				return wrapAt(c, err)
			}
			root := d.root
			if root.name.Space != nsXSD || root.name.Local != "schema" {
				return c.errorf("%s is not an XSD schema (its root is <%s>)", abs, root.name.Local)
			}
			tns := root.attr("targetNamespace")
			if c.name.Local != "import" {
				if tns != "" && tns != targetNS {
					return c.errorf("xsd:%s of %s, whose targetNamespace %q differs from the including schema's %q", c.name.Local, abs, tns, targetNS)
				}
				tns = targetNS
				if c.name.Local != "include" {
					l.notes = append(l.notes, fmt.Sprintf("xsd:%s of %s read as xsd:include: its redefinitions are not applied", c.name.Local, abs))
				}
			} else if ns != "" && tns != ns {
				return c.errorf("xsd:import of namespace %q, but %s has targetNamespace %q", ns, abs, tns)
			}
			if err := l.addSchema(root, tns); err != nil {
				return err
			}
		}
	}
	return nil
}

// xmlName formats a qualified name for messages.
func xmlName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}
