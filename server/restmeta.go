package server

import (
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// restMetadata returns a REST call's incoming metadata and the timeout its grpc-timeout header
// asks for (0 for none). The metadata is what grpc-gateway's AnnotateContext puts in the
// outgoing context for agentbridge's REST mux, whose incoming header matcher is
// restHeaderToMetadata and which has no metadata annotators:
//   - every Authorization value under "authorization", first;
//   - each header the matcher passes, under the name it gives, with -bin values base64-decoded;
//   - x-forwarded-host: the X-Forwarded-Host header, else the request's Host;
//   - x-forwarded-for: the X-Forwarded-For values, then the client's address.
//
// It is built directly, without the gateway's context values, its map of pairs and the two
// copies (Join, then FromOutgoingContext) a call paid for; TestRESTMetadataAsGateway compares
// it with AnnotateContext's on random requests. A header the gateway would skip (a name that
// is not a metadata key, a value that is not printable ASCII, a name the matcher turns into
// x-forwarded-*) is reported to skipped with why, never dropped without a word.
func restMetadata(req *http.Request, skipped func(header, why string)) (metadata.MD, time.Duration, error) {
	var timeout time.Duration
	if tm := req.Header.Get("Grpc-Timeout"); tm != "" {
		var err error
		if timeout, err = decodeTimeout(tm); err != nil {
			return nil, 0, status.Errorf(codes.InvalidArgument, "invalid grpc-timeout: %s", tm)
		}
	}
	md := make(metadata.MD, len(req.Header)+2)
	for _, v := range req.Header.Values("Authorization") {
		if printableASCII(v) {
			md["authorization"] = append(md["authorization"], v)
		}
	}
	for key, vals := range req.Header {
		key = textproto.CanonicalMIMEHeaderKey(key)
		if key == "X-Forwarded-For" || key == "X-Forwarded-Host" {
			continue // set below from the request
		}
		name, ok := restHeaderToMetadata(key)
		if !ok {
			continue
		}
		switch {
		case name == "x-forwarded-for" || name == "x-forwarded-host":
			skipped(key, "it would name the gateway's own "+name)
			continue
		case !metadataKey(name):
			skipped(key, "it is not a valid gRPC metadata name")
			continue
		}
		bin := strings.HasSuffix(key, "-Bin")
		for _, v := range vals {
			if bin {
				b, err := decodeBin(v)
				if err != nil {
					return nil, 0, status.Errorf(codes.InvalidArgument, "invalid binary header %s: %s", key, err)
				}
				v = string(b)
			} else if !printableASCII(v) {
				skipped(key, "its value is not printable ASCII")
				continue
			}
			md[name] = append(md[name], v)
		}
	}
	host := req.Header.Get("X-Forwarded-Host")
	if host != "" && !printableASCII(host) {
		skipped("X-Forwarded-Host", "its value is not printable ASCII")
		host = ""
	}
	if host == "" && printableASCII(req.Host) {
		host = req.Host
	}
	if host != "" {
		md["x-forwarded-host"] = []string{host}
	}
	var xff []string
	for _, v := range req.Header.Values("X-Forwarded-For") {
		if !printableASCII(v) {
			skipped("X-Forwarded-For", "its value is not printable ASCII")
			continue
		}
		xff = append(xff, v)
	}
	if ip, _, err := net.SplitHostPort(req.RemoteAddr); err == nil && printableASCII(ip) {
		xff = append(xff, ip)
	}
	if len(xff) > 0 {
		md["x-forwarded-for"] = []string{strings.Join(xff, ", ")}
	}
	return md, timeout, nil
}

// metadataKey reports whether k is a gRPC header name (0-9 a-z _ - ., upper case accepted as
// clients lower it), as the gateway checks.
func metadataKey(k string) bool {
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// printableASCII reports whether v is a gRPC ASCII value: bytes 0x20 to 0x7E.
func printableASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7E {
			return false
		}
	}
	return true
}

// decodeBin decodes a -bin header's value, padded or not.
func decodeBin(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// decodeTimeout reads a grpc-timeout value: digits and a unit (H, M, S, m, u, n). A timeout
// too large for a time.Duration is the largest one.
func decodeTimeout(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("timeout string is too short: %q", s)
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, fmt.Errorf("timeout unit is not recognized: %q", s)
	}
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 64)
	if err != nil {
		return 0, err
	}
	if n > uint64(math.MaxInt64)/uint64(unit) {
		return time.Duration(math.MaxInt64), nil
	}
	return unit * time.Duration(n), nil
}
