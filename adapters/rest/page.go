package rest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// pager turns a backend's paging into page_token and next_page_token. A token is opaque to the
// agent: base64url of the style's letter and the backend's own value (a page number, an
// offset, a cursor or a next page's URL), so a token from another method's style is refused.
type pager struct {
	style     agentbridgev1.RestPageStyle
	param     string
	sizeParam string
	pageSize  int64
	firstPage int64
	nextPath  string
	total     string
	token     protoreflect.FieldDescriptor // request
	size      protoreflect.FieldDescriptor // request, optional
	next      protoreflect.FieldDescriptor // response
	items     protoreflect.FieldDescriptor // response, optional: counts a page's items
}

// ReasonInvalidPageToken is the reason of a page_token the method did not give out.
const ReasonInvalidPageToken adapters.Reason = "INVALID_PAGE_TOKEN"

func newPager(p *agentbridgev1.RestPagination, call *agentbridgev1.RestCall, in, out protoreflect.MessageDescriptor) (*pager, error) {
	if p == nil || p.GetStyle() == agentbridgev1.RestPageStyle_REST_PAGE_STYLE_UNSPECIFIED {
		if p != nil {
			return nil, errors.New("rest: pagination needs a style")
		}
		return nil, nil
	}
	pg := &pager{style: p.GetStyle(), param: p.GetParam(), sizeParam: p.GetSizeParam(), pageSize: int64(p.GetPageSize()), firstPage: int64(p.GetFirstPage()), nextPath: p.GetNextPath(), total: p.GetTotalHeader()}
	if p.FirstPage == 0 {
		pg.firstPage = 1
	}
	var errs []error
	stringField := func(md protoreflect.MessageDescriptor, name, def, what string) protoreflect.FieldDescriptor {
		if name == "" {
			name = def
		}
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
			errs = append(errs, fmt.Errorf("rest: pagination: %s needs a string field %s (%s)", md.FullName(), name, what))
		}
		return fd
	}
	pg.token = stringField(in, p.GetTokenField(), "page_token", "the token of the page to get")
	pg.next = stringField(out, p.GetNextTokenField(), "next_page_token", "the token of the next page")
	sizeName := p.GetSizeField()
	if sizeName == "" {
		sizeName = "page_size"
	}
	if fd := in.Fields().ByName(protoreflect.Name(sizeName)); fd != nil {
		switch fd.Kind() {
		case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind:
			pg.size = fd
		default:
			errs = append(errs, fmt.Errorf("rest: pagination: %s is not an integer field", sizeName))
		}
	} else if p.GetSizeField() != "" {
		errs = append(errs, fmt.Errorf("rest: pagination: size_field %q: %s has no such field", sizeName, in.FullName()))
	}
	if pg.size != nil && pg.sizeParam == "" {
		errs = append(errs, fmt.Errorf("rest: pagination: the request has a page size (%s) but size_param does not say which query parameter takes it", sizeName))
	}
	switch pg.style {
	case agentbridgev1.RestPageStyle_REST_PAGE_STYLE_PAGE, agentbridgev1.RestPageStyle_REST_PAGE_STYLE_OFFSET, agentbridgev1.RestPageStyle_REST_PAGE_STYLE_CURSOR:
		if pg.param == "" {
			errs = append(errs, fmt.Errorf("rest: pagination: style %s needs param, the query parameter of the page", pg.style))
		}
	}
	switch pg.style {
	case agentbridgev1.RestPageStyle_REST_PAGE_STYLE_CURSOR, agentbridgev1.RestPageStyle_REST_PAGE_STYLE_NEXT_LINK:
		if pg.nextPath == "" {
			errs = append(errs, fmt.Errorf("rest: pagination: style %s needs next_path, where the reply holds the next page", pg.style))
		}
	}
	itemsName := p.GetItemsField()
	if itemsName == "" {
		itemsName = call.GetResponseBody()
	}
	if itemsName != "" {
		fd := out.Fields().ByName(protoreflect.Name(itemsName))
		if fd == nil || !fd.IsList() {
			errs = append(errs, fmt.Errorf("rest: pagination: items_field %q is not a repeated field of %s", itemsName, out.FullName()))
		}
		pg.items = fd
	} else {
		fields := out.Fields()
		for i := range fields.Len() {
			if fd := fields.Get(i); fd.IsList() {
				if pg.items != nil {
					pg.items = nil
					break
				}
				pg.items = fd
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return pg, nil
}

func (pg *pager) letter() string { return strconv.Itoa(int(pg.style)) }

func (pg *pager) encode(v string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pg.letter() + ":" + v))
}

func (pg *pager) decode(token string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", false
	}
	letter, v, ok := strings.Cut(string(raw), ":")
	return v, ok && letter == pg.letter()
}

