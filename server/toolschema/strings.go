package toolschema

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// Patterns of protovalidate's string formats, where it checks them with a regular expression or
// an equally simple grammar. Formats are annotations to github.com/google/jsonschema-go, so the
// pattern is what enforces them there; Ajv with ajv-formats checks both.
const (
	// The WHATWG HTML form of an email address, which protovalidate checks.
	emailPattern = "^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~\\-]+@[a-zA-Z0-9](?:[a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9])?" +
		"(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9])?)*$"
	uuidPattern  = `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	tuuidPattern = `^[0-9a-fA-F]{32}$`
	ulidPattern  = `^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$`
	ipv4Octet    = `(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])`
	ipv4Pattern  = `^` + ipv4Octet + `(?:\.` + ipv4Octet + `){3}$`
	// Host names: labels of letters, digits and hyphens, not starting or ending with a hyphen,
	// an optional final dot, at most 253 characters before it, and a last label that is not
	// all digits.
	hostnameLabels   = `^[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?)*\.?$`
	hostnameLength   = `^[\s\S]{1,253}\.?$`
	hostnameLastWord = `(?:^|\.)[a-zA-Z0-9\-]*[a-zA-Z\-][a-zA-Z0-9\-]*\.?$`
)

// stringValue returns the schema of a string field with its rules.
func (b *builder) stringValue(fd protoreflect.FieldDescriptor, r *fieldRules) (map[string]any, []string) {
	s := map[string]any{"type": "string"}
	var patterns []string
	var notes []string
	if p, form := lexicalForm(fd); p != "" {
		patterns, notes = append(patterns, p), append(notes, form)
	}
	if !b.input || r == nil {
		if len(patterns) > 0 {
			s["pattern"] = patterns[0]
		}
		return s, notes
	}
	var nots []map[string]any
	sr := r.fr.GetString()
	if sr != nil {
		if sr.HasConst() {
			s["const"] = sr.GetConst()
		}
		if sr.HasMinLen() {
			s["minLength"] = sr.GetMinLen()
		}
		if sr.HasMaxLen() {
			s["maxLength"] = sr.GetMaxLen()
		}
		if sr.HasLen() {
			s["minLength"], s["maxLength"] = sr.GetLen(), sr.GetLen()
		}
		if sr.HasPattern() {
			if p, ok := portablePattern(sr.GetPattern()); ok {
				patterns = append(patterns, p)
			} else {
				notes = append(notes, fmt.Sprintf("Must match the regular expression %s (RE2 syntax).", sr.GetPattern()))
			}
		}
		if sr.HasPrefix() {
			patterns = append(patterns, "^"+literalPattern(sr.GetPrefix()))
		}
		if sr.HasSuffix() {
			patterns = append(patterns, literalPattern(sr.GetSuffix())+"$")
		}
		if sr.HasContains() {
			patterns = append(patterns, literalPattern(sr.GetContains()))
		}
		if sr.HasNotContains() {
			nots = append(nots, map[string]any{"pattern": literalPattern(sr.GetNotContains())})
		}
		if in := sr.GetIn(); len(in) > 0 {
			s["enum"] = in
		}
		if notIn := sr.GetNotIn(); len(notIn) > 0 {
			nots = append(nots, map[string]any{"enum": notIn})
		}
		if sr.HasLenBytes() {
			notes = append(notes, fmt.Sprintf("Must be exactly %d bytes long in UTF-8.", sr.GetLenBytes()))
		}
		if sr.HasMinBytes() {
			notes = append(notes, fmt.Sprintf("Must be at least %d bytes long in UTF-8.", sr.GetMinBytes()))
		}
		if sr.HasMaxBytes() {
			notes = append(notes, fmt.Sprintf("Must be at most %d bytes long in UTF-8.", sr.GetMaxBytes()))
		}
		handled := []string{"const", "min_len", "max_len", "len", "pattern", "prefix", "suffix", "contains",
			"not_contains", "in", "not_in", "len_bytes", "min_bytes", "max_bytes"}
		well := wellKnownString(sr.ProtoReflect())
		if well != "" {
			format, wellPatterns, note := stringFormat(well, sr.GetStrict())
			switch {
			case format == "ip":
				s["anyOf"] = []any{map[string]any{"format": "ipv4"}, map[string]any{"format": "ipv6"}}
			case format != "":
				s["format"] = format
			}
			patterns = append(patterns, wellPatterns...)
			if note != "" {
				notes = append(notes, note)
			}
			handled = append(handled, well, "strict")
		}
		notes = append(notes, r.leftover(handled...)...)
	}
	if r.required() && !fd.HasPresence() {
		if n, _ := s["minLength"].(uint64); n < 1 {
			s["minLength"] = uint64(1)
		}
	}
	switch len(patterns) {
	case 0:
	case 1:
		s["pattern"] = patterns[0]
	default:
		s["pattern"] = patterns[0]
		var all []any
		for _, p := range patterns[1:] {
			all = append(all, map[string]any{"pattern": p})
		}
		s["allOf"] = all
	}
	for _, n := range nots {
		addNot(s, n)
	}
	notes = append(notes, r.celText()...)
	return b.ignoreIfZero(s, r, map[string]any{"const": ""}), notes
}

// lexicalForm returns the pattern and the description of a string field (or StringValue, or
// repeated string) that keeps an XSD type's lexical form (xsd_type): the XML codec refuses a
// request value outside it, and a reply value outside it never reaches the caller. A field
// without presence may also be "", its zero value, which the codec takes as "not given" and
// leaves out of the request.
func lexicalForm(fd protoreflect.FieldDescriptor) (pattern, form string) {
	t, ok := xmlcodec.FieldXSDType(fd)
	if !ok {
		return "", ""
	}
	if !fd.HasPresence() && !fd.IsList() {
		return "^$|" + t.Pattern, t.Form
	}
	return t.Pattern, t.Form
}

// withLexicalForm adds fd's lexical pattern to the schema s of a wrapper's value, whose
// scalar schema is written from the wrapper's own field and so cannot see fd's options.
func withLexicalForm(s map[string]any, notes []string, fd protoreflect.FieldDescriptor) (map[string]any, []string) {
	p, form := lexicalForm(fd)
	if p == "" {
		return s, notes
	}
	if _, has := s["pattern"]; !has {
		s["pattern"] = p
	} else {
		all, _ := s["allOf"].([]any)
		s["allOf"] = append(all, map[string]any{"pattern": p})
	}
	return s, append(notes, form)
}

// wellKnownString returns the name of the well-known format rule set in string rules, or "".
func wellKnownString(m protoreflect.Message) string {
	od := m.Descriptor().Oneofs().ByName("well_known")
	if od == nil {
		return ""
	}
	if fd := m.WhichOneof(od); fd != nil {
		if fd.Kind() == protoreflect.BoolKind && !m.Get(fd).Bool() {
			return ""
		}
		return string(fd.Name())
	}
	return ""
}

// stringFormat maps a protovalidate string format to a JSON Schema format that ajv-formats
// knows, patterns that check it where both engines can, and a sentence for what neither can.
func stringFormat(rule string, strict bool) (format string, patterns []string, note string) {
	switch rule {
	case "email":
		return "email", []string{emailPattern}, ""
	case "hostname":
		return "hostname", []string{hostnameLabels, hostnameLength, hostnameLastWord}, ""
	case "ip":
		return "ip", nil, ""
	case "ipv4":
		return "ipv4", []string{ipv4Pattern}, ""
	case "ipv6":
		return "ipv6", nil, ""
	case "uri":
		return "uri", nil, ""
	case "uuid":
		return "uuid", []string{uuidPattern}, ""
	case "tuuid":
		return "", []string{tuuidPattern}, ""
	case "ulid":
		return "", []string{ulidPattern}, ""
	case "uri_ref":
		return "", nil, "Must be a URI reference (RFC 3986): an absolute URI or a relative reference."
	case "address":
		return "", nil, "Must be a host name or an IP address."
	case "ip_with_prefixlen":
		return "", nil, "Must be an IP address with a prefix length, such as 192.168.0.1/24."
	case "ipv4_with_prefixlen":
		return "", nil, "Must be an IPv4 address with a prefix length, such as 192.168.0.1/24."
	case "ipv6_with_prefixlen":
		return "", nil, "Must be an IPv6 address with a prefix length, such as 2001:db8::1/64."
	case "ip_prefix":
		return "", nil, "Must be an IP prefix with zero host bits, such as 192.168.0.0/24."
	case "ipv4_prefix":
		return "", nil, "Must be an IPv4 prefix with zero host bits, such as 192.168.0.0/24."
	case "ipv6_prefix":
		return "", nil, "Must be an IPv6 prefix with zero host bits, such as 2001:db8::/64."
	case "host_and_port":
		return "", nil, "Must be a host (a host name, an IPv4 address or an IPv6 address in brackets) and a port, such as example.com:8080."
	case "protobuf_fqn":
		return "", nil, "Must be a fully-qualified protobuf name, such as buf.validate.FieldRules."
	case "protobuf_dot_fqn":
		return "", nil, "Must be a fully-qualified protobuf name with a leading dot, such as .buf.validate.FieldRules."
	case "well_known_regex":
		if strict {
			return "", nil, "Must be a valid HTTP header name or value (RFC 7230)."
		}
		return "", nil, "Must be an HTTP header name or value without NUL, CR or LF characters."
	}
	return "", nil, "Must be a valid " + strings.ReplaceAll(rule, "_", " ") + "."
}

// bytesRuleText states bytes rules, which apply to the decoded bytes and so cannot be checked
// on their base64 text.
func bytesRuleText(r *fieldRules) []string {
	br := r.fr.GetBytes()
	if br == nil {
		return nil
	}
	var out []string
	if br.HasLen() {
		out = append(out, fmt.Sprintf("Must decode to exactly %s.", bytesCount(br.GetLen())))
	}
	if br.HasMinLen() {
		out = append(out, fmt.Sprintf("Must decode to at least %s.", bytesCount(br.GetMinLen())))
	}
	if br.HasMaxLen() {
		out = append(out, fmt.Sprintf("Must decode to at most %s.", bytesCount(br.GetMaxLen())))
	}
	if br.HasPattern() {
		out = append(out, fmt.Sprintf("Must decode to UTF-8 text matching the regular expression %s (RE2 syntax).", br.GetPattern()))
	}
	if br.GetIp() {
		out = append(out, "Must decode to an IP address in 4 or 16 bytes.")
	}
	if br.GetIpv4() {
		out = append(out, "Must decode to an IPv4 address in 4 bytes.")
	}
	if br.GetIpv6() {
		out = append(out, "Must decode to an IPv6 address in 16 bytes.")
	}
	if br.GetUuid() {
		out = append(out, "Must decode to a UUID in 16 bytes.")
	}
	return append(out, r.leftover("len", "min_len", "max_len", "pattern", "ip", "ipv4", "ipv6", "uuid")...)
}

func bytesCount(n uint64) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}
