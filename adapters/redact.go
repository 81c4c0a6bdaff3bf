package adapters

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Redactor hides from backend text (fault strings, details, error causes) what an agent must not
// see: the backend's endpoint and the credentials configured for it, and the internal addresses
// a legacy system tends to print (JDBC URLs, internal host names, private IP addresses). A fault
// that echoes the request's headers would otherwise hand the API key and the Basic
// Authorization value to the caller.
type Redactor struct {
	secrets *strings.Replacer
	creds   *Credentials // for the OAuth2 bearer token, which changes while serving
}

// Placeholders that replace what a Redactor hides.
const (
	RedactedEndpoint = "[endpoint]"
	RedactedSecret   = "[redacted]"
	RedactedInternal = "[internal address]"
)

// minSecret is the shortest configured value hidden wherever it appears: shorter ones would
// match ordinary words.
const minSecret = 6

// NewRedactor hides b's endpoint in all its spellings, the user name and password it carries,
// its query, and the value of every configured header (for an Authorization header, also its
// credentials and, for Basic, what they decode to), and every value in extra (resolved
// credentials; see Transport.Redactor).
func NewRedactor(b Backend, extra ...string) *Redactor {
	type pair struct{ old, new string }
	var pairs []pair
	seen := map[string]bool{}
	add := func(old, new string) {
		if old == "" || seen[old] {
			return
		}
		seen[old] = true
		pairs = append(pairs, pair{old, new})
	}
	secret := func(v string) {
		if len(v) >= minSecret {
			add(v, RedactedSecret)
		}
	}
	add(b.Endpoint, RedactedEndpoint)
	if u, err := url.Parse(b.Endpoint); err == nil && u.Host != "" {
		bare := *u
		bare.User = nil
		add(bare.String(), RedactedEndpoint)
		bare.RawQuery, bare.ForceQuery, bare.Fragment, bare.RawFragment = "", false, "", ""
		add(bare.String(), RedactedEndpoint)
		add(strings.TrimSuffix(bare.String(), "/"), RedactedEndpoint)
		add(u.Scheme+"://"+u.Host, RedactedEndpoint)
		if u.User != nil {
			pw, _ := u.User.Password()
			secret(pw)
			secret(u.User.String())
			userpass := u.User.Username() + ":" + pw
			secret(base64.StdEncoding.EncodeToString([]byte(userpass))) // what Basic auth sends
		}
		secret(u.RawQuery)
		for _, vs := range u.Query() {
			for _, v := range vs {
				secret(v)
			}
		}
	}
	for _, v := range b.Headers {
		secret(v)
		scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok {
			continue
		}
		secret(cred)
		if strings.EqualFold(scheme, "basic") {
			if raw, err := base64.StdEncoding.DecodeString(cred); err == nil {
				secret(string(raw))
				if _, pw, ok := strings.Cut(string(raw), ":"); ok {
					secret(pw)
				}
			}
		}
	}
	for _, v := range extra {
		secret(v)
	}
	// Longest first, so a secret inside a longer one does not leave the rest showing.
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i].old) > len(pairs[j].old) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.old, p.new)
	}
	return &Redactor{secrets: strings.NewReplacer(args...)}
}

// Replace returns s with the backend's secrets and internal addresses hidden. A nil Redactor
// hides only internal addresses.
func (r *Redactor) Replace(s string) string {
	if r != nil {
		s = r.secrets.Replace(s)
		if tok := r.creds.currentToken(); len(tok) >= minSecret {
			s = strings.ReplaceAll(s, tok, RedactedSecret)
		}
	}
	return internalAddresses.ReplaceAllString(s, RedactedInternal)
}

// internalAddresses matches what names the inside of a network: JDBC and other database URLs,
// URLs and host names under internal-only domains, and private or loopback IPv4 addresses
// (with a port, when there is one).
var internalAddresses = regexp.MustCompile(`(?i)` +
	`\bjdbc:[a-z0-9]+:[^\s"'<>]+` +
	`|\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|ldaps?|amqps?|oracle|sqlserver)://[^\s"'<>]+` +
	`|\b(?:[a-z0-9-]+\.)+(?:internal|local|localdomain|corp|lan|intranet|intra|home\.arpa)\b(?::\d+)?` +
	`|\b(?:10(?:\.\d{1,3}){3}|192\.168(?:\.\d{1,3}){2}|172\.(?:1[6-9]|2\d|3[01])(?:\.\d{1,3}){2}|127(?:\.\d{1,3}){3})\b(?::\d+)?`)