// apply adds the page's parameters to q for the request m, or returns the next page's URL
// (NEXT_LINK, LINK_HEADER), and notes in r what the reply needs to make the next token.
func (pg *pager) apply(a *Adapter, m protoreflect.Message, q url.Values, r *request) (string, error) {
	backend := a.backend.Name
	size := pg.pageSize
	if pg.size != nil && m.Has(pg.size) {
		if size = intOf(m.Get(pg.size), pg.size); size < 0 {
			return "", pageErr(backend, "%s must not be negative", pg.size.Name())
		}
	}
	r.size = size
	token := m.Get(pg.token).String()
	var v string
	if token != "" {
		var ok bool
		if v, ok = pg.decode(token); !ok {
			return "", pageErr(backend, "%s is not a token this method gave out; pass next_page_token from the previous reply, or leave it empty for the first page", pg.token.Name())
		}
	}
	switch pg.style {
	case agentbridgev1.RestPageStyle_REST_PAGE_STYLE_NEXT_LINK, agentbridgev1.RestPageStyle_REST_PAGE_STYLE_LINK_HEADER:
		if v != "" {
			if _, ok := a.absLink(v); !ok {
				return "", pageErr(backend, "%s is not a token this method gave out", pg.token.Name())
			}
			return v, nil // the backend's own link holds its parameters
		}
		if pg.param != "" {
			q.Set(pg.param, strconv.FormatInt(pg.firstPage, 10))
		}
	case agentbridgev1.RestPageStyle_REST_PAGE_STYLE_CURSOR:
		if v != "" {
			q.Set(pg.param, v)
		}
	default: // PAGE, OFFSET
		n := pg.firstPage
		if pg.style == agentbridgev1.RestPageStyle_REST_PAGE_STYLE_OFFSET {
			n = 0
		}
		if v != "" {
			var err error
			if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
				return "", pageErr(backend, "%s is not a token this method gave out", pg.token.Name())
			}
		}
		r.page = n
		q.Set(pg.param, strconv.FormatInt(n, 10))
	}
	if size > 0 && pg.sizeParam != "" {
		q.Set(pg.sizeParam, strconv.FormatInt(size, 10))
	}
	return "", nil
}

func pageErr(backend, format string, args ...any) error {
	return adapters.Outcome{Reason: ReasonInvalidPageToken, Backend: backend, Override: codes.InvalidArgument, Message: fmt.Sprintf(format, args...), Metadata: map[string]string{adapters.MetaRequestSent: "false"}}.Err()
}

func intOf(v protoreflect.Value, fd protoreflect.FieldDescriptor) int64 {
	switch fd.Kind() {
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		return int64(min(v.Uint(), 1<<62))
	}
	return v.Int()
}

// next sets the next page token from the reply, or leaves it empty on the last page.
func (pg *pager) setNext(a *Adapter, op *operation, r *request, reply *adapters.Reply, doc *document, m protoreflect.Message) error {
	name := a.backend.Name
	var next string
	switch pg.style {
	case agentbridgev1.RestPageStyle_REST_PAGE_STYLE_LINK_HEADER:
		link := linkNext(reply.Header.Values("Link"))
		if link == "" {
			return nil
		}
		next = link
	case agentbridgev1.RestPageStyle_REST_PAGE_STYLE_NEXT_LINK, agentbridgev1.RestPageStyle_REST_PAGE_STYLE_CURSOR:
		if doc == nil {
			return nil
		}
		next = textAt(doc, pg.nextPath)
		if next == "" {
			return nil
		}
	default:
		count := int64(-1)
		if pg.items != nil {
			count = int64(m.Get(pg.items).List().Len())
		}
		var more bool
		if pg.total != "" && reply.Header.Get(pg.total) != "" {
			total, err := strconv.ParseInt(strings.TrimSpace(reply.Header.Get(pg.total)), 10, 64)
			if err != nil {
				return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, map[string]string{"header": pg.total}, "backend %s sent a %s header that is not a number", name, pg.total)
			}
			size := r.size
			if size <= 0 {
				size = count // the backend's own page size: a page before the last is full
			}
			var seen int64
			if pg.style == agentbridgev1.RestPageStyle_REST_PAGE_STYLE_PAGE {
				seen = (r.page-pg.firstPage)*max(size, 0) + max(count, 0)
			} else {
				seen = r.page + max(count, 0)
			}
			more = count > 0 && seen < total
		} else {
			more = count > 0 && (r.size <= 0 || count >= r.size)
		}
		if !more {
			return nil
		}
		if pg.style == agentbridgev1.RestPageStyle_REST_PAGE_STYLE_PAGE {
			next = strconv.FormatInt(r.page+1, 10)
		} else {
			next = strconv.FormatInt(r.page+count, 10)
		}
	}
	if pg.style == agentbridgev1.RestPageStyle_REST_PAGE_STYLE_LINK_HEADER || pg.style == agentbridgev1.RestPageStyle_REST_PAGE_STYLE_NEXT_LINK {
		abs, ok := a.absLink(next)
		if !ok {
			return adapters.Errorf(name, adapters.ReasonBackendReplyInvalid, nil, "backend %s gave a next page link to another host (or not a URL), which the bridge does not call with the backend's credentials", name)
		}
		next = abs
	}
	m.Set(pg.next, protoreflect.ValueOfString(pg.encode(next)))
	return nil
}

// linkNext returns the target of the rel="next" link of RFC 8288 Link header values, or "".
func linkNext(values []string) string {
	for _, v := range values {
		for _, link := range splitLinks(v) {
			target, params, ok := strings.Cut(link, ";")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return target[1 : len(target)-1]
					}
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link header value at the commas between links (not those inside <> or
// quotes).
func splitLinks(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>':
			depth--
		case c == ',' && depth == 0:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}
